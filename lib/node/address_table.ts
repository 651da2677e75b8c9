/**
 * The UDP addresses users are registered at, for {@linkcode MemoryDirectory}:
 * one slot per address, shared by every user there, kept in typed arrays
 * (no object per address). An IPv4 address and its port are packed into one
 * number, the key; any other address text gets a small id. Keys are found
 * in an open-addressing table of slot numbers (linear probing, at most half
 * full): 8 to 16 bytes an address, where a `Map` of number keys costs 40 to 90.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** Keys from this one on are addresses that are not dotted-quad IPv4 (`TEXT_KEYS + id × 65536 + port`). */
const TEXT_KEYS = 2 ** 48;

/** A dotted-quad IPv4 address as a number, or -1 for any other text (leading zeros included: formatting must give the text back). */
export function packIpv4(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return value * 256 + part;
}

/** The dotted-quad text of a packed IPv4 address. */
function unpackIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** A well-mixed 32-bit hash of a key (below 2^53). */
function hashKey(key: number): number {
  let h = Math.imul((key % 4_294_967_296) ^ Math.floor(key / 4_294_967_296), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return (h ^ (h >>> 13)) >>> 0;
}

/** The addresses of a directory; a slot lives while users are registered or lapsed there. */
export class AddressTable {
  /** `slot + 1` per cell, 0 empty; see the module doc. */
  #cells = new Int32Array(64);
  #mask = 63;
  #count = 0;
  readonly #free: number[] = [];
  #capacity = 0;
  /** Slots handed out so far (free ones are in `#free`). */
  #used = 0;
  /** The packed address of each slot. */
  #key = new Float64Array(0);
  /** Online users registered at each slot. */
  #users = new Int32Array(0);
  /** When a datagram last came from each slot (monotonic ms). */
  #heardAt = new Float64Array(0);
  /** The first user (a directory slot) that lapsed at each slot, or -1. */
  #lapsed = new Int32Array(0);
  /** Addresses that are not IPv4, by text: their id and how many slots use them. */
  readonly #texts = new Map<string, { id: number; uses: number }>();
  readonly #textOf = new Map<number, string>();
  #nextText = 0;

  /** Addresses in use. */
  get size(): number {
    return this.#count;
  }

  /** The slot of `key`, or -1. */
  #find(key: number): number {
    const cells = this.#cells;
    const mask = this.#mask;
    for (let i = hashKey(key) & mask;; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) return -1;
      if (this.#key[cell - 1] === key) return cell - 1;
    }
  }

  /** Put `slot` (whose key is set) in the table. */
  #place(slot: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = hashKey(this.#key[slot]!) & mask;
    while (cells[i] !== 0) i = (i + 1) & mask;
    cells[i] = slot + 1;
  }

  /** Take `key`'s cell out of the table (backward-shift deletion: no tombstones). */
  #unplace(key: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    let hole = hashKey(key) & mask;
    while (this.#key[cells[hole]! - 1] !== key) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      const cell = cells[j]!;
      if (cell === 0) break;
      const home = hashKey(this.#key[cell - 1]!) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[hole] = cell;
        hole = j;
      }
    }
    cells[hole] = 0;
  }

  /** The key of `endpoint`, or -1 for a non-IPv4 address never seen. */
  #keyOf(endpoint: Endpoint): number {
    const ip = packIpv4(endpoint.ip);
    if (ip >= 0) return ip * 65536 + endpoint.port;
    const text = this.#texts.get(endpoint.ip);
    return text === undefined ? -1 : TEXT_KEYS + text.id * 65536 + endpoint.port;
  }

  /** The slot of `endpoint`, or -1. */
  find(endpoint: Endpoint): number {
    const key = this.#keyOf(endpoint);
    return key < 0 ? -1 : this.#find(key);
  }

  /** Is `slot` the slot of `endpoint`? */
  is(slot: number, endpoint: Endpoint): boolean {
    return this.#key[slot] === this.#keyOf(endpoint);
  }

  /** One more user registered at `endpoint`: its slot. */
  acquire(endpoint: Endpoint): number {
    let key = this.#keyOf(endpoint);
    if (key < 0) {
      const id = this.#nextText++;
      this.#texts.set(endpoint.ip, { id, uses: 0 });
      this.#textOf.set(id, endpoint.ip);
      key = TEXT_KEYS + id * 65536 + endpoint.port;
    }
    let slot = this.#find(key);
    if (slot < 0) {
      slot = this.#free.pop() ?? this.#take();
      this.#key[slot] = key;
      if (2 * (this.#count + 1) > this.#cells.length) this.#grow();
      this.#place(slot);
      this.#count++;
      this.#users[slot] = 0;
      this.#heardAt[slot] = -Infinity;
      this.#lapsed[slot] = -1;
      if (key >= TEXT_KEYS) this.#texts.get(endpoint.ip)!.uses++;
    }
    this.#users[slot]!++;
    return slot;
  }

  /** One user fewer registered at `slot`. */
  release(slot: number): void {
    this.#users[slot]!--;
    this.tidy(slot);
  }

  /** Free `slot` if no user is registered or lapsed there. */
  tidy(slot: number): void {
    if (this.#users[slot]! > 0 || this.#lapsed[slot]! >= 0) return;
    const key = this.#key[slot]!;
    this.#unplace(key);
    this.#count--;
    this.#free.push(slot);
    if (key >= TEXT_KEYS) {
      const id = Math.floor((key - TEXT_KEYS) / 65536);
      const ip = this.#textOf.get(id)!;
      const text = this.#texts.get(ip)!;
      if (--text.uses === 0) {
        this.#texts.delete(ip);
        this.#textOf.delete(id);
      }
    }
  }

  /** The address of `slot`, as a new object. */
  endpoint(slot: number): Endpoint {
    const key = this.#key[slot]!;
    const port = key % 65536;
    if (key < TEXT_KEYS) return { ip: unpackIpv4((key - port) / 65536), port };
    return { ip: this.#textOf.get(Math.floor((key - TEXT_KEYS) / 65536))!, port };
  }

  /** Online users registered at `slot`. */
  users(slot: number): number {
    return this.#users[slot]!;
  }

  /** When a datagram last came from `slot`. */
  heardAt(slot: number): number {
    return this.#heardAt[slot]!;
  }

  /** Note a datagram from `slot` at `now`. */
  hear(slot: number, now: number): void {
    this.#heardAt[slot] = now;
  }

  /** The first user that lapsed at `slot`, or -1. */
  lapsedHead(slot: number): number {
    return this.#lapsed[slot]!;
  }

  /** Set the first user that lapsed at `slot` (-1: none). */
  setLapsedHead(slot: number, user: number): void {
    this.#lapsed[slot] = user;
  }

  #grow(): void {
    const old = this.#cells;
    this.#cells = new Int32Array(old.length * 2);
    this.#mask = this.#cells.length - 1;
    for (const cell of old) if (cell !== 0) this.#place(cell - 1);
  }

  /** A slot never used yet (the arrays grow by half when full). */
  #take(): number {
    if (this.#used === this.#capacity) {
      const capacity = Math.max(64, Math.ceil(this.#capacity * 1.5));
      this.#key = grown(this.#key, new Float64Array(capacity));
      this.#users = grown(this.#users, new Int32Array(capacity));
      this.#heardAt = grown(this.#heardAt, new Float64Array(capacity));
      this.#lapsed = grown(this.#lapsed, new Int32Array(capacity));
      this.#capacity = capacity;
    }
    return this.#used++;
  }
}

/** `into`, holding `from` at its start. */
export function grown<T extends Float64Array | Int32Array | Uint8Array>(from: T, into: T): T {
  into.set(from);
  return into;
}
