/**
 * The accept side of a registered agent: it answers the look-ups the node
 * forwards (`RL0` with its features while it has room for another
 * conversation, `RL1` past `maxChats`), and accepts conversations and group
 * links, which it hands to the {@linkcode Switchboard} once their handshake is
 * over. Incoming connections go through an admission gate (`admission.ts`): a
 * handshake budget of their own that never counts towards `maxChats`. A
 * caller that sent its nickname is shown at once, but its conversation counts
 * as one of `maxChats` only once a line has passed either way; until then it
 * holds a slot of a second, equally bounded budget ("quiet" conversations),
 * where newer callers push out the oldest. So connections that send a
 * nickname and then nothing (or nothing at all) never make the agent busy for
 * real callers. Everything it does is reported through the UI with the
 * stable texts of `../terminal/texts.ts`.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { LookupRequest, PlumiMessage } from "../../plumi/messages.ts";
import type { StreamConn, StreamListener } from "../../transport/tcp.ts";
import { closeOnAbort } from "../abort.ts";
import { sameAddress } from "../addresses.ts";
import { describeError } from "../errors.ts";
import type { PlumiClient } from "../node/client.ts";
import { report, say } from "../terminal/texts.ts";
import type { AgentUi } from "../terminal/ui.ts";
import { Admission } from "./admission.ts";
import { Conversation } from "./conversation.ts";
import { PROBE_NAME } from "./dialer.ts";
import { availableReply, featureFields } from "./features.ts";
import type { Keyring } from "./keyring.ts";
import { KeyChangedError, KeyDisownedError } from "./secure.ts";
import { ORIGINAL_PACE_MS } from "./pmi_link.ts";
import type { Switchboard } from "./switchboard.ts";
import type { RelayOffer } from "../../plumi/extensions/mod.ts";
import { relayCallText } from "../terminal/texts.ts";
import type { AgentRelay } from "./relay_call.ts";

/**
 * How long an `RL0` answer is remembered to name the caller whose connection
 * follows, ms: a caller connects at once (within its 5 s connect timeout).
 */
const OFFER_TTL_MS = 15_000;
/** At most this many `RL0` answers are remembered. */
const MAX_OFFERS = 64;

/** Options of {@linkcode Reception}. The limits are those of `AgentOptions`, defaults applied. */
export interface ReceptionOptions {
  /** Our @MI address. */
  readonly address: string;
  /** Our nickname. */
  readonly nick: string;
  /** The PLUMI client, registered with the node: look-up answers go through it. */
  readonly client: PlumiClient;
  /** Where peers connect for conversations; the reception closes it. */
  readonly listener: StreamListener;
  /** Where members connect for group links (none: groups are off); the reception closes it. */
  readonly groupListener?: StreamListener;
  /** The @sckMI advertised in `RL0`. */
  readonly advertised: Endpoint;
  /** The command side, which takes over every conversation and group link answered. */
  readonly switchboard: Switchboard;
  /** Where everything is shown. */
  readonly ui: AgentUi;
  /** Timers and the time of look-up answers. */
  readonly clock: Clock;
  /** A handshake must be over within this many ms. */
  readonly nickTimeoutMs: number;
  /** A frame must be complete within this many ms of its first byte. */
  readonly frameTimeoutMs: number;
  /** Most bytes waiting to be written to one peer. */
  readonly maxQueuedBytes: number;
  /** Most conversations at once (`--max-chats`). */
  readonly maxChats: number;
  /** Most members of a group (`--max-group-size`). */
  readonly maxGroupSize: number;
  /** Most incoming connections being set up at once (`--max-handshakes`). */
  readonly maxPendingHandshakes: number;
  /** The same, from one IP (`--max-handshakes-per-ip`). */
  readonly maxPendingPerIp: number;
  /** After a refusal is printed, more within this many ms are only counted. */
  readonly refusalReportMs: number;
  /** Meets callers at the node's relay when the node offers it. Default: offers are ignored. */
  readonly relay?: AgentRelay;
  /** Our identity and the pinned keys: callers that can are answered encrypted. Default: none. */
  readonly keyring?: Keyring;
  /** Refuse conversations in clear (`--require-encryption`). Default: false. */
  readonly requireEncryption?: boolean;
  /** How long a callee waits for a caller's first encrypted-handshake frame, ms. Default: 400. */
  readonly secureGraceMs?: number;
  /** The key our node vouches for an address, checked at first contact. Default: none. */
  readonly vouch?: (address: string) => Promise<Uint8Array | undefined>;
}

/** The accept side of the agent between registration and deregistration. */
export class Reception {
  readonly #o: ReceptionOptions;
  readonly #admission: Admission;
  /** Conversations that got past the nicknames but where no line has passed yet. */
  readonly #quiet: Admission;
  /** Incoming conversations whose nicknames are being exchanged. */
  #answering = 0;
  #offers: Array<{ address: string; at: number }> = [];
  #loops: Promise<void>[] = [];
  readonly #tasks = new Set<Promise<void>>();
  #closed = false;
  /** Aborts when the reception closes: handshakes in progress give up. */
  readonly #stop = new AbortController();

  /** A reception for `options`; it accepts nothing before {@linkcode Reception.start}. */
  constructor(options: ReceptionOptions) {
    this.#o = options;
    // Handshakes in progress, and quiet conversations (no line yet): two budgets, one rule.
    const budget = {
      maxPending: options.maxPendingHandshakes,
      maxPendingPerIp: options.maxPendingPerIp,
      clock: options.clock,
      reportMs: options.refusalReportMs,
      print: (text: string) => options.ui.warn(text),
      summary: say.refusedMore,
    };
    this.#admission = new Admission(budget);
    this.#quiet = new Admission(budget);
  }

  /** Start accepting conversations and group links (idempotent). */
  start(): void {
    if (this.#loops.length > 0) return;
    this.#loops.push(this.#acceptLoop(this.#o.listener, (conn, release, cut) => {
      return this.#answer(conn, release, cut);
    }));
    const { groupListener, switchboard } = this.#o;
    if (groupListener && switchboard.groupEndpoint) {
      this.#loops.push(this.#acceptLoop(groupListener, async (conn, release, cut) => {
        const unwatch = closeOnAbort(conn, this.#stop.signal);
        try {
          await switchboard.acceptGroupLink(conn, (address) => this.#forget(address));
        } catch (error) {
          if (!this.#closed && !cut()) {
            this.#o.ui.warn(say.incomingFailed(remoteOf(conn), describeError(error)));
          }
        } finally {
          unwatch();
          release();
        }
      }));
    }
  }

  /** Answer a look-up the node forwarded; `false` if it was not for us. */
  handleLookup(request: LookupRequest, from: Endpoint): boolean {
    if (!sameAddress(request.to, this.#o.address) || this.#closed) return false;
    let reply: PlumiMessage;
    if (this.#o.switchboard.busy) {
      reply = { kind: "lookup-reply", code: 1, from: request.from, to: request.to, extra: [] };
      // A node probing whether this agent is alive is not a caller.
      if (!request.from.startsWith(`${PROBE_NAME}@`)) this.#o.ui.info(say.missedCall(request.from));
    } else {
      reply = availableReply(
        request.from,
        request.to,
        this.#o.advertised,
        featureFields(this.#o.switchboard.groupEndpoint?.port, this.#o.keyring !== undefined),
      );
      const now = this.#o.clock.now();
      this.#offers = this.#offers.filter((o) => now - o.at < OFFER_TTL_MS).slice(-MAX_OFFERS + 1);
      this.#offers.push({ address: request.from, at: now });
    }
    void this.#o.client.send(reply, from);
    return true;
  }

  /**
   * The node offers to meet a caller at its relay (the caller could not
   * connect directly): connect out to it, then answer as any incoming
   * conversation, through the same admission. `false` if not taken.
   */
  acceptRelayed(offer: RelayOffer): boolean {
    const relay = this.#o.relay;
    if (!relay || this.#closed || !sameAddress(offer.callee, this.#o.address)) return false;
    if (this.#o.switchboard.busy) {
      this.#o.ui.info(say.missedCall(offer.caller));
      return true;
    }
    this.#o.ui.info(relayCallText.incoming(offer.caller));
    this.#forget(offer.caller); // its look-up names no other connection
    this.#track((async () => {
      let conn: StreamConn;
      try {
        conn = await relay.answer(offer, this.#stop.signal);
      } catch (error) {
        if (!this.#closed) {
          this.#o.ui.warn(relayCallText.incomingFailed(offer.caller, describeError(error)));
        }
        return;
      }
      const remote = remoteOf(conn);
      let cut = false;
      const release = this.#admission.admit(remote.ip, this.#o.maxPendingPerIp, () => {
        cut = true;
        closeQuietly(conn);
        this.#admission.refused(report.handshakeCut(remote));
      });
      if (typeof release === "string" || this.#closed) {
        closeQuietly(conn);
        if (typeof release === "string") this.#admission.refused(say.refused(remote, release));
        return;
      }
      await this.#answer(conn, release, () => cut, offer.caller);
    })());
    return true;
  }

  /**
   * Stop accepting: close the listeners, cut the handshakes in progress, and
   * print the refusals still counted. The conversations already handed over
   * stay open: closing them is the {@linkcode Switchboard}'s.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#o.listener.close();
    this.#o.groupListener?.close();
    this.#admission.close();
    this.#quiet.close();
    await Promise.all(this.#loops);
    await Promise.all([...this.#tasks]);
  }

  /** A member linked with us through a group: its look-up names no caller. */
  #forget(address: string): void {
    this.#offers = this.#offers.filter((o) => !sameAddress(o.address, address));
  }

  async #acceptLoop(
    listener: StreamListener,
    handle: (conn: StreamConn, release: () => void, cut: () => boolean) => Promise<void>,
  ): Promise<void> {
    const conversations = listener === this.#o.listener;
    // Members behind one address (a NAT, a test on loopback) may all link with a newcomer at
    // once: on the group port, one IP may set up as many links as a group has members.
    const perIp = conversations
      ? this.#o.maxPendingPerIp
      : Math.max(this.#o.maxPendingPerIp, this.#o.maxGroupSize);
    try {
      for await (const conn of listener) {
        if (this.#closed) {
          closeQuietly(conn);
          break;
        }
        const remote = remoteOf(conn);
        let cut = false;
        const release = this.#admission.admit(remote.ip, perIp, () => {
          cut = true;
          closeQuietly(conn);
          this.#admission.refused(report.handshakeCut(remote));
        });
        if (typeof release === "string") {
          closeQuietly(conn);
          this.#admission.refused(say.refused(remote, release));
          continue;
        }
        if (conversations && this.#o.switchboard.busy) {
          release();
          closeQuietly(conn);
          this.#admission.refused(say.refusedBusy(remote, this.#o.maxChats));
          continue;
        }
        this.#track(handle(conn, release, () => cut));
      }
    } catch {
      // the listener was closed
    }
  }

  async #answer(
    conn: StreamConn,
    release: () => void,
    cut: () => boolean,
    caller?: string,
  ): Promise<void> {
    const { ui } = this.#o;
    const remote = remoteOf(conn);
    const unwatch = closeOnAbort(conn, this.#stop.signal);
    this.#answering++;
    let answering = true;
    const answered = () => {
      if (answering) this.#answering--;
      answering = false;
    };
    let pushedOut = false;
    /** The quiet-budget slot, once the nicknames are in. */
    const quiet: { release?: () => void } = {};
    try {
      const conversation = await Conversation.open({
        conn,
        role: "callee",
        nick: this.#o.nick,
        clock: this.#o.clock,
        nickTimeoutMs: this.#o.nickTimeoutMs,
        frameTimeoutMs: this.#o.frameTimeoutMs,
        maxQueuedBytes: this.#o.maxQueuedBytes,
        // The caller may be an original agent: nothing in PMI tells.
        paceMs: ORIGINAL_PACE_MS,
        ...(this.#o.keyring && {
          secure: {
            keyring: this.#o.keyring,
            graceMs: this.#o.secureGraceMs,
            require: this.#o.requireEncryption,
            vouch: this.#o.vouch,
            receipts: this.#o.switchboard.receipts,
          },
        }),
        // The nicknames are in: the handshake slot goes back, and the conversation is quiet
        // (its encrypted handshake included) until a line.
        onNicks: (peerNick: string) => {
          answered();
          release();
          const slot = this.#quiet.admit(remote.ip, this.#o.maxPendingPerIp, () => {
            pushedOut = true;
            closeQuietly(conn);
            this.#quiet.refused(report.quietCut(remote, peerNick));
          });
          quiet.release = typeof slot === "string" ? () => {} : slot;
        },
      });
      if (this.#closed || pushedOut) {
        conversation.close();
        quiet.release?.();
        return;
      }
      // A caller met at the relay was named by the node; any other, as far as look-ups tell.
      const offer = caller === undefined ? this.#takeOffer() : { announced: true, address: caller };
      const security = conversation.security;
      // An encrypted caller is named by the address its key proved, never by the node's word.
      const address = security.kind === "encrypted" ? security.peerAddress : offer.address;
      this.#o.switchboard.receive(conversation, {
        address,
        announced: offer.announced,
        release: quiet.release ?? (() => {}),
        pushedOut: () => pushedOut,
        endedSilent: (why) => {
          // A stranger that never said anything: reported in bursts, like refused connections.
          if (!pushedOut && !this.#closed) this.#quiet.refused(say.incomingFailed(remote, why));
        },
      });
    } catch (error) {
      quiet.release?.();
      if (error instanceof KeyChangedError || error instanceof KeyDisownedError) {
        ui.warn(error.message);
      }
      if (!this.#closed && !cut() && !pushedOut) {
        ui.warn(say.incomingFailed(remote, describeError(error)));
      }
    } finally {
      answered();
      unwatch();
      release();
    }
  }

  /**
   * Who the caller whose nicknames just came is, as far as the node told:
   * `announced` when a look-up came through the node before (a real caller
   * always looks us up first); its `address` only when no other connection
   * is being set up at the same time, so that a stranger's connection
   * between a caller's look-up and its connection cannot take its name.
   */
  #takeOffer(): { announced: boolean; address?: string } {
    const now = this.#o.clock.now();
    this.#offers = this.#offers.filter((o) => now - o.at < OFFER_TTL_MS);
    const offer = this.#offers.shift();
    if (!offer) return { announced: false };
    const alone = this.#answering === 0;
    return alone ? { announced: true, address: offer.address } : { announced: true };
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}

function remoteOf(conn: StreamConn): Endpoint {
  const addr = conn.remoteAddr;
  return "hostname" in addr ? { ip: addr.hostname, port: addr.port } : { ip: "?", port: 0 };
}

function closeQuietly(conn: StreamConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
