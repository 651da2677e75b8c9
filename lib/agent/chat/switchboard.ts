/**
 * The command side of a registered agent: what the user does with
 * conversations and groups (calls through `dialer.ts`, typed lines, `/exit`,
 * `/close`, `/switch`, `/list`, `/group`, `/invite`, `/leave`, `/wait`), and
 * the conversations and groups open at once (`roster.ts`,
 * `../group/groups.ts`). Incoming conversations and group links come from
 * the accept side (`reception.ts`) once their handshake is over. An
 * incoming conversation counts as one of `maxChats` only once a line has
 * passed either way (until then it is "quiet" and holds a slot of the
 * reception's). Everything it does is reported through the UI with the
 * stable texts of `../terminal/texts.ts`.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { sameAddress } from "../addresses.ts";
import type { PlumiClient } from "../node/client.ts";
import { Groups } from "../group/groups.ts";
import type { GroupLinkTiming } from "../group/link.ts";
import { client, report, say, why } from "../terminal/texts.ts";
import type { Keyring } from "./keyring.ts";
import type { AgentUi } from "../terminal/ui.ts";
import { type Conversation, explainEnd } from "./conversation.ts";
import { Dialer, type DomainCheck } from "./dialer.ts";
import type { AgentRelay } from "./relay_call.ts";
import type { ChatHistory } from "../history/history.ts";
import { type Chat, isChat, Roster, type Target } from "./roster.ts";
import { MAX_SEEN_IDS, MAX_UNACKED, ReceiptBook } from "./receipts.ts";
import { newMessageId } from "./records.ts";

/** Options of {@linkcode Switchboard}. The limits are those of `AgentOptions`, defaults applied. */
export interface SwitchboardOptions {
  /** Our @MI address. */
  readonly address: string;
  /** Our nickname, read each time it is needed (a getter may change it: `/nick`). */
  readonly nick: string;
  /** The PLUMI client, registered with the node: look-ups of the peers go through it. */
  readonly client: PlumiClient;
  /** The group endpoint advertised as `g=` (none: groups are off). */
  readonly groupEndpoint?: Endpoint;
  /** Opens outgoing connections. */
  readonly connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn>;
  /** Where everything is shown. */
  readonly ui: AgentUi;
  /**
   * A line the conversation could not take any more (its peer went away): left for the peer
   * offline instead (`lib/agent/node/mailbox.ts`); `true` if it was taken. Default: none.
   */
  readonly offline?: (address: string, text: string) => boolean;
  /** Timers and the time of look-up answers. */
  readonly clock: Clock;
  /** A handshake must be over within this many ms. */
  readonly nickTimeoutMs: number;
  /** An outgoing connection must be up within this many ms. */
  readonly connectTimeoutMs: number;
  /** A frame must be complete within this many ms of its first byte. */
  readonly frameTimeoutMs: number;
  /** Most bytes waiting to be written to one peer. */
  readonly maxQueuedBytes: number;
  /** Most conversations at once (`--max-chats`). */
  readonly maxChats: number;
  /** Most groups at once (`--max-groups`). */
  readonly maxGroups: number;
  /** Most members of a group (`--max-group-size`). */
  readonly maxGroupSize: number;
  /** A group link silent this long is cut (`--group-idle`). */
  readonly groupIdleMs: number;
  /** Whether DNS knows a domain, to tell a missing domain from a missing user. Default: unknown. */
  readonly domainExists?: (domain: string) => Promise<DomainCheck>;
  /** The relay, tried when a direct connection to an extended callee fails. Default: none. */
  readonly relay?: AgentRelay;
  /** Extended callees through the relay only (`--relay always`). */
  readonly relayAlways?: boolean;
  /** Where every line of a conversation is kept. Default: none. */
  readonly history?: ChatHistory;
  /** Our identity and the pinned keys: conversations are encrypted with agents that can. Default: none (all in clear). */
  readonly keyring?: Keyring;
  /** Refuse conversations in clear (`--require-encryption`). Default: false. */
  readonly requireEncryption?: boolean;
  /** How long a callee waits for a caller's first encrypted-handshake frame, ms. Default: 400. */
  readonly secureGraceMs?: number;
  /** The key our node vouches for an address, checked at first contact. Default: none. */
  readonly vouch?: (address: string) => Promise<Uint8Array | undefined>;
}

/**
 * A caller the accept side answered, handed over once the nicknames are
 * exchanged. Its conversation is quiet (it holds a slot of the reception's)
 * until a line passes either way.
 */
export interface IncomingCall {
  /** The caller's address, when the node named it. */
  readonly address: string | undefined;
  /** The node announced a caller: shown at once; otherwise only once it says a line. */
  readonly announced: boolean;
  /** Gives the quiet slot back: a line passed, or the conversation ended. */
  readonly release: () => void;
  /** Whether the conversation was cut to make room for newer callers. */
  readonly pushedOut: () => boolean;
  /** It ended without ever saying a line (never shown): `why` is how it ended. */
  readonly endedSilent: (why: string) => void;
}

/** The command side of the agent between registration and deregistration. */
export class Switchboard {
  readonly #o: SwitchboardOptions;
  readonly #roster: Roster;
  /** Quiet conversations (no line yet), with the function that gives their slot back. */
  readonly #tentative = new Map<Chat, () => void>();
  readonly #dialer: Dialer;
  readonly #groups: Groups | undefined;
  readonly #timing: GroupLinkTiming;
  #calling = 0;
  #changed: Array<() => void> = [];
  #closed = false;
  /** Aborts when the switchboard closes: calls and invitations in progress give up. */
  readonly #stop = new AbortController();
  /** Lines unacknowledged and ids received, per peer, across conversations (and runs, with a history). */
  readonly receipts: ReceiptBook;

  /** A switchboard for `options`, with nothing open yet. */
  constructor(options: SwitchboardOptions) {
    this.#o = options;
    const history = options.history;
    this.receipts = new ReceiptBook(
      history && ((address) => history.resume(address, MAX_UNACKED, MAX_SEEN_IDS)),
    );
    this.#roster = new Roster((text) => options.ui.info(text), () => {
      options.ui.setPrompt(this.#roster.prompt(options.nick));
      options.ui.setTargets?.(this.#roster.current?.label, this.#roster.labels);
      this.#wake();
    });
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
      ...(options.relay && { relay: options.relay, relayAlways: options.relayAlways }),
    });
    if (options.groupEndpoint) {
      this.#groups = new Groups({
        me: {
          address: options.address,
          get nick() {
            return options.nick;
          },
          endpoint: options.groupEndpoint,
        },
        ui: options.ui,
        clock: options.clock,
        roster: this.#roster,
        dialer: this.#dialer,
        timing: this.#timing,
        maxGroups: options.maxGroups,
        maxGroupSize: options.maxGroupSize,
        // Group links are encrypted with the same keys as conversations.
        ...(options.keyring && { keys: { keyring: options.keyring, vouch: options.vouch } }),
        requireEncryption: options.requireEncryption,
      });
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
    return this.#groups ? this.#o.groupEndpoint : undefined;
  }

  /** Call `address`: look it up, connect, exchange nicknames; every outcome is reported. */
  async call(address: string, signal?: AbortSignal): Promise<void> {
    const { ui } = this.#o;
    if (sameAddress(address, this.#o.address)) {
      ui.warn(say.callFailed(address, why.itIsYou()));
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
      const keyring = this.#o.keyring;
      const encrypted = keyring !== undefined && found.features.encrypted === true;
      if (keyring && !encrypted && this.#o.requireEncryption) {
        ui.warn(say.callFailed(address, say.clearRefused()));
        return;
      }
      const conversation = await this.#dialer.conversation(
        address,
        found.endpoint,
        stop,
        say.callFailed,
        found.features.extended,
        keyring && {
          keyring,
          calledAddress: encrypted ? address : undefined,
          require: this.#o.requireEncryption,
          vouch: this.#o.vouch,
          receipts: this.receipts,
        },
      );
      if (!conversation) return;
      ui.info(say.connected(conversation.peerNick, address));
      if (keyring) ui.info(say.security(conversation.peerNick, address, conversation.security));
      this.#beginChat(conversation, address, true);
    } finally {
      this.#calling--;
      this.#wake();
    }
  }

  /** Take over a conversation the accept side answered (it does not take the focus). */
  receive(conversation: Conversation, call: IncomingCall): void {
    if (this.#closed) {
      conversation.close();
      call.release();
      return;
    }
    this.#beginChat(conversation, call.address, false, call);
  }

  /**
   * Answer a group link that arrived on the group port: the member joins a
   * group we are in, or invites us into a new one. `joined` is told the
   * member's address once its request arrived. Groups must be on.
   */
  async acceptGroupLink(conn: StreamConn, joined: (address: string) => void): Promise<void> {
    if (!this.#groups) throw new Error("groups are switched off");
    await this.#groups.answer(conn, joined);
  }

  /** Send a line to where typed lines go. */
  send(text: string): void {
    const target = this.#roster.current;
    if (!target) this.#o.ui.warn(say.notInConversation());
    else if (!isChat(target)) {
      target.say(text);
      // A group with nobody else in it: the line reached nobody (issue 19).
      if (target.size === 1) this.#o.ui.warn(client.aloneInGroup(target.label));
    } else {
      // A line has an id when it travels with one (an encrypted conversation with receipts).
      const id = target.conversation.carriesIds ? newMessageId() : undefined;
      if (!target.conversation.send(text, id)) {
        // The conversation is over: the line is left with the peer's node instead, if it can be.
        if (target.address && this.#o.offline?.(target.address, text)) return;
        this.#o.ui.warn(say.sendFailed(why.conversationOver()));
        return;
      }
      const peer = target.address ?? target.conversation.peerNick;
      this.#o.history?.record(peer, "out", text, id);
      this.#settle(target);
    }
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

  /** `/trust address`: accept the changed key `address` last proved (then call again). */
  async trust(address: string): Promise<void> {
    const { ui, keyring } = this.#o;
    if (!keyring) return ui.warn(say.noEncryption());
    if (await keyring.trust(address)) ui.info(say.trusted(address));
    else ui.warn(say.nothingToTrust(address));
  }

  /** `/verify address`: show the safety number with its pinned key; mark it verified. */
  async verify(address: string): Promise<void> {
    const { ui, keyring } = this.#o;
    if (!keyring) return ui.warn(say.noEncryption());
    const number = keyring.safetyNumber(address);
    if (number === undefined) return ui.warn(say.noKeyYet(address));
    await keyring.verify(address);
    ui.info(say.safetyNumber(address, number));
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

  /**
   * Leave every group and end every conversation. Close the
   * {@linkcode Reception} first, so that nothing new arrives meanwhile.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await this.#groups?.close();
    await Promise.all(this.#roster.chats.map((chat) => this.#end(chat)));
    // Quiet callers never shown (they said nothing) are not in the roster: end them too.
    await Promise.all([...this.#tentative.keys()].map((chat) => this.#end(chat)));
    this.#wake();
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

  /** A line passed in `chat`: it is a conversation for real, and counts towards `maxChats`. */
  #settle(chat: Chat): void {
    const release = this.#tentative.get(chat);
    if (!release) return;
    this.#tentative.delete(chat);
    release();
  }

  #beginChat(
    conversation: Conversation,
    address: string | undefined,
    focus: boolean,
    quiet?: IncomingCall,
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
      if (address) this.#o.history?.showOnOpen(address);
      if (quiet && this.#o.keyring) {
        ui.info(say.security(conversation.peerNick, address, conversation.security));
      }
      this.#roster.add(chat, focus);
    };
    if (quiet) this.#tentative.set(chat, quiet.release);
    if (!quiet || quiet.announced) show();
    let shown = conversation.peerNick;
    chat.ended = conversation.run({
      onLine: (text, id) => {
        this.#settle(chat);
        show();
        ui.chat(conversation.peerNick, text, this.#roster.prefixFor(chat), address);
        this.#o.history?.record(address ?? conversation.peerNick, "in", text, id);
      },
      onDelivered: (ids) => {
        // Lines sent again after a break passed too: the conversation is real.
        this.#settle(chat);
        show();
        for (const id of ids) this.#o.history?.markDelivered(id);
        const peer = address ?? conversation.peerNick;
        ui.delivered?.(peer, ids);
        // A person sees a small mark; scripts reading the output see what they saw before.
        if (ui.interactive) {
          const mark = say.delivered(conversation.peerNick, ids.length);
          ui.info(ui.tint ? ui.tint(mark, "dim") : mark);
        }
      },
      onNick: (nick) => {
        ui.info(say.nickChanged(shown, nick));
        shown = nick;
      },
    }).then((end) => {
      this.#settle(chat);
      if (!visible) {
        quiet?.endedSilent(explainEnd(end, conversation.peerNick));
        return;
      }
      const why = quiet?.pushedOut() ? report.pushedOut() : explainEnd(end, conversation.peerNick);
      ui.info(say.ended(conversation.peerNick, why));
      this.#roster.remove(chat);
    });
  }

  #wake(): void {
    for (const wake of this.#changed.splice(0)) wake();
  }
}
