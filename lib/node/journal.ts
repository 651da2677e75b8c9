/**
 * The registration journal: every change of an original registration
 * (made, moved, ended) since the last state snapshot, appended to a file and
 * flushed to disk in batches, so that a registration the node acknowledged
 * survives `kill -9` or a power cut once its batch is written — within
 * `commitMs` plus the time the disk takes to flush.
 *
 * The packet path only marks a user as changed (a set insertion); a timer
 * writes one record per changed user with its registration as it is then
 * (last writer wins), then `fdatasync`s. A journal is a series of segment
 * files `<state>.journal.<n>`: a snapshot starts a new segment
 * ({@linkcode RegistrationJournal.rotate}) and, once the snapshot is on
 * disk, the older segments are deleted. At start, every segment is replayed
 * on top of the snapshot, oldest first. Records set or clear one user's
 * registration, so replaying from any point before the snapshot gives the
 * same result, and a journal whose last record was torn by a crash loses
 * only that record.
 *
 * A record is one JSON line: `["r",name,"ip:port",since]` (registered) or
 * `["d",name]` (not registered, or by the extended protocol, whose sessions
 * do not survive a restart).
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../clock.ts";
import { formatEndpoint, isValidName, parseEndpoint } from "../plumi/address.ts";
import type { Directory } from "./directory.ts";

/** One change of the journal. */
export type JournalRecord =
  | { readonly op: "r"; readonly name: string; readonly endpoint: string; readonly since: number }
  | { readonly op: "d"; readonly name: string };

/** A journal that cannot be read back: a bad record followed by good ones (not a torn tail). */
export class JournalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JournalError";
  }
}

/** The record that describes `name`'s registration in `directory` now, as a line. */
export function recordLine(directory: Directory, name: string): string {
  const registration = directory.get(name);
  if (!registration || registration.session) return `${JSON.stringify(["d", name])}\n`;
  return `${
    JSON.stringify(["r", name, formatEndpoint(registration.endpoint), registration.since])
  }\n`;
}

/** Decode one journal line (without its newline); `undefined` if it is not a record. */
export function parseRecord(line: string): JournalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || typeof value[1] !== "string" || !isValidName(value[1])) {
    return undefined;
  }
  if (value[0] === "d" && value.length === 2) return { op: "d", name: value[1] };
  if (
    value[0] === "r" && value.length === 4 && typeof value[2] === "string" &&
    parseEndpoint(value[2]).ok && typeof value[3] === "number" && Number.isFinite(value[3])
  ) return { op: "r", name: value[1], endpoint: value[2], since: value[3] };
  return undefined;
}

/** What {@linkcode parseSegment} found in one segment's text. */
export interface ParsedSegment {
  readonly records: JournalRecord[];
  /** Bytes at the end that are no complete record (a write cut short): ignored. */
  readonly tornChars: number;
}

/**
 * The records of one segment's text. A last line without its newline, and
 * bad lines at the very end, are a torn tail: ignored. A bad line followed by
 * a good record is damage, not a crash: {@linkcode JournalError}.
 */
export function parseSegment(text: string, name = "the journal"): ParsedSegment {
  const records: JournalRecord[] = [];
  let start = 0;
  let badAt = -1;
  while (start < text.length) {
    const end = text.indexOf("\n", start);
    if (end < 0) break;
    const record = parseRecord(text.slice(start, end));
    if (record === undefined) {
      if (badAt < 0) badAt = start;
    } else if (badAt >= 0) {
      throw new JournalError(
        `The journal file ${name} is damaged at byte ${badAt}; move it away to start without it`,
      );
    } else records.push(record);
    start = end + 1;
  }
  return { records, tornChars: text.length - (badAt >= 0 ? badAt : start) };
}

/** Apply `records` to `directory` in order; users it no longer has are skipped. */
export function applyRecords(directory: Directory, records: Iterable<JournalRecord>): void {
  for (const record of records) {
    if (record.op === "d") directory.deregister(record.name);
    else {
      const endpoint = parseEndpoint(record.endpoint);
      if (endpoint.ok) directory.register(record.name, endpoint.value, record.since);
    }
  }
}

/** Options of {@linkcode RegistrationJournal}. */
export interface JournalOptions {
  /** The state file the journal belongs to; segments are `<statePath>.journal.<n>`. */
  readonly statePath: string;
  /** The registrations it records. */
  readonly directory: Directory;
  /** A change is written and flushed at most this long after it happened, in ms. Default: 200. */
  readonly commitMs?: number;
  /** Longest wait between two attempts after failed writes, in ms. Default: 5 000. */
  readonly maxRetryMs?: number;
  /** Timers. Default: the system clock. */
  readonly clock?: Clock;
  /** Called when writing starts failing (once until it works again). Default: ignore. */
  readonly onError?: (error: unknown) => void;
  /** Called when a write works again after failures. Default: ignore. */
  readonly onRecover?: () => void;
}

/** What {@linkcode RegistrationJournal.replay} did. */
export interface ReplayResult {
  /** Segment files read. */
  readonly segments: number;
  /** Records applied. */
  readonly records: number;
  /** Characters of torn tails ignored. */
  readonly tornChars: number;
}

/** Records written per write call, so a million changes never become one string. */
const SLICE = 10_000;

/** The journal of one node's registrations. */
export class RegistrationJournal {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #directory: Directory;
  readonly #commitMs: number;
  readonly #maxRetryMs: number;
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #onRecover: () => void;
  /** Users changed since the last commit. */
  #dirty = new Set<string>();
  /** Segment numbers on disk, ascending (the last may not exist yet). */
  #segments: number[] = [];
  /** The open segment; opened at the first commit after a rotation. */
  #file: Deno.FsFile | undefined;
  /** Bytes known to be in the open segment. */
  #size = 0;
  #timer: TimerHandle | undefined;
  #queue: Promise<void> = Promise.resolve();
  #backoff = 0;
  #closed = false;
  /** Changes marked so far (compare two readings to know whether anything changed). */
  #changes = 0;
  /** Counters. */
  readonly stats = { commits: 0, records: 0, failedCommits: 0 };

  constructor(options: JournalOptions) {
    const slash = options.statePath.lastIndexOf("/");
    this.#dir = slash < 0 ? "." : slash === 0 ? "/" : options.statePath.slice(0, slash);
    this.#prefix = `${options.statePath.slice(slash + 1)}.journal.`;
    this.#directory = options.directory;
    this.#commitMs = options.commitMs ?? 200;
    this.#maxRetryMs = Math.max(this.#commitMs, options.maxRetryMs ?? 5_000);
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#onRecover = options.onRecover ?? (() => {});
  }

  /** How many changes were marked so far. */
  get changes(): number {
    return this.#changes;
  }

  /** Path of segment `n`. */
  segmentPath(n: number): string {
    return `${this.#dir}/${this.#prefix}${n}`;
  }

  /**
   * Read every segment on disk into the directory, oldest first, and make
   * the next commit write a new segment. Call once, at start, after the
   * snapshot is loaded and before anything changes the directory.
   * Throws {@linkcode JournalError} for a damaged segment.
   */
  async replay(): Promise<ReplayResult> {
    const found: number[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (!entry.isFile || !entry.name.startsWith(this.#prefix)) continue;
        const n = entry.name.slice(this.#prefix.length);
        if (/^\d{1,15}$/.test(n)) found.push(Number(n));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    found.sort((a, b) => a - b);
    let records = 0;
    let tornChars = 0;
    for (const n of found) {
      const path = this.segmentPath(n);
      const parsed = parseSegment(await Deno.readTextFile(path), path);
      applyRecords(this.#directory, parsed.records);
      records += parsed.records.length;
      tornChars += parsed.tornChars;
    }
    this.#segments = [...found, (found.at(-1) ?? 0) + 1];
    return { segments: found.length, records, tornChars };
  }

  /** Note that `name`'s registration changed. Cheap: for the packet path. */
  touch(name: string): void {
    if (this.#closed) return;
    this.#dirty.add(name);
    this.#changes++;
    if (this.#timer === undefined && this.#backoff === 0) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        void this.commit();
      }, this.#commitMs);
    }
  }

  /** Write and flush the changes marked so far. Resolves when done (or failed: retried later). */
  commit(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#commitNow());
    return this.#queue;
  }

  /**
   * Start a new segment for the changes from now on (unless `fresh` is
   * false: then the current one goes on), and return the older segments: a
   * snapshot of the directory taken after this call makes them obsolete
   * ({@linkcode RegistrationJournal.drop} them once it is on disk).
   */
  rotate(fresh = true): Promise<number[]> {
    const done = this.#queue.then(() => {
      if (fresh) {
        this.#closeFile();
        this.#segments.push((this.#segments.at(-1) ?? 0) + 1);
      }
      return this.#segments.slice(0, -1);
    });
    this.#queue = done.then(() => {});
    return done;
  }

  /** Delete segments made obsolete by a snapshot, oldest first; stops at the first that stays. */
  drop(segments: readonly number[]): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      for (const n of [...segments].sort((a, b) => a - b)) {
        if (n === this.#segments.at(-1)) break;
        try {
          await Deno.remove(this.segmentPath(n));
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) break;
        }
        this.#segments = this.#segments.filter((s) => s !== n);
      }
    });
    return this.#queue;
  }

  /** Write what is marked, then close the segment. Later changes are not recorded. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.commit();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeFile();
  }

  /** Stop at once, writing nothing more. */
  abandon(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty.clear();
    this.#closeFile();
  }

  async #commitNow(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#dirty.size === 0) return;
    const names = this.#dirty;
    this.#dirty = new Set();
    const encoder = new TextEncoder();
    let written = 0;
    try {
      this.#file ??= await this.#openSegment();
      const file = this.#file;
      let lines: string[] = [];
      const flushLines = async () => {
        const bytes = encoder.encode(lines.join(""));
        lines = [];
        let offset = 0;
        while (offset < bytes.length) {
          const n = await file.write(bytes.subarray(offset));
          offset += n;
          written += n;
        }
      };
      for (const name of names) {
        lines.push(recordLine(this.#directory, name));
        if (lines.length === SLICE) await flushLines();
      }
      if (lines.length > 0) await flushLines();
      await file.syncData();
    } catch (error) {
      await this.#failed(names, written, error);
      return;
    }
    this.#size += written;
    this.stats.commits++;
    this.stats.records += names.size;
    if (this.#backoff > 0) {
      this.#backoff = 0;
      this.#onRecover();
    }
  }

  async #openSegment(): Promise<Deno.FsFile> {
    const n = this.#segments.at(-1) ?? 1;
    if (this.#segments.length === 0) this.#segments.push(n);
    const file = await Deno.open(this.segmentPath(n), {
      write: true,
      append: true,
      create: true,
      mode: 0o600,
    });
    try {
      this.#size = (await file.stat()).size;
    } catch (error) {
      file.close();
      throw error;
    }
    return file;
  }

  /** A commit failed: keep its users for the next one, cut off what it wrote part way. */
  async #failed(names: Set<string>, written: number, error: unknown): Promise<void> {
    for (const name of names) this.#dirty.add(name);
    this.stats.failedCommits++;
    if (this.#file && written > 0) {
      // A record cut in two would be damage once good ones follow it: cut it off, or, where the
      // file cannot be cut (immutable), go on in a new segment, where this one's tail is a torn end.
      try {
        await this.#file.truncate(this.#size);
      } catch {
        this.#closeFile();
        this.#segments.push((this.#segments.at(-1) ?? 0) + 1);
      }
    }
    if (this.#backoff === 0) {
      this.#backoff = this.#commitMs;
      this.#onError(error);
    } else this.#backoff = Math.min(this.#backoff * 2, this.#maxRetryMs);
    if (!this.#closed && this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        void this.commit();
      }, this.#backoff);
    }
  }

  #closeFile(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = undefined;
    this.#size = 0;
  }
}
