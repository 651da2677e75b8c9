/**
 * The users of one domain and where each online user's agent can be reached.
 *
 * One hash-map entry per user; offline users cost only their name, so a
 * domain of a million users fits in well under 100 MB.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { OnlineIndex } from "./online.ts";
import type { LookupRequest } from "../plumi/messages.ts";

/** What an extended agent's registration carries beyond the original's. */
export interface Session {
  /** Secret given to the agent at registration; proves later requests are its own. */
  readonly token: string;
  /** Heartbeat interval agreed at registration, in ms. */
  readonly heartbeatMs: number;
  /** The agent said it is in a conversation (busy). */
  busy: boolean;
}

/**
 * One UDP address that users registered from, shared by every user there: a
 * datagram from it is a sign of life of each of them.
 */
export interface EndpointState {
  /** `ip:port`. */
  readonly key: string;
  /** Online users registered here. */
  users: number;
  /** When a datagram last came from here, on the node's monotonic clock (ms); `-Infinity` never. */
  heardAt: number;
  /** Users taken offline for unanswered look-ups while registered here: any datagram from here brings them back. */
  lapsed: string[] | undefined;
}

/** Where an online user's agent is, and how it has been answering. */
export interface Registration {
  /** The agent's UDP address, taken from its PR datagram (a heartbeat may move it, e.g. after NAT rebinding). */
  endpoint: Endpoint;
  /** The state of that address (when it was last heard from). */
  at: EndpointState;
  /** Forwarded look-ups whose answer deadline passed with nothing heard from the agent. */
  unanswered: number;
  /** When the look-up now awaiting an answer was forwarded (monotonic ms), or -1 when none is. */
  awaitingSince: number;
  /** The last look-up forwarded while one awaits an answer: sent again while the agent is silent. */
  awaited: LookupRequest | undefined;
  /** When the last unanswered look-up was counted (monotonic ms); anything heard later clears the count. */
  missedAt: number;
  /** When it registered (ms since the epoch). */
  readonly since: number;
  /** Last sign of life: registration or heartbeat (ms since the epoch). */
  lastSeen: number;
  /** Present for agents that registered with the extended protocol. */
  readonly session?: Session;
}

/** A user and its state, as the administrator sees it. */
export interface UserEntry {
  readonly name: string;
  readonly registration: Registration | null;
}

/** The user table of a domain. */
export class Directory {
  #users = new Map<string, Registration | null>();
  /** The online users: a second, small map, so sweeps and listings do not walk every user. */
  #onlineUsers = new Map<string, Registration>();
  #changes = 0;
  /** The addresses online users are registered at (and lapsed users were), by `ip:port`. */
  #endpoints = new Map<string, EndpointState>();
  /** Users taken offline for unanswered look-ups, and where they were. */
  #lapsedAt = new Map<string, EndpointState>();
  /** When each user last went online or offline, as a reading of `changes` (only users that ever did). */
  #presenceStamps = new Map<string, number>();
  /** The online users' names in order, for paging the online list (`online.ts`). */
  readonly #onlineIndex = new OnlineIndex();
  /** Told of every registration made, moved or ended (the state journal). */
  #observer: ((name: string) => void) | undefined;

  constructor(users: Iterable<string> = []) {
    for (const name of users) this.#users.set(name, null);
  }

  /**
   * Call `observer` with the user's name whenever a registration is made,
   * moved or ended (by any method). One observer: the state journal. It must
   * be cheap: it runs on the packet path.
   */
  observe(observer: (name: string) => void): void {
    this.#observer = observer;
  }

  /** Number of users. */
  get size(): number {
    return this.#users.size;
  }

  /** Number of users online. */
  get onlineCount(): number {
    return this.#onlineUsers.size;
  }

  /** The online users and their registrations. */
  online(): IterableIterator<[string, Registration]> {
    return this.#onlineUsers.entries();
  }

  /** The names of the online users. */
  onlineNames(): IterableIterator<string> {
    return this.#onlineUsers.keys();
  }

  /** The online users' names in order (kept by `register`, `deregister` and `remove`). */
  get onlineIndex(): OnlineIndex {
    return this.#onlineIndex;
  }

  /** Counts every change of the table: compare two readings to see whether anything changed. */
  get changes(): number {
    return this.#changes;
  }

  /** Is some online user registered at `endpoint`? */
  hasEndpoint(endpoint: Endpoint): boolean {
    return (this.#endpoints.get(`${endpoint.ip}:${endpoint.port}`)?.users ?? 0) > 0;
  }

  /**
   * Note a datagram from `endpoint` at `now` (monotonic ms). Returns the
   * address's state when users are (or lapsed users were) registered there,
   * else `undefined`. One map look-up: this runs for every datagram.
   */
  heard(endpoint: Endpoint, now: number): EndpointState | undefined {
    const state = this.#endpoints.get(`${endpoint.ip}:${endpoint.port}`);
    if (state !== undefined) state.heardAt = now;
    return state;
  }

  /** Move an online user's registration to a new UDP address (an agent behind a NAT that rebinds). */
  moveEndpoint(name: string, endpoint: Endpoint): void {
    const registration = this.#users.get(name);
    if (!registration) return;
    this.#dropEndpoint(registration.at);
    registration.endpoint = endpoint;
    registration.at = this.#addEndpoint(endpoint);
    registration.awaitingSince = -1;
    this.#observer?.(name);
  }

  #addEndpoint(endpoint: Endpoint): EndpointState {
    const key = `${endpoint.ip}:${endpoint.port}`;
    let state = this.#endpoints.get(key);
    if (state === undefined) {
      state = { key, users: 0, heardAt: -Infinity, lapsed: undefined };
      this.#endpoints.set(key, state);
    }
    state.users++;
    return state;
  }

  #dropEndpoint(state: EndpointState): void {
    state.users--;
    if (state.users <= 0 && state.lapsed === undefined) this.#endpoints.delete(state.key);
  }

  /** Forget that `name` lapsed (it registered again, went offline for good, or is gone). */
  #unlapse(name: string): void {
    const state = this.#lapsedAt.get(name);
    if (state === undefined) return;
    this.#lapsedAt.delete(name);
    const rest = state.lapsed?.filter((n) => n !== name);
    state.lapsed = rest && rest.length > 0 ? rest : undefined;
    if (state.users <= 0 && state.lapsed === undefined) this.#endpoints.delete(state.key);
  }

  /**
   * Take `name` offline because its agent stopped answering look-ups, but
   * remember where it was: a datagram from there brings it back (see
   * {@linkcode Directory.heard}), and answers to its own look-ups still reach it.
   */
  lapse(name: string): boolean {
    const current = this.#users.get(name);
    if (!current) return false;
    this.deregister(name);
    const state = this.#endpoints.get(current.at.key) ?? current.at;
    this.#endpoints.set(state.key, state);
    state.lapsed = [...(state.lapsed ?? []), name];
    this.#lapsedAt.set(name, state);
    return true;
  }

  /** Where `name` was registered when it lapsed (offline for unanswered look-ups), if it did. */
  lapsedEndpoint(name: string): Endpoint | undefined {
    const state = this.#lapsedAt.get(name);
    if (state === undefined) return undefined;
    const colon = state.key.lastIndexOf(":");
    return { ip: state.key.slice(0, colon), port: Number(state.key.slice(colon + 1)) };
  }

  /** Is `name` a user of the domain? */
  has(name: string): boolean {
    return this.#users.has(name);
  }

  /** The registration of `name`, `null` if offline, `undefined` if no such user. */
  get(name: string): Registration | null | undefined {
    return this.#users.get(name);
  }

  /** Add a user (offline). Returns false if it already exists. */
  add(name: string): boolean {
    if (this.#users.has(name)) return false;
    this.#users.set(name, null);
    this.#changes++;
    return true;
  }

  /** Remove a user. Returns false if there was none. */
  remove(name: string): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (current) this.#dropEndpoint(current.at);
    this.#unlapse(name);
    this.#onlineUsers.delete(name);
    this.#onlineIndex.delete(name);
    this.#users.delete(name);
    this.#presenceStamps.delete(name);
    this.#changes++;
    if (current) this.#observer?.(name);
    return true;
  }

  /** The `changes` reading when `name` last went online, offline or busy; 0 if never. */
  presenceStamp(name: string): number {
    return this.#presenceStamps.get(name) ?? 0;
  }

  /** Record that the visible presence of `name` changed (online, offline, busy). */
  touchPresence(name: string): void {
    this.#changes++;
    this.#presenceStamps.set(name, this.#changes);
  }

  /** Mark `name` online at `endpoint`. Returns false if there is no such user. */
  register(name: string, endpoint: Endpoint, now: number, session?: Session): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (current) this.#dropEndpoint(current.at);
    else this.#unlapse(name);
    const registration: Registration = {
      endpoint,
      at: this.#addEndpoint(endpoint),
      unanswered: 0,
      awaitingSince: -1,
      awaited: undefined,
      missedAt: -Infinity,
      since: now,
      lastSeen: now,
      ...(session && { session }),
    };
    this.#users.set(name, registration);
    this.#onlineUsers.set(name, registration);
    if (!current) this.#onlineIndex.add(name);
    this.#changes++;
    if (!current) this.#presenceStamps.set(name, this.#changes);
    this.#observer?.(name);
    return true;
  }

  /** Mark `name` offline (and forget where it lapsed, if it did). Returns false if there is no such user. */
  deregister(name: string): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (current === null) this.#unlapse(name);
    if (current) {
      this.#dropEndpoint(current.at);
      this.#onlineUsers.delete(name);
      this.#onlineIndex.delete(name);
      this.#users.set(name, null);
      this.#changes++;
      this.#presenceStamps.set(name, this.#changes);
      this.#observer?.(name);
    }
    return true;
  }

  /** User names, in insertion order. */
  names(): IterableIterator<string> {
    return this.#users.keys();
  }

  /** Every user with its state, in insertion order. */
  *entries(): IterableIterator<UserEntry> {
    for (const [name, registration] of this.#users) yield { name, registration };
  }
}
