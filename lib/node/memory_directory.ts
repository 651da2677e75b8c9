/**
 * The in-memory {@linkcode Directory}: the one the node runs on.
 *
 * Compact by layout: each user is a slot number, found by name in one map;
 * everything else about it lives in typed arrays indexed by that slot (no
 * object per user, none per registration), and the UDP addresses in an
 * {@linkcode AddressTable} of their own, one slot per address shared by the
 * users there. A name is stored once (the map's key, the slot's name, and
 * the online index all hold the same string), so the datagram a name came in
 * is never kept alive by it. Sessions, the rare part, sit in a small map.
 * What callers read is built on demand ({@linkcode Registration}); what they
 * change goes through a method.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { AddressTable, grown } from "./address_table.ts";
import { NameTable } from "./name_table.ts";
import {
  type Directory,
  type ExpiryLimits,
  Heard,
  type HeartbeatChange,
  type OnlineNames,
  type Registration,
  type Session,
  type UserEntry,
  type UserOrigin,
} from "./directory.ts";
import { OnlineIndex } from "./online.ts";

/** Bits of `#flags`. */
const CONFIG = 1, SIGNUP = 2, ONLINE = 4, LAPSED = 8;

/**
 * The users of a domain in memory: about 60 bytes of arrays per user, besides
 * its name and its entry in the name map; see the module doc.
 *
 * @example
 * ```ts
 * const directory = new MemoryDirectory(["laura", "joan"]);
 * directory.register("laura", { ip: "192.0.2.7", port: 4000 }, Date.now());
 * directory.get("laura")?.endpoint; // { ip: "192.0.2.7", port: 4000 }
 * ```
 */
export class MemoryDirectory implements Directory {
  /** Each slot's user name (`undefined` for a free slot). */
  readonly #names: (string | undefined)[] = [];
  /** Each user's slot, by name. */
  readonly #slots: NameTable;
  /** The users in the order they became users: a doubly linked list of slots (-1 ends). */
  #first = -1;
  #last = -1;
  #nextUser = new Int32Array(0);
  #previousUser = new Int32Array(0);
  /** Slots freed by removed users, to use again. */
  readonly #free: number[] = [];
  #used = 0;
  #capacity = 0;
  #flags = new Uint8Array(0);
  /** The address slot of the registration, or where the user lapsed; -1 none. */
  #address = new Int32Array(0);
  /** The registration's id. */
  #id = new Float64Array(0);
  #since = new Float64Array(0);
  #lastSeen = new Float64Array(0);
  /** The `changes` reading of the user's last presence change; 0 never. */
  #stamp = new Float64Array(0);
  /** The users that lapsed at one address, as a doubly linked list through these two (-1 ends). */
  #previousLapsed = new Int32Array(0);
  #nextLapsed = new Int32Array(0);
  /** Sessions by slot; replaced, never changed, so that what a caller read stays as it was. */
  readonly #sessions = new Map<number, Session>();
  readonly #addresses = new AddressTable();
  readonly #onlineIndex = new OnlineIndex();
  #online = 0;
  #changes = 0;
  #nextId = 1;
  #observer: ((name: string) => void) | undefined;

  /** A directory of the users listed in `nodelumi.cfg` (`configured`) and created by sign-up (`signedUp`). */
  constructor(configured: Iterable<string> = [], signedUp: Iterable<string> = []) {
    const expected = Array.isArray(configured) ? configured.length : 0;
    this.#slots = new NameTable(this.#names, expected);
    this.#resize(Math.max(1024, expected));
    for (const name of configured) this.#add(name, CONFIG);
    for (const name of signedUp) this.#add(name, SIGNUP);
  }

  /** The observer is given the directory's own copy of each name (the datagram's can then go). */
  observe(observer: (name: string) => void): void {
    this.#observer = observer;
  }

  get size(): number {
    return this.#slots.size;
  }

  get onlineCount(): number {
    return this.#online;
  }

  get changes(): number {
    return this.#changes;
  }

  get onlineIndex(): OnlineNames {
    return this.#onlineIndex;
  }

  has(name: string): boolean {
    return this.#slots.get(name) >= 0;
  }

  isSignedUp(name: string): boolean {
    const slot = this.#slots.get(name);
    return slot >= 0 && (this.#flags[slot]! & SIGNUP) !== 0;
  }

  /** The users' slots in the order they became users (the next one read before each is used). */
  *#order(): IterableIterator<number> {
    for (let slot = this.#first; slot >= 0;) {
      const next = this.#nextUser[slot]!;
      yield slot;
      slot = next;
    }
  }

  names(): IterableIterator<string> {
    const names: string[] = [];
    for (const slot of this.#order()) names.push(this.#names[slot]!);
    return names.values();
  }

  configuredNames(): string[] {
    const names: string[] = [];
    for (const slot of this.#order()) {
      if (this.#flags[slot]! & CONFIG) names.push(this.#names[slot]!);
    }
    return names;
  }

  add(name: string, origin: UserOrigin = "config"): boolean {
    if (this.#slots.get(name) >= 0) return false;
    this.#add(name, origin === "config" ? CONFIG : SIGNUP);
    this.#changes++;
    return true;
  }

  /** Make `name` a user with `flags`, unless it is one already: then give it `flags` too. */
  #add(name: string, flags: number): void {
    const slot = this.#free.pop() ?? this.#take();
    this.#names[slot] = name;
    const found = this.#slots.addIfAbsent(name, slot);
    if (found >= 0) {
      this.#names[slot] = undefined;
      this.#free.push(slot);
      this.#flags[found]! |= flags;
      return;
    }
    this.#flags[slot] = flags;
    this.#address[slot] = -1;
    this.#stamp[slot] = 0;
    this.#previousUser[slot] = this.#last;
    this.#nextUser[slot] = -1;
    if (this.#last >= 0) this.#nextUser[this.#last] = slot;
    else this.#first = slot;
    this.#last = slot;
  }

  remove(name: string): boolean {
    const slot = this.#slots.get(name);
    if (slot < 0) return false;
    const online = (this.#flags[slot]! & ONLINE) !== 0;
    const own = this.#names[slot]!;
    if (online) this.#goOffline(slot);
    else if (this.#flags[slot]! & LAPSED) this.#unlapse(slot);
    this.#slots.delete(name);
    const previous = this.#previousUser[slot]!;
    const next = this.#nextUser[slot]!;
    if (previous >= 0) this.#nextUser[previous] = next;
    else this.#first = next;
    if (next >= 0) this.#previousUser[next] = previous;
    else this.#last = previous;
    this.#names[slot] = undefined;
    this.#flags[slot] = 0;
    this.#free.push(slot);
    this.#changes++;
    if (online) this.#observer?.(own);
    return true;
  }

  setConfigured(names: Iterable<string>): { added: string[]; removed: string[] } {
    const wanted = new Set(names);
    const added: string[] = [];
    for (const name of wanted) {
      const slot = this.#slots.get(name);
      if (slot >= 0) this.#flags[slot]! |= CONFIG;
      else if (this.add(name)) added.push(name);
    }
    const removed: string[] = [];
    for (const slot of this.#order()) {
      const name = this.#names[slot]!;
      if (!(this.#flags[slot]! & CONFIG) || wanted.has(name)) continue;
      if (this.#flags[slot]! & SIGNUP) this.#flags[slot]! &= ~CONFIG;
      else removed.push(name);
    }
    for (const name of removed) this.remove(name);
    return { added, removed };
  }

  get(name: string): Registration | null | undefined {
    const slot = this.#slots.get(name);
    if (slot < 0) return undefined;
    return this.#flags[slot]! & ONLINE ? this.#view(slot) : null;
  }

  #view(slot: number): Registration {
    const address = this.#address[slot]!;
    return {
      id: this.#id[slot]!,
      endpoint: this.#addresses.endpoint(address),
      heardAt: this.#addresses.heardAt(address),
      since: this.#since[slot]!,
      lastSeen: this.#lastSeen[slot]!,
      session: this.#sessions.get(slot),
    };
  }

  *online(): IterableIterator<[string, Registration]> {
    // By slot number, which any change leaves valid: a user online throughout is seen once.
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#flags[slot]! & ONLINE) yield [this.#names[slot]!, this.#view(slot)];
    }
  }

  *entries(): IterableIterator<UserEntry> {
    for (const slot of this.#order()) {
      const registration = this.#flags[slot]! & ONLINE ? this.#view(slot) : null;
      yield { name: this.#names[slot]!, registration };
    }
  }

  register(name: string, endpoint: Endpoint, since: number, session?: Session): number {
    const slot = this.#slots.get(name);
    if (slot < 0) return 0;
    const wasOnline = (this.#flags[slot]! & ONLINE) !== 0;
    if (wasOnline) this.#addresses.release(this.#address[slot]!);
    else if (this.#flags[slot]! & LAPSED) this.#unlapse(slot);
    this.#address[slot] = this.#addresses.acquire(endpoint);
    this.#flags[slot]! |= ONLINE;
    const id = this.#nextId++;
    this.#id[slot] = id;
    this.#since[slot] = since;
    this.#lastSeen[slot] = since;
    if (session) {
      this.#sessions.set(slot, {
        token: session.token,
        heartbeatMs: session.heartbeatMs,
        busy: session.busy,
        ...(session.sealKey !== undefined && { sealKey: session.sealKey }),
      });
    } else this.#sessions.delete(slot);
    this.#changes++;
    if (!wasOnline) {
      this.#onlineIndex.add(this.#names[slot]!);
      this.#online++;
      this.#stamp[slot] = this.#changes;
    }
    this.#observer?.(this.#names[slot]!);
    return id;
  }

  deregister(name: string): boolean {
    const slot = this.#slots.get(name);
    if (slot < 0) return false;
    if (this.#flags[slot]! & ONLINE) {
      this.#goOffline(slot);
      this.#changes++;
      this.#stamp[slot] = this.#changes;
      this.#observer?.(this.#names[slot]!);
    } else if (this.#flags[slot]! & LAPSED) this.#unlapse(slot);
    return true;
  }

  /** Take `slot` offline (its address released, out of the online index); not counted here. */
  #goOffline(slot: number): void {
    this.#addresses.release(this.#address[slot]!);
    this.#address[slot] = -1;
    this.#flags[slot]! &= ~ONLINE;
    this.#sessions.delete(slot);
    this.#onlineIndex.delete(this.#names[slot]!);
    this.#online--;
  }

  lapse(name: string, id?: number): boolean {
    const slot = this.#slots.get(name);
    if (slot < 0 || !(this.#flags[slot]! & ONLINE)) return false;
    if (id !== undefined && this.#id[slot] !== id) return false;
    const address = this.#address[slot]!;
    // Linked in first, so that the address stays while the user goes offline.
    const head = this.#addresses.lapsedHead(address);
    this.#previousLapsed[slot] = -1;
    this.#nextLapsed[slot] = head;
    if (head >= 0) this.#previousLapsed[head] = slot;
    this.#addresses.setLapsedHead(address, slot);
    this.#goOffline(slot);
    this.#address[slot] = address;
    this.#flags[slot]! |= LAPSED;
    this.#changes++;
    this.#stamp[slot] = this.#changes;
    this.#observer?.(this.#names[slot]!);
    return true;
  }

  /** Forget where `slot` lapsed (it registered again, went offline for good, or is gone). */
  #unlapse(slot: number): void {
    const address = this.#address[slot]!;
    const previous = this.#previousLapsed[slot]!;
    const next = this.#nextLapsed[slot]!;
    if (previous >= 0) this.#nextLapsed[previous] = next;
    else this.#addresses.setLapsedHead(address, next);
    if (next >= 0) this.#previousLapsed[next] = previous;
    this.#flags[slot]! &= ~LAPSED;
    this.#address[slot] = -1;
    this.#addresses.tidy(address);
  }

  lapsedEndpoint(name: string): Endpoint | undefined {
    const slot = this.#slots.get(name);
    if (slot < 0 || !(this.#flags[slot]! & LAPSED)) return undefined;
    return this.#addresses.endpoint(this.#address[slot]!);
  }

  lapsedAt(endpoint: Endpoint): string[] {
    const address = this.#addresses.find(endpoint);
    const names: string[] = [];
    if (address < 0) return names;
    for (
      let slot = this.#addresses.lapsedHead(address);
      slot >= 0;
      slot = this.#nextLapsed[slot]!
    ) {
      names.push(this.#names[slot]!);
    }
    return names;
  }

  heartbeat(name: string, from: Endpoint, now: number, busy: boolean): HeartbeatChange | undefined {
    const slot = this.#slots.get(name);
    if (slot < 0 || !(this.#flags[slot]! & ONLINE)) return undefined;
    this.#lastSeen[slot] = now;
    const moved = !this.#addresses.is(this.#address[slot]!, from);
    if (moved) {
      this.#addresses.release(this.#address[slot]!);
      this.#address[slot] = this.#addresses.acquire(from);
      this.#observer?.(this.#names[slot]!);
    }
    const session = this.#sessions.get(slot);
    const busyChanged = session !== undefined && session.busy !== busy;
    if (busyChanged) {
      this.#sessions.set(slot, { ...session, busy });
      this.touchPresence(name);
    }
    return { moved, busyChanged };
  }

  expire(now: number, limits: ExpiryLimits): string[] {
    const gone: string[] = [];
    if (limits.originalMs > 0) {
      for (let slot = 0; slot < this.#used; slot++) {
        if (!(this.#flags[slot]! & ONLINE)) continue;
        const session = this.#sessions.get(slot);
        const limit = session ? session.heartbeatMs * limits.heartbeats : limits.originalMs;
        if (limit > 0 && now - this.#lastSeen[slot]! > limit) gone.push(this.#names[slot]!);
      }
    } else {
      for (const [slot, session] of this.#sessions) {
        const limit = session.heartbeatMs * limits.heartbeats;
        if (limit > 0 && now - this.#lastSeen[slot]! > limit) gone.push(this.#names[slot]!);
      }
    }
    for (const name of gone) this.deregister(name);
    return gone;
  }

  heard(endpoint: Endpoint, now: number): number {
    const address = this.#addresses.find(endpoint);
    if (address < 0) return Heard.Nobody;
    this.#addresses.hear(address, now);
    return (this.#addresses.users(address) > 0 ? Heard.Online : 0) |
      (this.#addresses.lapsedHead(address) >= 0 ? Heard.Lapsed : 0);
  }

  hasEndpoint(endpoint: Endpoint): boolean {
    const address = this.#addresses.find(endpoint);
    return address >= 0 && this.#addresses.users(address) > 0;
  }

  presenceStamp(name: string): number {
    const slot = this.#slots.get(name);
    return slot < 0 ? 0 : this.#stamp[slot]!;
  }

  touchPresence(name: string): void {
    this.#changes++;
    const slot = this.#slots.get(name);
    if (slot >= 0) this.#stamp[slot] = this.#changes;
  }

  /** A slot never used yet (the arrays grow by half when full). */
  #take(): number {
    if (this.#used === this.#capacity) {
      this.#resize(Math.max(1024, Math.ceil(this.#capacity * 1.5)));
    }
    return this.#used++;
  }

  #resize(capacity: number): void {
    this.#flags = grown(this.#flags, new Uint8Array(capacity));
    this.#address = grown(this.#address, new Int32Array(capacity));
    this.#id = grown(this.#id, new Float64Array(capacity));
    this.#since = grown(this.#since, new Float64Array(capacity));
    this.#lastSeen = grown(this.#lastSeen, new Float64Array(capacity));
    this.#stamp = grown(this.#stamp, new Float64Array(capacity));
    this.#previousLapsed = grown(this.#previousLapsed, new Int32Array(capacity));
    this.#nextLapsed = grown(this.#nextLapsed, new Int32Array(capacity));
    this.#nextUser = grown(this.#nextUser, new Int32Array(capacity));
    this.#previousUser = grown(this.#previousUser, new Int32Array(capacity));
    this.#capacity = capacity;
  }
}
