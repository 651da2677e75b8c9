/**
 * The users of one domain and where each online user's agent can be reached.
 *
 * One hash-map entry per user; offline users cost only their name, so a
 * domain of a million users fits in well under 100 MB.
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
  busy: boolean;
}

/** Where an online user's agent is, and how it has been answering. */
export interface Registration {
  /** The agent's UDP address, taken from its PR datagram (a heartbeat may move it, e.g. after NAT rebinding). */
  endpoint: Endpoint;
  /** Look-ups forwarded to the agent and not answered yet. */
  unanswered: number;
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
  /** How many online users are registered at each `ip:port`. */
  #endpoints = new Map<string, number>();
  /** When each user last went online or offline, as a reading of `changes` (only users that ever did). */
  #presenceStamps = new Map<string, number>();
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

  /** Counts every change of the table: compare two readings to see whether anything changed. */
  get changes(): number {
    return this.#changes;
  }

  /** Is some online user registered at `endpoint`? */
  hasEndpoint(endpoint: Endpoint): boolean {
    return this.#endpoints.has(`${endpoint.ip}:${endpoint.port}`);
  }

  /** Move an online user's registration to a new UDP address (an agent behind a NAT that rebinds). */
  moveEndpoint(name: string, endpoint: Endpoint): void {
    const registration = this.#users.get(name);
    if (!registration) return;
    this.#dropEndpoint(registration.endpoint);
    registration.endpoint = endpoint;
    this.#addEndpoint(endpoint);
    this.#observer?.(name);
  }

  #addEndpoint(endpoint: Endpoint): void {
    const key = `${endpoint.ip}:${endpoint.port}`;
    this.#endpoints.set(key, (this.#endpoints.get(key) ?? 0) + 1);
  }

  #dropEndpoint(endpoint: Endpoint): void {
    const key = `${endpoint.ip}:${endpoint.port}`;
    const count = this.#endpoints.get(key) ?? 0;
    if (count <= 1) this.#endpoints.delete(key);
    else this.#endpoints.set(key, count - 1);
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
    if (current) this.#dropEndpoint(current.endpoint);
    this.#onlineUsers.delete(name);
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
    const registration: Registration = {
      endpoint,
      unanswered: 0,
      since: now,
      lastSeen: now,
      ...(session && { session }),
    };
    if (current) this.#dropEndpoint(current.endpoint);
    this.#addEndpoint(endpoint);
    this.#users.set(name, registration);
    this.#onlineUsers.set(name, registration);
    this.#changes++;
    if (!current) this.#presenceStamps.set(name, this.#changes);
    this.#observer?.(name);
    return true;
  }

  /** Mark `name` offline. Returns false if there is no such user. */
  deregister(name: string): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (current) {
      this.#dropEndpoint(current.endpoint);
      this.#onlineUsers.delete(name);
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
