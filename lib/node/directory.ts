/**
 * The directory of a domain: who is a user, and where each online user's
 * agent can be reached. This file is the seam: the {@linkcode Directory}
 * interface that the node's logic (core, liveness, extensions, state file,
 * journal, console) uses, and nothing else. The node runs on the in-memory
 * implementation, `memory_directory.ts`; another one (a clustered domain's,
 * shared through a database) is another file implementing the same
 * interface, and `directory_contract.ts` is the test suite it must pass.
 *
 * Rules of the seam:
 * - **The directory owns every change.** What callers get back
 *   ({@linkcode Registration}, {@linkcode Session}) is a read-only snapshot;
 *   a registration changes only through a method (`register`, `deregister`,
 *   `lapse`, `heartbeat`, `expire`, `heard`…), which says what changed.
 * - **One owner of "who is a user".** The users listed in `nodelumi.cfg`
 *   (origin `"config"`) and the accounts created by sign-up (`"signup"`)
 *   are both users; the directory knows which is which, so the console saves
 *   {@linkcode Directory.configuredNames} and a reload
 *   ({@linkcode Directory.setConfigured}) keeps the signed-up ones.
 * - **Synchronous on purpose.** Every call is on the packet path, where an
 *   embedded directory answers in well under a microsecond, and an `await`
 *   per datagram would cost more than the work. A clustered implementation
 *   keeps what its node answers from in memory too (its own agents'
 *   registrations, a replica of the rest) and writes its changes to the
 *   shared store behind the packet path, in batches: {@linkcode Directory.observe}
 *   is the feed of changed names for that (the state journal already uses it,
 *   200 ms at a time). The only slow, awaited work is start-up, done by its
 *   factory before the node starts.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** What an extended agent's registration carries beyond the original's. */
export interface Session {
  /** Secret given to the agent at registration; proves later requests are its own. */
  readonly token: string;
  /** Heartbeat interval agreed at registration, in ms. */
  readonly heartbeatMs: number;
  /** The agent said it is in a conversation (busy). */
  readonly busy: boolean;
  /**
   * The session key (URL-safe base64), so that another node of a cluster can
   * check the session's seals (`session_keys.ts`). Never written to disk.
   */
  readonly sealKey?: string;
}

/** Where an online user's agent is: a snapshot, taken when it was read. */
export interface Registration {
  /**
   * Names this registration: registering again (even from the same address)
   * makes a new one, a heartbeat or a move keeps it. Compare ids, never objects.
   */
  readonly id: number;
  /** The agent's UDP address, from its PR datagram (a heartbeat may move it, e.g. after NAT rebinding). */
  readonly endpoint: Endpoint;
  /** When a datagram last came from that address, on the node's monotonic clock (ms); `-Infinity` never. */
  readonly heardAt: number;
  /** When it registered (ms since the epoch). */
  readonly since: number;
  /** Last sign of life: registration or heartbeat (ms since the epoch). */
  readonly lastSeen: number;
  /** Present for agents that registered with the extended protocol. */
  readonly session?: Session;
}

/** A user and its state, as the administrator sees it. */
export interface UserEntry {
  /** The user name (without the domain). */
  readonly name: string;
  /** Where it is online, or `null` offline. */
  readonly registration: Registration | null;
}

/** Why someone is a user: listed in `nodelumi.cfg`, or created by sign-up. */
export type UserOrigin = "config" | "signup";

/** What a datagram from an address says ({@linkcode Directory.heard}): a set of these bits. */
export const Heard = {
  /** No user is (or was) registered there. */
  Nobody: 0,
  /** Online users are registered there. */
  Online: 1,
  /** Users taken offline for unanswered look-ups were registered there ({@linkcode Directory.lapsedAt}). */
  Lapsed: 2,
} as const;

/** What a heartbeat changed ({@linkcode Directory.heartbeat}); `undefined` when `name` is not online. */
export interface HeartbeatChange {
  /** The registration moved to the heartbeat's address. */
  readonly moved: boolean;
  /** The busy state changed (the presence stamp moved). */
  readonly busyChanged: boolean;
}

/** How long registrations live without a sign of life ({@linkcode Directory.expire}). */
export interface ExpiryLimits {
  /** An extended agent is gone after this many heartbeat intervals without one. */
  readonly heartbeats: number;
  /** An original agent's registration expires this long after it was made, in ms; 0 never. */
  readonly originalMs: number;
}

/** The users of a domain and their registrations; see the module doc for the rules. */
export interface Directory {
  // ---- Who is a user.

  /** Number of users. */
  readonly size: number;
  /** Is `name` a user of the domain? */
  has(name: string): boolean;
  /** Was `name` created by sign-up (rather than listed in `nodelumi.cfg`)? */
  isSignedUp(name: string): boolean;
  /** User names, in the order they became users. */
  names(): IterableIterator<string>;
  /** The users listed in `nodelumi.cfg` (what the console saves there), in order. */
  configuredNames(): string[];
  /**
   * Make `name` a user (offline) for `origin` (default `"config"`). Returns
   * false, changing nothing, if it already was one.
   */
  add(name: string, origin?: UserOrigin): boolean;
  /** Remove a user and its registration. Returns false if there was none. */
  remove(name: string): boolean;
  /**
   * The users of `nodelumi.cfg` are now `names` (a reload): users listed
   * there are added, users no longer listed are removed unless they signed up.
   */
  setConfigured(names: Iterable<string>): { added: string[]; removed: string[] };

  // ---- Registrations.

  /** Number of users online. */
  readonly onlineCount: number;
  /** The registration of `name`, `null` if offline, `undefined` if no such user. */
  get(name: string): Registration | null | undefined;
  /**
   * The online users and their registrations, in no set order. Safe to
   * change the directory meanwhile: a user online throughout is yielded once.
   */
  online(): IterableIterator<[string, Registration]>;
  /** Every user with its state, in the order of {@linkcode Directory.names}. */
  entries(): IterableIterator<UserEntry>;
  /**
   * Mark `name` online at `endpoint` since `since` (wall-clock ms), with a
   * session for an extended agent. Always a new registration: returns its
   * id, or 0 if there is no such user.
   */
  register(name: string, endpoint: Endpoint, since: number, session?: Session): number;
  /** Mark `name` offline (and forget where it lapsed). Returns false if there is no such user. */
  deregister(name: string): boolean;
  /**
   * Take `name` offline because its agent stopped answering, but remember
   * where it was: a datagram from there says so ({@linkcode Heard.Lapsed}),
   * and answers to its own look-ups still reach it. With `id`, only if the
   * registration is still that one. Returns whether it lapsed.
   */
  lapse(name: string, id?: number): boolean;
  /** Where `name` was registered when it lapsed, if it did (and is still offline). */
  lapsedEndpoint(name: string): Endpoint | undefined;
  /** The users that lapsed while registered at `endpoint`. */
  lapsedAt(endpoint: Endpoint): string[];
  /**
   * A heartbeat of `name`'s session from `from` at `now` (wall-clock ms): it
   * is seen now, moves there if it was elsewhere, and is busy or not.
   */
  heartbeat(name: string, from: Endpoint, now: number, busy: boolean): HeartbeatChange | undefined;
  /** Take offline every registration past its {@linkcode ExpiryLimits} at `now` (wall-clock ms); returns their names. */
  expire(now: number, limits: ExpiryLimits): string[];

  // ---- Addresses (the packet path: one look-up per datagram).

  /** Note a datagram from `endpoint` at `now` (monotonic ms): {@linkcode Heard} bits. */
  heard(endpoint: Endpoint, now: number): number;
  /** Is some online user registered at `endpoint`? */
  hasEndpoint(endpoint: Endpoint): boolean;

  // ---- Presence and changes.

  /** Counts every change of the table: compare two readings to see whether anything changed. */
  readonly changes: number;
  /** The `changes` reading when `name` last went online, offline or busy; 0 if never. */
  presenceStamp(name: string): number;
  /** Record that what others may see of `name` changed (its buddy list: the mutual rule). */
  touchPresence(name: string): void;
  /** The online users' names in order, for paging the online list (`online.ts`). */
  readonly onlineIndex: OnlineNames;
  /**
   * Call `observer` with the user's name whenever a registration is made,
   * moved or ended (by any method). One observer: the state journal. It must
   * be cheap: it runs on the packet path.
   */
  observe(observer: (name: string) => void): void;
  /**
   * Look-ups unanswered, counted across the nodes of a cluster (the
   * liveness rule of `liveness.ts`); absent: each node counts alone.
   */
  readonly misses?: SharedMisses;
}

/**
 * Unanswered look-ups of a registration counted by every node of a cluster
 * at once (`redis_liveness.ts`): a user is offline after the domain's Nth
 * miss in a row, wherever its look-ups went. Cheap on the packet path: the
 * count is read from memory, and only misses and the answers that follow
 * them reach the shared store.
 */
export interface SharedMisses {
  /** A look-up of registration `id` of `name` went unanswered here. */
  missed(name: string, id: number): void;
  /** The agent of `name` answered here: if misses were counted, they are cleared everywhere. */
  answered(name: string, id: number): void;
  /** Look-ups of registration `id` of `name` unanswered in a row across the nodes, as last known. */
  count(name: string, id: number): number;
}

/** The online users' names in order, with access by rank and after a name. */
export interface OnlineNames {
  /** Names in the index. */
  readonly size: number;
  /** Length of the longest name in the index; 0 when empty. */
  readonly longest: number;
  /** The names from rank `rank` on (0 is the first), in order. */
  from(rank: number): IterableIterator<string>;
  /** The names after `name` in order (`""`: from the first). */
  after(name: string): IterableIterator<string>;
}
