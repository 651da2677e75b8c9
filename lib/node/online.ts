/**
 * Who is online (`PO`): an ordered index of the online users' names, and the
 * pages of the online list cut from it. One page costs O(log n + page), never
 * a walk of every user online, so ten sessions asking for pages as fast as
 * they can do not slow the node down for everyone else.
 *
 * Two ways to page (docs/PROTOCOL.md, "Who is online"):
 * - **by cursor** (`c=`): a page is the names that follow the cursor, in
 *   name order, as many as fit; the answer's `c=` is the cursor of the next
 *   page, absent on the last. Every user online throughout the paging is
 *   listed exactly once, however many come and go meanwhile.
 * - **by number** (`p=`, what older agents send): page `p` is the names of
 *   ranks `(p - 1) × k … p × k - 1`, where `k` is how many of the longest
 *   online name fit in one answer. While users come and go the ranks shift,
 *   so a name may be missed or repeated across pages.
 *
 * @module
 */

import type { OnlineNames } from "./directory.ts";
import type { ExtensionReply } from "../plumi/messages.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "../plumi/messages.ts";
import { ONLINE_SIZES, OnlineExt } from "../plumi/extensions/mod.ts";

/** Longest user name, in bytes (see `isValidName`). */
const MAX_NAME = ONLINE_SIZES.maxName;

/** Names per block of the index: a block is split in two past twice this. */
const BLOCK = 512;

/**
 * The online users' names in order, with access by rank and by name. Kept
 * as a list of sorted blocks of at most {@linkcode BLOCK} × 2 names: a name
 * costs one pointer (the directory's own string), about 10 bytes with the
 * blocks' spare room, where a tree costs a node of some 64 bytes per name.
 * Finding a name is two binary searches; adding or removing one moves at
 * most a block; a rank walks the blocks (2,000 of them at a million names).
 * Names are compared as strings (user names are ASCII).
 *
 * Iterators stay valid while names come and go: each step yields the next
 * name after the last one yielded, as the index holds them then.
 *
 * @example
 * ```ts
 * const index = new OnlineIndex();
 * index.add("joan");
 * index.add("laura");
 * [...index.after("joan")]; // ["laura"]
 * ```
 */
export class OnlineIndex implements OnlineNames {
  /** Sorted, non-empty blocks; every name of a block sorts before every name of the next. */
  #blocks: string[][] = [];
  #size = 0;
  /** Moves at every change, so that iterators know to look their place up again. */
  #version = 0;
  /** How many online names have each length, so the longest is known in O(64). */
  readonly #lengths = new Array<number>(MAX_NAME + 1).fill(0);

  /** Names in the index. */
  get size(): number {
    return this.#size;
  }

  /** Length of the longest name in the index; 0 when empty. */
  get longest(): number {
    for (let length = MAX_NAME; length > 0; length--) if (this.#lengths[length]! > 0) return length;
    return 0;
  }

  /** The block that holds `name` or would: the first whose last name is not before it (else the last). */
  #block(name: string): number {
    const blocks = this.#blocks;
    let low = 0;
    let high = blocks.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (blocks[middle]!.at(-1)! < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Is `name` in the index? */
  has(name: string): boolean {
    if (this.#size === 0) return false;
    const block = this.#blocks[this.#block(name)]!;
    return block[lowerBound(block, name)] === name;
  }

  /** Add `name` (once: adding it again changes nothing). */
  add(name: string): void {
    if (this.#size === 0) {
      this.#blocks = [[name]];
    } else {
      const at = this.#block(name);
      const block = this.#blocks[at]!;
      const position = lowerBound(block, name);
      if (block[position] === name) return;
      block.splice(position, 0, name);
      if (block.length > 2 * BLOCK) this.#blocks.splice(at + 1, 0, block.splice(BLOCK));
    }
    this.#size++;
    this.#version++;
    this.#lengths[Math.min(name.length, MAX_NAME)]!++;
  }

  /** Remove `name`, if there. */
  delete(name: string): void {
    if (this.#size === 0) return;
    const at = this.#block(name);
    const block = this.#blocks[at]!;
    const position = lowerBound(block, name);
    if (block[position] !== name) return;
    block.splice(position, 1);
    if (block.length === 0) this.#blocks.splice(at, 1);
    this.#size--;
    this.#version++;
    this.#lengths[Math.min(name.length, MAX_NAME)]!--;
  }

  /** The names from rank `rank` on (0 is the first), in order. */
  *from(rank: number): IterableIterator<string> {
    if (rank < 0 || rank >= this.#size) return;
    let at = 0;
    while (rank >= this.#blocks[at]!.length) rank -= this.#blocks[at++]!.length;
    yield* this.#walk(at, rank);
  }

  /** The names after `name` in order (`""`: from the first). */
  *after(name: string): IterableIterator<string> {
    if (this.#size === 0) return;
    const at = this.#block(name);
    yield* this.#walk(at, upperBound(this.#blocks[at]!, name));
  }

  /** The names from position `position` of block `at` on, finding their place again after changes. */
  *#walk(at: number, position: number): IterableIterator<string> {
    let version = this.#version;
    for (;;) {
      let block = this.#blocks[at];
      if (block !== undefined && position >= block.length) {
        block = this.#blocks[++at];
        position = 0;
      }
      if (block === undefined) return;
      const name = block[position]!;
      yield name;
      if (version === this.#version) {
        position++;
        continue;
      }
      // Names came or went meanwhile: the next one is the first after `name`, wherever it is now.
      version = this.#version;
      if (this.#size === 0) return;
      at = this.#block(name);
      position = upperBound(this.#blocks[at]!, name);
    }
  }
}

/** The first position of sorted `names` whose name is not before `name`. */
function lowerBound(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[middle]! < name) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first position of sorted `names` whose name is after `name`. */
function upperBound(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[middle]! <= name) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * One page of the online list, for a `PO` whose caller is authenticated:
 * by cursor when the request carries `c=`, else by number (`p=`, default 1).
 * Every answer fits {@linkcode MAX_EXTENDED_PACKET_BYTES}.
 */
export function onlinePage(index: OnlineNames, params: readonly string[]): ExtensionReply {
  // Paging that does not decode (repeated, malformed) is read as none: the first page by number.
  const paging = OnlineExt.decodePaging(params);
  const { page, cursor } = paging.ok ? paging.value : {};
  return cursor === undefined ? pageByNumber(index, page) : pageAfter(index, cursor);
}

/** `RO0;u=…;…[;c=<last>]`: the names after `cursor` that fit, and the next cursor if more follow. */
function pageAfter(index: OnlineNames, cursor: string): ExtensionReply {
  // Room for "RO0" and for ";c=<name>" at the end, whatever the last name is.
  let room = MAX_EXTENDED_PACKET_BYTES - ONLINE_SIZES.afterFixed;
  const names: string[] = [];
  for (const name of index.after(cursor)) {
    const cost = ONLINE_SIZES.entry(name.length);
    if (cost > room) return OnlineExt.encodeReply({ kind: "after", names, next: names.at(-1)! });
    names.push(name);
    room -= cost;
  }
  return OnlineExt.encodeReply({ kind: "after", names });
}

/** `RO0;p=<page>/<pages>;u=…`: the names of page `p`, each page the same number of names. */
function pageByNumber(index: OnlineNames, wanted: number | undefined): ExtensionReply {
  const count = index.size;
  const digits = String(Math.max(1, count)).length; // a page number is at most `count`
  const fixed = ONLINE_SIZES.numberedFixed(digits);
  const perPage = Math.floor(
    (MAX_EXTENDED_PACKET_BYTES - fixed) / ONLINE_SIZES.entry(Math.max(1, index.longest)),
  );
  const pages = Math.max(1, Math.ceil(count / perPage));
  const page = Math.min(Math.max(1, wanted || 1), pages);
  const names: string[] = [];
  for (const name of index.from((page - 1) * perPage)) {
    if (names.length === perPage) break;
    names.push(name);
  }
  return OnlineExt.encodeReply({ kind: "numbered", page, pages, names });
}
