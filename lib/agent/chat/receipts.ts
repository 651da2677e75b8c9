/**
 * What receipts remember per peer, beyond one conversation (PROTOCOL.md,
 * "Message ids and receipts"): the lines sent and not yet acknowledged, in
 * order (sent again when a conversation with that peer is back, whoever
 * calls), and the ids of the lines recently received (a line that comes again
 * is dropped). Kept in memory, keyed by the address the peer's key proved;
 * everything bounded. Pure.
 *
 * @module
 */

import { sameAddress } from "../addresses.ts";

/** Most unacknowledged pieces kept per peer; past it the oldest are given up (counted). */
export const MAX_UNACKED = 4_096;
/** Most bytes of unacknowledged text kept per peer. */
export const MAX_UNACKED_BYTES = 1024 * 1024;
/** Received ids remembered per peer for dropping duplicates (more than a sender keeps unacked). */
export const MAX_SEEN_IDS = 2 * MAX_UNACKED;
/** Most peers remembered; the one used longest ago goes first. */
export const MAX_PEERS = 256;

/** One piece of a line sent, waiting for its receipt. */
export interface Unacked {
  /** Its message id (each piece of a long line has its own). */
  readonly id: string;
  /** The piece's text, UTF-8. */
  readonly piece: Uint8Array;
  /** On the last piece of a line: the line's message id (the one history keeps). */
  readonly lineId?: string;
}

/** The receipts state with one peer. */
export class PeerReceipts {
  /** The peer's address. */
  readonly address: string;
  readonly #unacked = new Map<string, Unacked>();
  #unackedBytes = 0;
  readonly #seen = new Set<string>();
  /** Pieces given up unacknowledged (bound reached, or the peer does not acknowledge). */
  abandoned = 0;
  /** Lines received again and dropped. */
  duplicates = 0;

  constructor(address: string) {
    this.address = address;
  }

  /** Keep `entry` until its receipt comes; the oldest are given up past the bounds. */
  keep(entry: Unacked): void {
    this.#unacked.set(entry.id, entry);
    this.#unackedBytes += entry.piece.length;
    while (this.#unacked.size > MAX_UNACKED || this.#unackedBytes > MAX_UNACKED_BYTES) {
      const [id, oldest] = this.#unacked.entries().next().value!;
      this.#unacked.delete(id);
      this.#unackedBytes -= oldest.piece.length;
      this.abandoned++;
    }
  }

  /** The receipt of `id` came: forget it; returns what it was (`undefined`: unknown or known already). */
  ack(id: string): Unacked | undefined {
    const entry = this.#unacked.get(id);
    if (!entry) return undefined;
    this.#unacked.delete(id);
    this.#unackedBytes -= entry.piece.length;
    return entry;
  }

  /** The pieces still waiting for a receipt, oldest first. */
  unacked(): Unacked[] {
    return [...this.#unacked.values()];
  }

  /** How many pieces wait for a receipt. */
  get pending(): number {
    return this.#unacked.size;
  }

  /** Give up every piece waiting (the peer does not acknowledge): how many. */
  abandon(): number {
    const n = this.#unacked.size;
    this.#unacked.clear();
    this.#unackedBytes = 0;
    this.abandoned += n;
    return n;
  }

  /**
   * A line with `id` arrived: `true` if it is new (remembered from now on),
   * `false` if it came before (a duplicate, to drop).
   */
  arrived(id: string): boolean {
    if (this.#seen.has(id)) {
      this.duplicates++;
      return false;
    }
    this.#seen.add(id);
    if (this.#seen.size > MAX_SEEN_IDS) this.#seen.delete(this.#seen.values().next().value!);
    return true;
  }
}

/** What an earlier run left with a peer (from the history file). */
export interface Remembered {
  /** Lines sent with a message id and no receipt, oldest first. */
  readonly unacked: readonly { readonly messageId: string; readonly text: string }[];
  /** Ids of lines received. */
  readonly seen: readonly string[];
}

/**
 * The receipts state of every peer, by address (case as `sameAddress`
 * ignores it). With `remember`, a peer's state starts from what an earlier
 * run left (its history), so that lines unacknowledged when the agent
 * stopped are sent again, and lines received before are still dropped.
 */
export class ReceiptBook {
  readonly #peers = new Map<string, PeerReceipts>();
  readonly #remember: ((address: string) => Remembered) | undefined;

  /** A book, empty, or starting each peer from `remember`. */
  constructor(remember?: (address: string) => Remembered) {
    this.#remember = remember;
  }

  /** The state with `address`, made on first use. */
  peer(address: string): PeerReceipts {
    const key = keyOf(address);
    let peer = this.#peers.get(key);
    if (peer) this.#peers.delete(key);
    else peer = this.#start(address);
    // Most recently used last; the first goes when the book is full.
    this.#peers.set(key, peer);
    if (this.#peers.size > MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value!);
    return peer;
  }

  #start(address: string): PeerReceipts {
    const peer = new PeerReceipts(address);
    const remembered = this.#remember?.(address);
    for (const id of remembered?.seen ?? []) peer.arrived(id);
    for (const { messageId, text } of remembered?.unacked ?? []) {
      peer.keep({ id: messageId, piece: encoder.encode(text), lineId: messageId });
    }
    return peer;
  }

  /** The state with `address`, if any (not made). */
  find(address: string): PeerReceipts | undefined {
    const found = this.#peers.get(keyOf(address));
    return found && sameAddress(found.address, address) ? found : undefined;
  }
}

const encoder = new TextEncoder();

function keyOf(address: string): string {
  return address.toLowerCase();
}
