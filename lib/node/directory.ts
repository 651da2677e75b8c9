/**
 * The users of one domain and where each online user's agent can be reached.
 *
 * One hash-map entry per user; offline users cost only their name, so a
 * domain of a million users fits in well under 100 MB.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** Where an online user's agent is, and how it has been answering. */
export interface Registration {
  /** The agent's UDP address, taken from its PR datagram. */
  readonly endpoint: Endpoint;
  /** Look-ups forwarded to the agent and not answered yet. */
  unanswered: number;
  /** When it registered (ms since the epoch). */
  readonly since: number;
}

/** A user and its state, as the administrator sees it. */
export interface UserEntry {
  readonly name: string;
  readonly registration: Registration | null;
}

/** The user table of a domain. */
export class Directory {
  #users = new Map<string, Registration | null>();
  #online = 0;
  #changes = 0;

  constructor(users: Iterable<string> = []) {
    for (const name of users) this.#users.set(name, null);
  }

  /** Number of users. */
  get size(): number {
    return this.#users.size;
  }

  /** Number of users online. */
  get onlineCount(): number {
    return this.#online;
  }

  /** Counts every change of the table: compare two readings to see whether anything changed. */
  get changes(): number {
    return this.#changes;
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
    if (current) this.#online--;
    this.#users.delete(name);
    this.#changes++;
    return true;
  }

  /** Mark `name` online at `endpoint`. Returns false if there is no such user. */
  register(name: string, endpoint: Endpoint, now: number): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (!current) this.#online++;
    this.#users.set(name, { endpoint, unanswered: 0, since: now });
    this.#changes++;
    return true;
  }

  /** Mark `name` offline. Returns false if there is no such user. */
  deregister(name: string): boolean {
    const current = this.#users.get(name);
    if (current === undefined) return false;
    if (current) {
      this.#online--;
      this.#users.set(name, null);
      this.#changes++;
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
