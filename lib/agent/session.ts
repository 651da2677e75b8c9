/**
 * A registered agent at work: it answers look-ups (`RL0` while free, `RL1`
 * while busy), accepts conversations, places calls, and keeps the one
 * conversation the original protocol allows. Everything it does is reported
 * through the UI with the stable texts of `messages.ts`.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { type Endpoint, formatEndpoint, normalizeDomain } from "../plumi/address.ts";
import type { LookupRequest, PlumiMessage } from "../plumi/messages.ts";
import { PmiStreamError } from "../pmi/decoder.ts";
import type { StreamConn, StreamListener } from "../transport/tcp.ts";
import { Conversation, type ConversationEnd } from "./conversation.ts";
import { closeOnAbort, unlessAborted } from "./abort.ts";
import { AbortedError, describeError, NodeSilentError } from "./errors.ts";
import { say } from "./messages.ts";
import type { PlumiClient } from "./plumi_client.ts";
import { type AgentUi, sanitize } from "./ui.ts";

/** How long an `RL0` answer is remembered to name the caller whose connection follows, ms. */
const OFFER_TTL_MS = 60_000;

/** Options of {@linkcode Session}. */
export interface SessionOptions {
  /** Our @MI address. */
  readonly address: string;
  /** Our nickname. */
  readonly nick: string;
  /** The PLUMI client, registered with the node. */
  readonly client: PlumiClient;
  /** Where peers connect; the session closes it. */
  readonly listener: StreamListener;
  /** The @sckMI advertised in `RL0`. */
  readonly advertised: Endpoint;
  /** Opens outgoing conversations. */
  readonly connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn>;
  readonly ui: AgentUi;
  readonly clock: Clock;
  /** See {@linkcode AgentOptions.nickTimeoutMs}. */
  readonly nickTimeoutMs: number;
  /** See {@linkcode AgentOptions.connectTimeoutMs}. */
  readonly connectTimeoutMs: number;
}

/** Are two @MI addresses the same user (the domain compared case-insensitively)? */
export function sameAddress(a: string, b: string): boolean {
  const at = a.indexOf("@");
  const bt = b.indexOf("@");
  return at >= 0 && bt >= 0 && a.slice(0, at) === b.slice(0, bt) &&
    normalizeDomain(a.slice(at + 1)) === normalizeDomain(b.slice(bt + 1));
}

type State = "idle" | "calling" | "answering" | "talking";

interface Talk {
  readonly conversation: Conversation;
  readonly address: string | undefined;
  ended: Promise<void>;
}

/** The agent between registration and deregistration. */
export class Session {
  readonly #o: SessionOptions;
  #state: State = "idle";
  #talk: Talk | undefined;
  #offers: Array<{ address: string; at: number }> = [];
  #changed: Array<() => void> = [];
  #accepting: Promise<void> | undefined;
  #closed = false;
  /** Aborts when the session closes: calls and handshakes in progress give up. */
  readonly #stop = new AbortController();

  constructor(options: SessionOptions) {
    this.#o = options;
  }

  /** Start accepting conversations (idempotent). */
  start(): void {
    this.#accepting ??= this.#acceptLoop();
  }

  /** Whether a conversation is open. */
  get talking(): boolean {
    return this.#state === "talking";
  }

  /** Whether the agent would answer a look-up with `RL1`. */
  get busy(): boolean {
    return this.#state !== "idle";
  }

  /** Answer a look-up the node forwarded; `false` if it was not for us. */
  handleLookup(request: LookupRequest, from: Endpoint): boolean {
    if (!sameAddress(request.to, this.#o.address) || this.#closed) return false;
    const base = { kind: "lookup-reply", from: request.from, to: request.to, extra: [] } as const;
    let reply: PlumiMessage;
    if (this.busy) {
      reply = { ...base, code: 1 };
      this.#o.ui.info(say.missedCall(request.from));
    } else {
      reply = { ...base, code: 0, endpoint: this.#o.advertised };
      const now = this.#o.clock.now();
      this.#offers = this.#offers.filter((o) => now - o.at < OFFER_TTL_MS);
      this.#offers.push({ address: request.from, at: now });
    }
    void this.#o.client.send(reply, from);
    return true;
  }

  /** Call `address`: look it up, connect, exchange nicknames; every outcome is reported. */
  async call(address: string, signal?: AbortSignal): Promise<void> {
    const { ui } = this.#o;
    if (!this.#checkFree()) return;
    if (sameAddress(address, this.#o.address)) {
      ui.warn(say.callFailed(address, "that is you"));
      return;
    }
    // Stop when the caller's signal aborts or the session closes.
    const stop = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
    this.#setState("calling");
    try {
      ui.info(say.calling(address));
      const endpoint = await this.#lookup(address, stop);
      if (!endpoint || stop.aborted) return;
      let conn: StreamConn | null;
      try {
        conn = await unlessAborted(this.#o.connect(endpoint, this.#o.connectTimeoutMs), stop);
      } catch (error) {
        ui.warn(say.callFailed(
          address,
          `no connection to ${formatEndpoint(endpoint)} (${describeError(error)})`,
        ));
        return;
      }
      if (conn === null) return;
      let conversation: Conversation;
      const release = closeOnAbort(conn, stop);
      try {
        conversation = await Conversation.open({
          conn,
          role: "caller",
          nick: this.#o.nick,
          clock: this.#o.clock,
          nickTimeoutMs: this.#o.nickTimeoutMs,
        });
      } catch (error) {
        if (!stop.aborted) ui.warn(say.callFailed(address, describeError(error)));
        return;
      } finally {
        release();
      }
      if (stop.aborted) {
        conversation.close();
        return;
      }
      ui.info(say.connected(conversation.peerNick, address));
      this.#begin(conversation, address);
    } finally {
      if (this.#state === "calling") this.#setState("idle");
    }
  }

  /** Send a line to the peer. */
  async send(text: string): Promise<void> {
    const talk = this.#talk;
    if (!talk) {
      this.#o.ui.warn(say.notInConversation());
      return;
    }
    try {
      await talk.conversation.send(text);
    } catch (error) {
      this.#o.ui.warn(say.sendFailed(describeError(error)));
      talk.conversation.close();
      await talk.ended;
    }
  }

  /** End the conversation from our side (`/exit`). */
  async hangUp(): Promise<void> {
    const talk = this.#talk;
    if (!talk) {
      this.#o.ui.warn(say.notInConversation());
      return;
    }
    talk.conversation.close();
    await talk.ended;
  }

  /**
   * `/wait`: when free, wait until a conversation starts; in a conversation,
   * wait until it ends. Returns early when `signal` aborts.
   */
  async wait(signal?: AbortSignal): Promise<void> {
    const talking = this.talking;
    if (!talking) this.#o.ui.info(say.waiting());
    while (this.talking === talking && !signal?.aborted && !this.#closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener("abort", done);
          resolve();
        };
        this.#changed.push(done);
        signal?.addEventListener("abort", done);
      });
    }
  }

  /** End any conversation and stop accepting new ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#o.listener.close();
    const talk = this.#talk;
    if (talk) {
      talk.conversation.close();
      await talk.ended;
    }
    this.#wake();
    await this.#accepting;
  }

  async #lookup(address: string, signal?: AbortSignal): Promise<Endpoint | undefined> {
    const { ui, client } = this.#o;
    const me = this.#o.address;
    let reply: PlumiMessage;
    try {
      reply = await client.request(
        { kind: "lookup", from: me, to: address },
        (m) => m.kind === "lookup-reply" && sameAddress(m.from, me) && sameAddress(m.to, address),
        signal,
      );
    } catch (error) {
      if (error instanceof NodeSilentError) ui.warn(say.callFailed(address, error.message));
      else if (!(error instanceof AbortedError)) throw error;
      return undefined;
    }
    if (reply.kind !== "lookup-reply") return undefined;
    switch (reply.code) {
      case 0:
        return reply.endpoint;
      case 1:
        ui.info(say.busy(address));
        return undefined;
      case 2:
        ui.info(say.noSuchUser(address));
        return undefined;
      case 3:
        ui.info(say.offline(address));
        return undefined;
    }
  }

  #checkFree(): boolean {
    const { ui } = this.#o;
    if (this.#state === "talking") {
      ui.warn(say.alreadyTalking(this.#talk!.conversation.peerNick));
      return false;
    }
    if (this.#state !== "idle") {
      ui.warn("A call is being set up: wait a moment");
      return false;
    }
    return true;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#o.listener) {
        if (this.#closed) {
          closeQuietly(conn);
          break;
        }
        if (this.busy) {
          this.#o.ui.info(say.refusedBusy(remoteOf(conn)));
          closeQuietly(conn);
          continue;
        }
        this.#setState("answering");
        void this.#answer(conn);
      }
    } catch {
      // the listener was closed
    }
  }

  async #answer(conn: StreamConn): Promise<void> {
    const { ui } = this.#o;
    const release = closeOnAbort(conn, this.#stop.signal);
    try {
      const conversation = await Conversation.open({
        conn,
        role: "callee",
        nick: this.#o.nick,
        clock: this.#o.clock,
        nickTimeoutMs: this.#o.nickTimeoutMs,
      });
      if (this.#closed) {
        conversation.close();
        return;
      }
      const address = this.#takeOffer();
      ui.info(say.incoming(conversation.peerNick, address));
      this.#begin(conversation, address);
    } catch (error) {
      if (!this.#closed) ui.warn(say.incomingFailed(remoteOf(conn), describeError(error)));
    } finally {
      release();
      if (this.#state === "answering") this.#setState("idle");
    }
  }

  #takeOffer(): string | undefined {
    const now = this.#o.clock.now();
    this.#offers = this.#offers.filter((o) => now - o.at < OFFER_TTL_MS);
    return this.#offers.pop()?.address;
  }

  #begin(conversation: Conversation, address: string | undefined): void {
    const { ui } = this.#o;
    const talk: Talk = { conversation, address, ended: Promise.resolve() };
    this.#talk = talk;
    this.#setState("talking");
    let shown = conversation.peerNick;
    talk.ended = conversation.run({
      onLine: (text) => ui.chat(conversation.peerNick, text),
      onNick: (nick) => {
        ui.info(say.nickChanged(shown, nick));
        shown = nick;
      },
    }).then((end) => {
      ui.info(say.ended(conversation.peerNick, explainEnd(end, conversation.peerNick)));
      this.#talk = undefined;
      this.#setState("idle");
    });
  }

  #setState(state: State): void {
    this.#state = state;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#changed.splice(0)) wake();
  }
}

/** Why a conversation ended, in words. */
export function explainEnd(end: ConversationEnd, peerNick: string): string {
  const nick = sanitize(peerNick);
  switch (end.reason) {
    case "local":
      return "you left";
    case "peer-closed":
      return `${nick} closed the connection`;
    case "error":
      return end.error instanceof PmiStreamError
        ? `bad data from ${nick}: ${end.error.message}`
        : `connection lost: ${describeError(end.error)}`;
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
