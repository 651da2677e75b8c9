/**
 * The agent's side of the PLUMI extensions (`v=2`, docs/PROTOCOL.md) once
 * registered: heartbeats (and what they say of the node: alive, lost, the
 * session forgotten or taken over), buddy lists, buddy status and who is
 * online. Registration and sign-up are in `registration.ts`.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import { type Endpoint, formatEndpoint, parsePort } from "../../plumi/address.ts";
import type { ExtensionReply, ExtensionType } from "../../plumi/messages.ts";
import { param, params as allParams } from "../../plumi/params.ts";
import { NodeSilentError } from "../errors.ts";
import type { PlumiClient } from "./client.ts";
import { endpointParam, type NodeSession } from "./registration.ts";

export {
  firstRegistration,
  type NodeSession,
  type PasswordSource,
  type RegisterOptions,
  registerWith,
  type Registration,
  signedInElsewhere,
  SignedInElsewhereError,
  signUp,
  type SignUpResult,
  WrongPasswordError,
} from "./registration.ts";

/** What the node shows of a buddy: `on`, `busy`, `off`, or `?` (not shared with you, or unknown). */
export type BuddyState = "on" | "busy" | "off" | "?";

/** A buddy and what the node shows of it. */
export interface BuddyStatus {
  readonly address: string;
  readonly state: BuddyState;
  readonly endpoint?: Endpoint;
  /** How many presence changes the node has seen of this buddy (a local, shared buddy of an extended node). */
  readonly seq?: number;
  /** The states after its last changes, oldest first, ending with `state` (with `seq`). */
  readonly trail?: readonly BuddyState[];
}

function buddyState(text: string | undefined): BuddyState {
  return text === "on" || text === "busy" || text === "off" ? text : "?";
}

/**
 * One `b=` entry of a status page: `<state>,<ip>,<port>,<buddy>`, or with
 * history (`h=1`) `<state>,<ip>,<port>,<seq>,<trail>,<buddy>`. The buddy
 * address comes last, as it may hold commas.
 */
export function parseBuddyEntry(entry: string, history: boolean): BuddyStatus {
  const fields = entry.split(",");
  const fixed = history ? 5 : 3;
  const [state, ip, port, seq, trail] = fields;
  const p = parsePort(port ?? "");
  const count = Number(seq);
  return {
    address: fields.slice(fixed).join(","),
    state: buddyState(state),
    ...(ip && p.ok && { endpoint: { ip, port: p.value } }),
    ...(history && seq !== "" && Number.isInteger(count) && count >= 0 && {
      seq: count,
      trail: (trail ?? "").split(".").map(buddyState),
    }),
  };
}

/** Why a buddy change was refused, in plain words. */
const BUDDY_ERRORS: Record<string, string> = {
  auth: "the node no longer knows this session",
  invalid: "that is not an address",
  self: "you cannot add yourself",
  full: "your buddy list is full",
  absent: "not on your buddy list",
};

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
  session: NodeSession;
  readonly #client: PlumiClient;
  readonly #options: ExtendedSessionOptions;
  #timer: TimerHandle | undefined;
  #mark: string | undefined;
  #stopped = false;
  #lost = false;
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
    this.session = session;
    this.#options = options;
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
      const reply = await this.#ask("K", [...(this.#options.busy?.() ? ["st=busy"] : [])]);
      if (reply.code === 1) {
        if (param(reply.params, "e") === "replaced") {
          this.stop();
          this.#options.onReplaced?.(endpointParam(reply.params));
          return;
        }
        this.#options.onSessionLost?.();
        return;
      }
      const mark = param(reply.params, "c");
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

  #ask(type: ExtensionType, extra: readonly string[]): Promise<ExtensionReply> {
    const run = async () => {
      let reply;
      try {
        reply = await this.#client.request(
          {
            kind: "ext-request",
            type,
            address: this.address,
            params: [`t=${this.session.token}`, ...extra],
          },
          (m) => m.kind === "ext-reply" && m.type === type,
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
    const reply = await this.#ask("I", [`ik=${key}`, ...(replace ? ["replace"] : [])]);
    return reply.code === 0 ? undefined : param(reply.params, "e") ?? "refused";
  }

  /** The key our node vouches for `address` (its own password accounts only), if any. */
  async vouchedKey(address: string): Promise<string | undefined> {
    const reply = await this.#ask("I", [`w=${address}`]);
    return reply.code === 0 ? param(reply.params, "ik") : undefined;
  }

  /** Add a buddy (any domain). Resolves to an error text, or `undefined` when done. */
  async addBuddy(buddy: string): Promise<string | undefined> {
    const reply = await this.#ask("B", ["op=add", `b=${buddy}`]);
    return reply.code === 0 ? undefined : BUDDY_ERRORS[param(reply.params, "e") ?? ""] ?? "refused";
  }

  /** Remove a buddy. Resolves to an error text, or `undefined` when done. */
  async removeBuddy(buddy: string): Promise<string | undefined> {
    const reply = await this.#ask("B", ["op=del", `b=${buddy}`]);
    return reply.code === 0 ? undefined : BUDDY_ERRORS[param(reply.params, "e") ?? ""] ?? "refused";
  }

  /**
   * Every page of `type` (`S` or `O`), concatenated: the values of `key`
   * parameters, and the parameters of the first page.
   */
  async #pages(
    type: "S" | "O",
    key: string,
    extra: readonly string[] = [],
  ): Promise<{ values: string[]; first: readonly string[] } | undefined> {
    const values: string[] = [];
    let first: readonly string[] = [];
    for (let page = 1, pages = 1; page <= pages && page <= 1000; page++) {
      const reply = await this.#ask(type, [`p=${page}`, ...extra]);
      if (reply.code !== 0) return undefined;
      if (page === 1) first = reply.params;
      pages = Number((param(reply.params, "p") ?? "1/1").split("/")[1]) || 1;
      values.push(...allParams(reply.params, key));
    }
    return { values, first };
  }

  /**
   * The status of every buddy, or `undefined` if the node refused. Asks for
   * the buddies' recent changes (`h=1`); a node that does not keep them
   * answers without `h=1`, and the entries have no `seq`.
   */
  async buddies(): Promise<BuddyStatus[] | undefined> {
    const pages = await this.#pages("S", "b", ["h=1"]);
    if (!pages) return undefined;
    const history = param(pages.first, "h") === "1";
    return pages.values.map((entry) => parseBuddyEntry(entry, history));
  }

  /** The online users of the domain, or `undefined` if the node refused (list turned off). */
  async online(): Promise<string[] | undefined> {
    return (await this.#pages("O", "u"))?.values;
  }

  /**
   * Deregister (`PD…;v=2;t=…`). Resolves `undefined` when the node
   * confirmed, else why it refused, in plain words.
   */
  async deregister(signal?: AbortSignal): Promise<string | undefined> {
    this.stop();
    const reply = await this.#client.request(
      { kind: "deregister", address: this.address, params: ["v=2", `t=${this.session.token}`] },
      (m) => m.kind === "deregister-reply",
      signal,
    );
    if (reply.kind === "deregister-reply" && reply.code === 0) return undefined;
    const code = reply.kind === "deregister-reply" ? param(reply.params, "e") : undefined;
    return code === "replaced"
      ? "another agent has signed in as this user"
      : code === "user"
      ? "the node does not know this user"
      : "the node no longer knows this session";
  }
}

/** A buddy's line in `/buddies`, e.g. `joan@cc.com  online  10.0.0.7:4000`. */
export function describeBuddy(buddy: BuddyStatus): string {
  const state = { on: "online", busy: "busy", off: "offline", "?": "unknown" }[buddy.state];
  return `${buddy.address.padEnd(32)} ${state.padEnd(8)}${
    buddy.endpoint ? ` ${formatEndpoint(buddy.endpoint)}` : ""
  }`;
}
