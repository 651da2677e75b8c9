/**
 * The agent's history as the chat uses it: every line sent and received is
 * kept (`store.ts`), `/history [address] [n]` and `/search <text>` show
 * them, and the last lines with a peer are shown when a conversation with
 * it opens. It never stops a chat: a file that cannot be opened, a full
 * disk, a lock held by another program or a read-only file each give one
 * clear warning line at the start of a burst of failures (the lines not
 * kept are counted), and one line when writing works again.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../../clock.ts";
import { historyText } from "../terminal/texts.ts";
import type { AgentUi } from "../terminal/ui.ts";
import {
  type Direction,
  type HistoryLine,
  HistoryStore,
  MAX_TEXT_BYTES,
  StoreError,
} from "./store.ts";

/** Lines shown when a conversation opens. */
export const LINES_ON_OPEN = 5;
/** Lines `/history` shows unless told otherwise. */
export const DEFAULT_HISTORY_LINES = 20;
/** Most lines `/history` or `/search` shows. */
export const MAX_HISTORY_LINES = 500;
/**
 * Lines are written together, in one transaction, this many ms after the
 * first of a burst: a peer sending thousands of lines costs one disk sync
 * per burst, not one per line, and never holds the event loop line by line.
 */
export const FLUSH_AFTER_MS = 100;
/** Most lines waiting to be written; past it the oldest waiting ones are not kept (counted). */
export const MAX_WAITING_LINES = 10_000;

/** Options of {@linkcode ChatHistory.open}. */
export interface ChatHistoryOptions {
  /** The history file. */
  readonly path: string;
  /** Where warnings and shown lines go. */
  readonly ui: AgentUi;
  /** Wall-clock ms, for the lines' times. Default: `Date.now`. */
  readonly now?: () => number;
  /** Most lines kept. Default: 100 000. */
  readonly maxLines?: number;
  /** Timers of the batched writes. Default: the system clock. */
  readonly clock?: Clock;
}

/** The history of one agent; every method is safe to call whatever the file's state. */
export class ChatHistory {
  readonly #store: HistoryStore | undefined;
  readonly #ui: AgentUi;
  readonly #now: () => number;
  readonly #clock: Clock;
  /** Lines waiting for the next write, oldest first. */
  #waiting: HistoryLine[] = [];
  /** Message ids of lines to mark delivered at the next write. */
  #delivered: string[] = [];
  #timer: TimerHandle | undefined;
  /** Lines that could not be kept since the start. */
  lost = 0;
  #failing = 0;

  private constructor(
    store: HistoryStore | undefined,
    ui: AgentUi,
    now: () => number,
    clock: Clock,
  ) {
    this.#store = store;
    this.#ui = ui;
    this.#now = now;
    this.#clock = clock;
  }

  /** Open the history at `options.path`; on failure, one warning, and a history that keeps nothing. */
  static open(options: ChatHistoryOptions): ChatHistory {
    let store: HistoryStore | undefined;
    try {
      store = HistoryStore.open(options.path, {
        ...(options.maxLines !== undefined && { maxLines: options.maxLines }),
      });
    } catch (error) {
      options.ui.warn(historyText.unavailable(describe(error)));
    }
    return new ChatHistory(
      store,
      options.ui,
      options.now ?? Date.now,
      options.clock ?? systemClock,
    );
  }

  /** Whether lines are being kept (the file opened). */
  get open(): boolean {
    return this.#store !== undefined;
  }

  /**
   * Keep a line sent to (`out`) or received from (`in`) `peer`, with its
   * message id if it has one: written with the others of its burst within
   * {@linkcode FLUSH_AFTER_MS}. Never throws.
   */
  record(peer: string, direction: Direction, text: string, messageId?: string): void {
    if (!this.#store) return;
    if (this.#waiting.length >= MAX_WAITING_LINES) {
      this.#waiting.shift();
      this.#lose(1, historyText.notKept(historyText.tooFast()));
    }
    this.#waiting.push({
      at: this.#now(),
      peer,
      direction,
      state: "sent",
      text,
      ...(messageId !== undefined && { messageId }),
    });
    this.#later();
  }

  /**
   * The line sent with `messageId` was delivered (its receipt came): its
   * state becomes `delivered`, written with the burst like the lines. An id
   * no line has is ignored. Never throws.
   */
  markDelivered(messageId: string): void {
    if (!this.#store) return;
    if (this.#delivered.length >= MAX_WAITING_LINES) this.#delivered.shift();
    this.#delivered.push(messageId);
    this.#later();
  }

  #later(): void {
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, FLUSH_AFTER_MS);
  }

  /** Write the lines waiting now (reads and closing do it first). Never throws. */
  flush(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const lines = this.#waiting;
    const delivered = this.#delivered;
    if (!this.#store || lines.length + delivered.length === 0) return;
    this.#waiting = [];
    this.#delivered = [];
    try {
      // Lines first: a receipt may come within the burst of its line.
      this.#store.recordAll(lines);
      this.#store.markDelivered(delivered);
      if (this.#failing > 0) this.#ui.info(historyText.worksAgain(this.#failing));
      this.#failing = 0;
    } catch (error) {
      this.#lose(lines.length, historyText.notKept(describe(error)));
    }
  }

  #lose(count: number, warning: string): void {
    this.lost += count;
    if (this.#failing === 0) this.#ui.warn(warning);
    this.#failing += count;
  }

  /** Show the last lines with `peer`, when a conversation with it opens (nothing if none). */
  showOnOpen(peer: string): void {
    const lines = this.#read(() => this.#store?.last(peer, LINES_ON_OPEN));
    if (!lines || lines.length === 0) return;
    this.#ui.info(historyText.lastWith(peer, lines.length));
    for (const line of lines) this.#ui.info(historyText.line(line));
  }

  /** `/history [address] [n]`: the last `n` lines, with `peer` or with anyone. */
  show(peer: string | undefined, n = DEFAULT_HISTORY_LINES): void {
    if (!this.#store) return this.#ui.warn(historyText.off());
    const lines = this.#read(() => this.#store!.last(peer, Math.min(n, MAX_HISTORY_LINES)));
    if (!lines) return;
    if (lines.length === 0) return this.#ui.info(historyText.empty(peer));
    for (const line of lines) this.#ui.info(historyText.line(line));
  }

  /** `/search <text>`: the last lines that hold `text`. */
  search(text: string, n = DEFAULT_HISTORY_LINES): void {
    if (!this.#store) return this.#ui.warn(historyText.off());
    const lines = this.#read(() => this.#store!.search(text, Math.min(n, MAX_HISTORY_LINES)));
    if (!lines) return;
    if (lines.length === 0) return this.#ui.info(historyText.notFound(text));
    for (const line of lines) this.#ui.info(historyText.line(line));
  }

  #read(read: () => HistoryLine[] | undefined): HistoryLine[] | undefined {
    this.flush();
    try {
      return read();
    } catch (error) {
      this.#ui.warn(historyText.unreadable(describe(error)));
      return undefined;
    }
  }

  /**
   * What the file remembers of receipts with `peer`, for a conversation after
   * a restart: the last `maxUnacked` lines sent with a message id and no
   * receipt (oldest first; a line the file had to cut is left out: it cannot
   * be sent again whole), and the ids of the last `maxSeen` lines received.
   * Never throws (a file that cannot be read remembers nothing).
   */
  resume(
    peer: string,
    maxUnacked: number,
    maxSeen: number,
  ): { unacked: { messageId: string; text: string }[]; seen: string[] } {
    const none = { unacked: [], seen: [] };
    if (!this.#store) return none;
    this.flush();
    try {
      const unacked = this.#store.unacked(peer, maxUnacked)
        .filter((line) => encoder.encode(line.text).length < MAX_TEXT_BYTES)
        .map((line) => ({ messageId: line.messageId!, text: line.text }));
      return { unacked, seen: this.#store.receivedIds(peer, maxSeen) };
    } catch {
      return none;
    }
  }

  /** Write what waits, then close the file. */
  close(): void {
    this.flush();
    this.#store?.close();
  }
}

const encoder = new TextEncoder();

function describe(error: unknown): string {
  if (error instanceof StoreError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
