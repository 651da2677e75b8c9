/**
 * A registered agent at work: it answers look-ups (`RL0` with its features
 * while it has room for another conversation, `RL1` past `maxChats`), accepts
 * conversations and group links, places calls, and keeps the conversations
 * and groups open at once (`roster.ts`, `groups.ts`). Incoming connections go
 * through an admission gate (`admission.ts`): a handshake budget of their own
 * that never counts towards `maxChats`. A caller that sent its nickname is
 * shown at once, but its conversation counts as one of `maxChats` only once a
 * line has passed either way; until then it holds a slot of a second,
 * equally bounded budget ("quiet" conversations), where newer callers push
 * out the oldest. So connections that send a nickname and then nothing (or
 * nothing at all) never make the agent busy for real callers. Everything it
 * does is reported through the UI with the stable texts of `messages.ts`.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { LookupRequest, PlumiMessage } from "../../plumi/messages.ts";
import type { StreamConn, StreamListener } from "../../transport/tcp.ts";
import { closeOnAbort } from "../abort.ts";
import { Admission } from "./admission.ts";
import { sameAddress } from "../addresses.ts";
import { Conversation, explainEnd } from "./conversation.ts";
import { Dialer, type DomainCheck, PROBE_NAME } from "./dialer.ts";
import { describeError } from "../errors.ts";
import { availableReply, featureFields } from "./features.ts";
import type { GroupLinkTiming } from "../group/link.ts";
import { Groups } from "../group/groups.ts";
import { client, report, say } from "../terminal/texts.ts";
import { ORIGINAL_PACE_MS } from "./pmi_link.ts";
import type { PlumiClient } from "../node/client.ts";
import { type Chat, isChat, Roster, type Target } from "./roster.ts";
import type { AgentUi } from "../terminal/ui.ts";

export { explainEnd, sameAddress };

/**
 * How long an `RL0` answer is remembered to name the caller whose connection
 * follows, ms: a caller connects at once (within its 5 s connect timeout).
 */
const OFFER_TTL_MS = 15_000;
/** At most this many `RL0` answers are remembered. */
const MAX_OFFERS = 64;

/** Options of {@linkcode Session}. The limits are those of `AgentOptions`, defaults applied. */
export interface SessionOptions {
  /** Our @MI address. */
  readonly address: string;
  /** Our nickname, read each time it is needed (a getter may change it: `/nick`). */
  readonly nick: string;
  /** The PLUMI client, registered with the node. */
  readonly client: PlumiClient;
  /** Where peers connect for conversations; the session closes it. */
  readonly listener: StreamListener;
  /** Where members connect for group links (none: groups are off); the session closes it. */
  readonly groupListener?: StreamListener;
  /** The @sckMI advertised in `RL0`. */
  readonly advertised: Endpoint;
  /** Opens outgoing connections. */
  readonly connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn>;
  readonly ui: AgentUi;
  readonly clock: Clock;
  readonly nickTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly maxQueuedBytes: number;
  readonly maxChats: number;
  readonly maxGroups: number;
  readonly maxGroupSize: number;
  readonly groupIdleMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingPerIp: number;
  readonly refusalReportMs: number;
  /** Whether DNS knows a domain, to tell a missing domain from a missing user. Default: unknown. */
  readonly domainExists?: (domain: string) => Promise<DomainCheck>;
}

/** The agent between registration and deregistration. */
export class Session {
  readonly #o: SessionOptions;
  readonly #roster: Roster;
  readonly #admission: Admission;
  /** Conversations that got past the nicknames but where no line has passed yet. */
  readonly #quiet: Admission;
  /** Those quiet conversations, with the function that gives their slot back. */
  readonly #tentative = new Map<Chat, () => void>();
  readonly #dialer: Dialer;
  readonly #groups: Groups | undefined;
  readonly #groupEndpoint: Endpoint | undefined;
  readonly #timing: GroupLinkTiming;
  #calling = 0;
  /** Incoming conversations whose nicknames are being exchanged. */
  #answering = 0;
  #offers: Array<{ address: string; at: number }> = [];
  #changed: Array<() => void> = [];
  #loops: Promise<void>[] = [];
  readonly #tasks = new Set<Promise<void>>();
  #closed = false;
  /** Aborts when the session closes: calls and handshakes in progress give up. */
  readonly #stop = new AbortController();

  constructor(options: SessionOptions) {
    this.#o = options;
    this.#roster = new Roster((text) => options.ui.info(text), () => {
      options.ui.setPrompt(this.#roster.prompt(options.nick));
      options.ui.setTargets?.(this.#roster.current?.label, this.#roster.labels);
      this.#wake();
    });
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
    this.#timing = {
      clock: options.clock,
      nickTimeoutMs: options.nickTimeoutMs,
      frameTimeoutMs: options.frameTimeoutMs,
      maxQueuedBytes: options.maxQueuedBytes,
      idleMs: options.groupIdleMs,
    };
    this.#dialer = new Dialer({
      address: options.address,
      // Read when used: `/nick` changes it for the conversations that follow.
      get nick() {
        return options.nick;
      },
      client: options.client,
      connect: options.connect,
      connectTimeoutMs: options.connectTimeoutMs,
      ui: options.ui,
      timing: this.#timing,
      stop: this.#stop.signal,
      domainExists: options.domainExists,
    });
    if (options.groupListener) {
      this.#groupEndpoint = { ip: options.advertised.ip, port: options.groupListener.local.port };
      this.#groups = new Groups({
        me: {
          address: options.address,
          get nick() {
            return options.nick;
          },
          endpoint: this.#groupEndpoint,
        },
        ui: options.ui,
        clock: options.clock,
        roster: this.#roster,
        dialer: this.#dialer,
        timing: this.#timing,
        maxGroups: options.maxGroups,
        maxGroupSize: options.maxGroupSize,
        forget: (address) => {
          this.#offers = this.#offers.filter((o) => !sameAddress(o.address, address));
        },
      });
    }
  }

  /** Start accepting conversations and group links (idempotent). */
  start(): void {
    if (this.#loops.length > 0) return;
    this.#loops.push(this.#acceptLoop(this.#o.listener, (conn, release, cut) => {
      return this.#answer(conn, release, cut);
    }));
    const groups = this.#groups;
    if (this.#o.groupListener && groups) {
      this.#loops.push(this.#acceptLoop(this.#o.groupListener, async (conn, release, cut) => {
        const unwatch = closeOnAbort(conn, this.#stop.signal);
        try {
          await groups.answer(conn);
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

  /** The open conversations and groups (for the terminal client: `/whois`, completion). */
  get roster(): Roster {
    return this.#roster;
  }

  /** Whether typed lines go somewhere (a conversation or a group is current). */
  get talking(): boolean {
    return this.#roster.current !== undefined;
  }

  /**
   * Whether the agent would answer a look-up with `RL1`: no room for another
   * conversation. Handshakes and quiet conversations (no line yet) do not count.
   */
  get busy(): boolean {
    const talking = this.#roster.chats.filter((chat) => !this.#tentative.has(chat)).length;
    return talking + this.#calling >= this.#o.maxChats;
  }

  /** The group endpoint advertised as `g=`, when groups are on. */
  get groupEndpoint(): Endpoint | undefined {
    return this.#groupEndpoint;
  }

  /** Answer a look-up the node forwarded; `false` if it was not for us. */
  handleLookup(request: LookupRequest, from: Endpoint): boolean {
    if (!sameAddress(request.to, this.#o.address) || this.#closed) return false;
    let reply: PlumiMessage;
    if (this.busy) {
      reply = { kind: "lookup-reply", code: 1, from: request.from, to: request.to, extra: [] };
      // A node probing whether this agent is alive is not a caller.
      if (!request.from.startsWith(`${PROBE_NAME}@`)) this.#o.ui.info(say.missedCall(request.from));
    } else {
      reply = availableReply(
        request.from,
        request.to,
        this.#o.advertised,
        featureFields(this.#groupEndpoint?.port),
      );
      const now = this.#o.clock.now();
      this.#offers = this.#offers.filter((o) => now - o.at < OFFER_TTL_MS).slice(-MAX_OFFERS + 1);
      this.#offers.push({ address: request.from, at: now });
    }
    void this.#o.client.send(reply, from);
    return true;
  }

  /** Call `address`: look it up, connect, exchange nicknames; every outcome is reported. */
  async call(address: string, signal?: AbortSignal): Promise<void> {
    const { ui } = this.#o;
    if (sameAddress(address, this.#o.address)) {
      ui.warn(say.callFailed(address, "that is you"));
      return;
    }
    const existing = this.#roster.chats.find((c) => c.address && sameAddress(c.address, address));
    if (existing) {
      this.#roster.switchTo(existing);
      return;
    }
    if (!this.#checkRoom(address)) return;
    const stop = this.#stopOn(signal);
    this.#calling++;
    try {
      ui.info(say.calling(address));
      const found = await this.#dialer.lookUp(address, stop);
      if (!found || stop.aborted) return;
      const conversation = await this.#dialer.conversation(
        address,
        found.endpoint,
        stop,
        say.callFailed,
        found.features.extended,
      );
      if (!conversation) return;
      ui.info(say.connected(conversation.peerNick, address));
      this.#beginChat(conversation, address, true);
    } finally {
      this.#calling--;
      this.#wake();
    }
  }

  /** Send a line to where typed lines go. */
  send(text: string): void {
    const target = this.#roster.current;
    if (!target) this.#o.ui.warn(say.notInConversation());
    else if (!isChat(target)) {
      target.say(text);
      // A group with nobody else in it: the line reached nobody (issue 19).
      if (target.size === 1) this.#o.ui.warn(client.aloneInGroup(target.label));
    } else if (!target.conversation.send(text)) {
      this.#o.ui.warn(say.sendFailed("the conversation is over"));
    } else this.#settle(target);
  }

  /** `/exit`: end the current conversation, or leave the current group. */
  async hangUp(): Promise<void> {
    const target = this.#roster.current;
    if (!target) {
      this.#o.ui.warn(say.notInConversation());
      return;
    }
    await this.#end(target);
  }

  /** `/close [name]`: end the named conversation (or group), or the current one. */
  async closeTarget(name: string | undefined): Promise<void> {
    if (name === undefined) return await this.hangUp();
    const target = this.#roster.find(name);
    if (typeof target === "string") this.#o.ui.warn(target);
    else await this.#end(target);
  }

  /** `/switch name`: typed lines go to the named conversation or group from now on. */
  switchTo(name: string): void {
    const target = this.#roster.find(name);
    if (typeof target === "string") this.#o.ui.warn(target);
    else this.#roster.switchTo(target);
  }

  /** `/list`: the open conversations and groups. */
  list(): void {
    for (const line of this.#roster.list()) this.#o.ui.info(line);
  }

  /** `/group name`: start a group with this agent as its only member; it becomes current. */
  startGroup(name: string): void {
    if (this.#groups) this.#groups.start(name);
    else this.#o.ui.warn(say.groupsDisabled());
  }

  /** `/invite address`: add someone to the current group. */
  async invite(address: string, signal?: AbortSignal): Promise<void> {
    const group = this.#roster.current;
    if (!this.#groups || !group || isChat(group)) this.#o.ui.warn(say.notInGroup());
    else await this.#groups.invite(group, address, this.#stopOn(signal));
  }

  /** `/accept [#group]` or `/decline [#group]`: answer an invitation to a group. */
  answerInvitation(accept: boolean, name: string | undefined): void {
    const invitations = this.#groups?.invitations;
    if (!invitations) this.#o.ui.warn(say.groupsDisabled());
    else if (accept) invitations.accept(name);
    else invitations.decline(name);
  }

  /** `/leave [#group]`: leave the named group, or the current one. */
  async leave(name: string | undefined): Promise<void> {
    const target = name === undefined ? this.#roster.current : this.#roster.find(name);
    if (typeof target === "string") this.#o.ui.warn(target);
    else if (!target || isChat(target)) this.#o.ui.warn(say.notInGroup());
    else await this.#end(target);
  }

  /**
   * `/wait`: with nothing current, wait until a conversation or group
   * starts; otherwise wait until the current one ends. Returns early when
   * `signal` aborts.
   */
  async wait(signal?: AbortSignal): Promise<void> {
    const target = this.#roster.current;
    if (!target) this.#o.ui.info(say.waiting());
    const waiting = () =>
      target === undefined ? this.#roster.current === undefined : this.#roster.has(target);
    while (waiting() && !signal?.aborted && !this.#closed) {
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

  /** Leave every group, end every conversation, and stop accepting new ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#o.listener.close();
    this.#o.groupListener?.close();
    await this.#groups?.close();
    await Promise.all(this.#roster.chats.map((chat) => this.#end(chat)));
    // Quiet callers never shown (they said nothing) are not in the roster: end them too.
    await Promise.all([...this.#tentative.keys()].map((chat) => this.#end(chat)));
    this.#admission.close();
    this.#quiet.close();
    this.#wake();
    await Promise.all(this.#loops);
    await Promise.all([...this.#tasks]);
  }

  #stopOn(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
  }

  async #end(target: Target): Promise<void> {
    if (isChat(target)) {
      target.conversation.close();
      await target.ended;
    } else await this.#groups?.leave(target);
  }

  #checkRoom(address: string): boolean {
    const { ui } = this.#o;
    if (!this.busy) return true;
    const current = this.#roster.chats.at(-1);
    if (this.#o.maxChats > 1) ui.warn(say.tooManyChats(address, this.#o.maxChats));
    else if (current) ui.warn(say.alreadyTalking(current.conversation.peerNick));
    else ui.warn(say.alreadyCalling());
    return false;
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
        if (conversations && this.busy) {
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

  async #answer(conn: StreamConn, release: () => void, cut: () => boolean): Promise<void> {
    const { ui } = this.#o;
    const remote = remoteOf(conn);
    const unwatch = closeOnAbort(conn, this.#stop.signal);
    this.#answering++;
    let answering = true;
    const answered = () => {
      if (answering) this.#answering--;
      answering = false;
    };
    try {
      const conversation = await Conversation.open({
        conn,
        role: "callee",
        nick: this.#o.nick,
        ...this.#timing,
        // The caller may be an original agent: nothing in PMI tells.
        paceMs: ORIGINAL_PACE_MS,
      });
      if (this.#closed) {
        conversation.close();
        return;
      }
      // The handshake is over: its slot goes back, and the conversation is quiet until a line.
      answered();
      release();
      let pushedOut = false;
      const quiet = this.#quiet.admit(remote.ip, this.#o.maxPendingPerIp, () => {
        pushedOut = true;
        conversation.close();
        this.#quiet.refused(report.quietCut(remote, conversation.peerNick));
      });
      const offer = this.#takeOffer();
      this.#beginChat(conversation, offer.address, false, {
        release: typeof quiet === "string" ? () => {} : quiet,
        pushedOut: () => pushedOut,
        announced: offer.announced,
        remote,
      });
    } catch (error) {
      if (!this.#closed && !cut()) ui.warn(say.incomingFailed(remote, describeError(error)));
    } finally {
      answered();
      unwatch();
      release();
      this.#wake();
    }
  }

  /** A line passed in `chat`: it is a conversation for real, and counts towards `maxChats`. */
  #settle(chat: Chat): void {
    const release = this.#tentative.get(chat);
    if (!release) return;
    this.#tentative.delete(chat);
    release();
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

  #beginChat(
    conversation: Conversation,
    address: string | undefined,
    focus: boolean,
    quiet?: {
      release: () => void;
      pushedOut: () => boolean;
      /** The node announced a caller: shown at once; otherwise only once it says a line. */
      announced: boolean;
      remote: Endpoint;
    },
  ): void {
    const { ui } = this.#o;
    const chat: Chat = {
      kind: "chat",
      label: this.#roster.uniqueLabel(address ?? conversation.peerNick),
      address,
      conversation,
      ended: Promise.resolve(),
    };
    let visible = false;
    const show = () => {
      if (visible) return;
      visible = true;
      if (quiet) {
        ui.info(say.incoming(conversation.peerNick, address));
        ui.ring?.(say.incoming(conversation.peerNick, address));
      }
      this.#roster.add(chat, focus);
    };
    if (quiet) this.#tentative.set(chat, quiet.release);
    if (!quiet || quiet.announced) show();
    let shown = conversation.peerNick;
    chat.ended = conversation.run({
      onLine: (text) => {
        this.#settle(chat);
        show();
        ui.chat(conversation.peerNick, text, this.#roster.prefixFor(chat), address);
      },
      onNick: (nick) => {
        ui.info(say.nickChanged(shown, nick));
        shown = nick;
      },
    }).then((end) => {
      this.#settle(chat);
      if (!visible) {
        // A stranger that never said anything: reported in bursts, like refused connections.
        const why = explainEnd(end, conversation.peerNick);
        if (quiet && !quiet.pushedOut() && !this.#closed) {
          this.#quiet.refused(say.incomingFailed(quiet.remote, why));
        }
        return;
      }
      const why = quiet?.pushedOut() ? report.pushedOut() : explainEnd(end, conversation.peerNick);
      ui.info(say.ended(conversation.peerNick, why));
      this.#roster.remove(chat);
    });
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #wake(): void {
    for (const wake of this.#changed.splice(0)) wake();
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
