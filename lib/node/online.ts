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

// @ts-types="npm:@types/functional-red-black-tree@^1.0.6"
import createTree from "#rbtree";
import type { ExtensionReply } from "../plumi/messages.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "../plumi/messages.ts";
import { ONLINE_SIZES, OnlineExt } from "../plumi/extensions/mod.ts";

/** Longest user name, in bytes (see `isValidName`). */
const MAX_NAME = ONLINE_SIZES.maxName;

/**
 * The online users' names in order, with access by rank and by name, each
 * in O(log n). Names are compared as strings (user names are ASCII).
 *
 * @example
 * ```ts
 * const index = new OnlineIndex();
 * index.add("joan");
 * index.add("laura");
 * [...index.after("joan")]; // ["laura"]
 * ```
 */
export class OnlineIndex {
  #tree: createTree.Tree<string, true> = createTree<string, true>();
  /** How many online names have each length, so the longest is known in O(64). */
  readonly #lengths = new Array<number>(MAX_NAME + 1).fill(0);

  /** Names in the index. */
  get size(): number {
    return this.#tree.length;
  }

  /** Length of the longest name in the index; 0 when empty. */
  get longest(): number {
    for (let length = MAX_NAME; length > 0; length--) if (this.#lengths[length]! > 0) return length;
    return 0;
  }

  /** Is `name` in the index? */
  has(name: string): boolean {
    return this.#tree.get(name) !== undefined;
  }

  /** Add `name` (once: adding it again changes nothing). */
  add(name: string): void {
    if (this.has(name)) return;
    this.#tree = this.#tree.insert(name, true);
    this.#lengths[Math.min(name.length, MAX_NAME)]!++;
  }

  /** Remove `name`, if there. */
  delete(name: string): void {
    if (!this.has(name)) return;
    this.#tree = this.#tree.remove(name);
    this.#lengths[Math.min(name.length, MAX_NAME)]!--;
  }

  /** The names from rank `rank` on (0 is the first), in order. */
  *from(rank: number): IterableIterator<string> {
    if (rank < 0 || rank >= this.size) return; // `at` of an empty tree fails
    for (const it = this.#tree.at(rank); it.valid; it.next()) yield it.key!;
  }

  /** The names after `name` in order (`""`: from the first). */
  *after(name: string): IterableIterator<string> {
    for (const it = this.#tree.gt(name); it.valid; it.next()) yield it.key!;
  }
}

/**
 * One page of the online list, for a `PO` whose caller is authenticated:
 * by cursor when the request carries `c=`, else by number (`p=`, default 1).
 * Every answer fits {@linkcode MAX_EXTENDED_PACKET_BYTES}.
 */
export function onlinePage(index: OnlineIndex, params: readonly string[]): ExtensionReply {
  // Paging that does not decode (repeated, malformed) is read as none: the first page by number.
  const paging = OnlineExt.decodePaging(params);
  const { page, cursor } = paging.ok ? paging.value : {};
  return cursor === undefined ? pageByNumber(index, page) : pageAfter(index, cursor);
}

/** `RO0;u=…;…[;c=<last>]`: the names after `cursor` that fit, and the next cursor if more follow. */
function pageAfter(index: OnlineIndex, cursor: string): ExtensionReply {
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
function pageByNumber(index: OnlineIndex, wanted: number | undefined): ExtensionReply {
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
