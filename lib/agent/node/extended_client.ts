/**
 * The agent's side of the PLUMI extensions (`v=2`, docs/PROTOCOL.md) once
 * registered: heartbeats (and what they say of the node: alive, lost, the
 * session forgotten or taken over), buddy lists, buddy status and who is
 * online. Registration and sign-up are in `registration.ts`.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { ExtensionReply, ExtensionRequest } from "../../plumi/messages.ts";
import {
  BuddyChangeExt,
  type BuddyEntry,
  type BuddyState,
  BuddyStatusExt,
  decodeBuddyEntry,
  DeregisterExt,
  HeartbeatExt,
  IdentityExt,
  OnlineExt,
} from "../../plumi/extensions/mod.ts";
import { NodeSilentError } from "../errors.ts";
import { buddyText, problem } from "../terminal/texts.ts";
import type { PlumiClient } from "./client.ts";
import type { NodeSession } from "./registration.ts";

export {
  firstRegistration,
  type NodeSession,
  type PasswordSource,
  type RegisterOptions,
  type RegisterResult,
  registerWith,
  signedInElsewhere,
  SignedInElsewhereError,
  signUp,
  type SignUpResult,
  WrongPasswordError,
} from "./registration.ts";

/** What the node shows of a buddy: `on`, `busy`, `off`, or `?` (not shared with you, or unknown). */
export type { BuddyState };

/** A buddy and what the node shows of it (one `b=` entry of a status page). */
export type BuddyStatus = BuddyEntry;

/**
 * One `b=` entry of a status page, as `BuddyStatusExt` reads it; an entry
 * that does not decode is an unknown buddy.
 */
export function parseBuddyEntry(entry: string, history: boolean): BuddyStatus {
  const decoded = decodeBuddyEntry(entry, history);
  return decoded.ok ? decoded.value : { address: "", state: "?" };
}

/** Most pages of a status or an online list fetched at once. */
const MAX_PAGES = 1000;

/** Options of {@linkcode ExtendedSession}. */
export interface ExtendedSessionOptions {
  readonly clock: Clock;
  /** Is the agent in a conversation now (sent with heartbeats as `st=busy`)? */
  readonly busy?: () => boolean;
  /** The node's mark of what we may see of our buddies changed. */
  readonly onBuddiesChanged?: () => void;
  /** The node forgot the session (restart, expiry): register again. */
  readonly onSessionLost?: () => void;
  /** Another agent took the session over (`RK1;e=replaced`): the heartbeats have stopped. */
  readonly onReplaced?: (at: Endpoint | undefined) => void;
  /** The node stopped answering (`true`), or answers again (`false`). */
  readonly onContact?: (lost: boolean) => void;
  /** While contact is lost, heartbeats are tried this often (at most the heartbeat interval), ms. Default: 2000. */
  readonly lostRetryMs?: number;
}

/** An extended registration: heartbeats, buddies, status, online list, deregistration. */
export class ExtendedSession {
  readonly address: string;
  #session: NodeSession;
  readonly #client: PlumiClient;
  readonly #options: ExtendedSessionOptions;
  #timer: TimerHandle | undefined;
  #mark: string | undefined;
  #stopped = false;
  #lost = false;
  /** The last heartbeat was answered `RK1;e=auth` (not our seal, says the node). */
  #refused = false;
  /** One request at a time: answers are told apart only by their type. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    client: PlumiClient,
    address: string,
    session: NodeSession,
    options: ExtendedSessionOptions,
  ) {
    this.#client = client;
    this.address = address;
    this.#session = session;
    this.#options = options;
    client.useSession(session.sealer);
  }

  /** What the node granted; a new registration's replaces it (and its seal, from then on). */
  get session(): NodeSession {
    return this.#session;
  }

  set session(session: NodeSession) {
    this.#session = session;
    this.#client.useSession(session.sealer);
  }

  /** Send heartbeats every interval until {@linkcode ExtendedSession.stop}. */
  start(): void {
    this.#schedule();
  }

  /** Whether the node has stopped answering (since its last answer). */
  get lost(): boolean {
    return this.#lost;
  }

  /** Stop the heartbeats. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const every = this.#lost
      ? Math.min(this.#options.lostRetryMs ?? 2_000, this.session.heartbeatMs)
      : this.session.heartbeatMs;
    this.#timer = this.#options.clock.setTimeout(() => void this.#beat(), every);
  }

  #contact(lost: boolean): void {
    if (this.#lost === lost) return;
    this.#lost = lost;
    this.#options.onContact?.(lost);
  }

  async #beat(): Promise<void> {
    try {
      const reply = await this.#ask(
        HeartbeatExt.encodeRequest({
          address: this.address,
          busy: this.#options.busy?.() ?? false,
        }),
      );
      const answer = HeartbeatExt.decodeReply(reply);
      if (answer.ok && answer.value.kind === "replaced") {
        this.stop();
        this.#options.onReplaced?.(answer.value.at);
        return;
      }
      // Not our seal, says the node (`RK1;e=auth`). Once may be the answer to a copy of one of
      // our requests that someone sent as if from here, which came first: the next heartbeat
      // tells. Twice in a row, our key is not the node's: log in again.
      const refused = answer.ok && answer.value.kind === "refused";
      if (refused && !this.#refused) {
        this.#refused = true;
        return;
      }
      this.#refused = false;
      // `RK1`, or a refusal this agent cannot read: the node no longer knows the session.
      if (reply.code !== 0 || refused || (answer.ok && answer.value.kind === "unknown")) {
        this.#options.onSessionLost?.();
        return;
      }
      const mark = answer.ok && answer.value.kind === "alive" ? answer.value.mark : undefined;
      // The first mark counts as a change too: the buddies may have changed since they were last fetched.
      if (mark !== undefined && mark !== this.#mark) {
        this.#options.onBuddiesChanged?.();
      }
      this.#mark = mark;
    } catch (error) {
      if (!(error instanceof NodeSilentError)) throw error;
      // A silent node: said at once (by #ask); keep beating, faster, until it answers again.
    } finally {
      this.#schedule();
    }
  }

  /** Send `request` (one at a time) and take the answer of its type. */
  #ask(request: ExtensionRequest): Promise<ExtensionReply> {
    const run = async () => {
      let reply;
      try {
        reply = await this.#client.request(
          request,
          (m) => m.kind === "ext-reply" && m.type === request.type,
        );
      } catch (error) {
        if (error instanceof NodeSilentError && !this.#stopped) this.#contact(true);
        throw error;
      }
      this.#contact(false);
      return reply as ExtensionReply;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Publish our identity key (`PI…;ik=`): a password account's node binds it.
   * Resolves `undefined` when bound, else the node's `e=` reason (`changed`:
   * another key is bound; `nopass`: no password, so no binding).
   */
  async publishKey(key: string, replace = false): Promise<string | undefined> {
    const { address } = this;
    const reply = await this.#ask(
      IdentityExt.encodeRequest({ kind: "publish", address, key, replace }),
    );
    const answer = IdentityExt.decodeReply(reply);
    if (answer.ok && answer.value.kind === "bound") return undefined;
    return answer.ok && answer.value.kind === "refused" ? answer.value.error : "refused";
  }

  /** The key our node vouches for `address` (its own password accounts only), if any. */
  async vouchedKey(who: string): Promise<string | undefined> {
    const { address } = this;
    const reply = await this.#ask(
      IdentityExt.encodeRequest({ kind: "vouch", address, who }),
    );
    const answer = IdentityExt.decodeReply(reply);
    return answer.ok && answer.value.kind === "vouched" && answer.value.who === who
      ? answer.value.key
      : undefined;
  }

  /** Add a buddy (any domain). Resolves to an error text, or `undefined` when done. */
  addBuddy(buddy: string): Promise<string | undefined> {
    return this.#changeBuddy("add", buddy);
  }

  /** Remove a buddy. Resolves to an error text, or `undefined` when done. */
  removeBuddy(buddy: string): Promise<string | undefined> {
    return this.#changeBuddy("del", buddy);
  }

  async #changeBuddy(op: "add" | "del", buddy: string): Promise<string | undefined> {
    const { address } = this;
    const reply = await this.#ask(BuddyChangeExt.encodeRequest({ address, op, buddy }));
    const answer = BuddyChangeExt.decodeReply(reply);
    if (answer.ok && answer.value.kind === "done") return undefined;
    const error = answer.ok && answer.value.kind === "refused" ? answer.value.error : undefined;
    return buddyRefusal(error);
  }

  /**
   * The status of every buddy, or `undefined` if the node refused. Asks for
   * the buddies' recent changes (`h=1`); a node that does not keep them
   * answers without `h=1`, and the entries have no `seq`.
   */
  async buddies(): Promise<BuddyStatus[] | undefined> {
    const { address } = this;
    const entries: BuddyStatus[] = [];
    for (let page = 1, pages = 1; page <= pages && page <= MAX_PAGES; page++) {
      const reply = await this.#ask(
        BuddyStatusExt.encodeRequest({ address, page, history: true }),
      );
      const answer = BuddyStatusExt.decodeReply(reply);
      if (!answer.ok || answer.value.kind !== "page") return undefined;
      pages = answer.value.pages;
      entries.push(...answer.value.entries);
    }
    return entries;
  }

  /** The online users of the domain, or `undefined` if the node refused (list turned off). */
  async online(): Promise<string[] | undefined> {
    const { address } = this;
    const names: string[] = [];
    for (let page = 1, pages = 1; page <= pages && page <= MAX_PAGES; page++) {
      const answer = OnlineExt.decodeReply(
        await this.#ask(OnlineExt.encodeRequest({ address, page })),
      );
      if (!answer.ok || answer.value.kind === "refused") return undefined;
      pages = answer.value.kind === "numbered" ? answer.value.pages : 1;
      names.push(...answer.value.names);
    }
    return names;
  }

  /**
   * Deregister (`PD…;v=2`, sealed). Resolves `undefined` when the node
   * confirmed, else why it refused, in plain words.
   */
  async deregister(signal?: AbortSignal): Promise<string | undefined> {
    this.stop();
    const reply = await this.#client.request(
      DeregisterExt.encodeRequest({ address: this.address }),
      (m) => m.kind === "deregister-reply",
      signal,
    );
    const answer = reply.kind === "deregister-reply" ? DeregisterExt.decodeReply(reply) : undefined;
    if (answer?.ok && answer.value.kind === "done") return undefined;
    const code = answer?.ok && answer.value.kind === "refused" ? answer.value.error : undefined;
    return code === "replaced"
      ? problem.deregisterReplaced()
      : code === "user"
      ? problem.deregisterUnknownUser()
      : problem.sessionUnknown();
  }
}

/** Why a buddy change was refused (its `e=` code), in plain words. */
function buddyRefusal(code: string | undefined): string {
  return buddyText.refusals[code ?? ""] ?? buddyText.refused();
}
