/**
 * Names to slot numbers, for {@linkcode MemoryDirectory}: an open-addressing
 * hash table in one `Int32Array` (linear probing, at most half full), over
 * the directory's own array of names. A name costs 8 to 16 bytes here,
 * against 30 to 60 in a `Map`, and a look-up by a name just decoded from a
 * datagram (a string never hashed before) is about twice as fast.
 *
 * @module
 */

/**
 * A random start for the hash, drawn once per process, as V8 seeds its own
 * maps': names chosen to collide (by sign-ups) cannot be computed in advance.
 */
const SEED = crypto.getRandomValues(new Uint32Array(1))[0]!;

/** FNV-1a over the UTF-16 code units of `name`, from {@linkcode SEED}. */
function hash(name: string): number {
  let h = 0x811c9dc5 ^ SEED;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Finds the slot of a name among `names` (slot → name, kept by the owner).
 * The table holds `slot + 1` per cell, 0 for an empty cell.
 */
export class NameTable {
  readonly #names: readonly (string | undefined)[];
  #cells: Int32Array;
  #mask: number;
  #count = 0;

  /** A table over `names`, with room for `expected` names before it grows. */
  constructor(names: readonly (string | undefined)[], expected = 0) {
    this.#names = names;
    let size = 16;
    while (size < 2 * expected) size *= 2;
    this.#cells = new Int32Array(size);
    this.#mask = size - 1;
  }

  /** Names in the table. */
  get size(): number {
    return this.#count;
  }

  /** The slot of `name`, or -1. */
  get(name: string): number {
    const cells = this.#cells;
    const mask = this.#mask;
    for (let i = hash(name) & mask;; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) return -1;
      if (this.#names[cell - 1] === name) return cell - 1;
    }
  }

  /** Add `name`, whose slot is `slot` (its entry in `names` is set already); it must not be in the table. */
  add(name: string, slot: number): void {
    if (2 * (this.#count + 1) > this.#cells.length) this.#grow();
    this.#place(hash(name), slot);
    this.#count++;
  }

  /**
   * The slot of `name` if it is in the table; else add it at `slot` (its
   * entry in `names` is set already) and return -1. One search for both.
   */
  addIfAbsent(name: string, slot: number): number {
    if (2 * (this.#count + 1) > this.#cells.length) this.#grow();
    const cells = this.#cells;
    const mask = this.#mask;
    for (let i = hash(name) & mask;; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) {
        cells[i] = slot + 1;
        this.#count++;
        return -1;
      }
      if (this.#names[cell - 1] === name) return cell - 1;
    }
  }

  #place(h: number, slot: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = h & mask;
    while (cells[i] !== 0) i = (i + 1) & mask;
    cells[i] = slot + 1;
  }

  /** Remove `name` (call before its entry in `names` changes). Returns false if it was not there. */
  delete(name: string): boolean {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = hash(name) & mask;
    for (;; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) return false;
      if (this.#names[cell - 1] === name) break;
    }
    // Backward-shift deletion: move up every later cell of the run that may sit at `i`.
    let hole = i;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const cell = cells[j]!;
      if (cell === 0) break;
      const home = hash(this.#names[cell - 1]!) & mask;
      // The cell at j may fill the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[hole] = cell;
        hole = j;
      }
    }
    cells[hole] = 0;
    this.#count--;
    return true;
  }

  #grow(): void {
    const old = this.#cells;
    this.#cells = new Int32Array(old.length * 2);
    this.#mask = this.#cells.length - 1;
    for (const cell of old) if (cell !== 0) this.#place(hash(this.#names[cell - 1]!), cell - 1);
  }
}
