/**
 * Registrations kept across restarts: which users were online and where.
 * An original agent registers once and never again, so a node that forgot
 * its registrations on restart would make every such user unreachable.
 *
 * The file is JSON, replaced atomically, so it is never half written, and
 * readable by its owner only. It is a snapshot, taken every few seconds when
 * something changed; the changes since the last snapshot are in the
 * registration journal (`journal.ts`), written within 200 ms of each change,
 * so a crash loses no registration older than that.
 * {@linkcode StateKeeper} runs the two together.
 *
 * @module
 */

import { restrictMode, writeFileAtomic } from "../atomic_file.ts";
import { type Clock, systemClock, type TimerHandle } from "../clock.ts";
import { isValidName, parseEndpoint } from "../plumi/address.ts";
import type { Directory } from "./directory.ts";
import { JournalError, RegistrationJournal, type ReplayResult } from "./journal.ts";

/** A state file that exists but cannot be read back. */
export class StateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateError";
  }
}

interface StateFile {
  readonly version: 1;
  /** `[name, "ip:port", since]` per online user. */
  readonly online: [string, string, number][];
}

/** Write the online users of `directory` that registered with the original protocol to `path`. */
export async function saveState(path: string, directory: Directory): Promise<void> {
  await writeFileAtomic(path, stateText(directory), { mode: 0o600 });
}

/**
 * The state file's text, in pieces of {@linkcode SLICE} registrations: each
 * piece is written before the next is made, so a million registrations
 * neither stop the node answering nor exist as one huge string.
 */
async function* stateText(directory: Directory): AsyncGenerator<string> {
  yield `{"version":1,"online":[`;
  let slice: string[] = [];
  let first = true;
  for (const [name, registration] of directory.online()) {
    // An extended agent's session (its token) does not survive a restart: the agent is told
    // RK1 and registers again. Restored without a session, it would never expire.
    if (registration.session) continue;
    const { ip, port } = registration.endpoint;
    slice.push(JSON.stringify([name, `${ip}:${port}`, registration.since]));
    if (slice.length === SLICE) {
      yield (first ? "" : ",") + slice.join(",");
      first = false;
      slice = [];
    }
  }
  if (slice.length > 0) yield (first ? "" : ",") + slice.join(",");
  yield "]}\n";
}

/** Registrations serialised between two yields to the event loop. */
const SLICE = 2_000;

/**
 * Restore registrations from `path` into `directory`. A missing file is a
 * first start (returns 0); a corrupt one throws {@linkcode StateError}.
 * Users no longer in the directory are skipped. Returns how many were restored.
 */
export async function loadState(path: string, directory: Directory): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw new StateError(`Cannot read the state file ${path}: ${error}`, { cause: error });
  }
  return restoreState(text, directory, path);
}

/**
 * Restore the registrations of a state file's `text` (read from `path`)
 * into `directory`; see {@linkcode loadState}.
 */
export function restoreState(text: string, directory: Directory, path = "the state file"): number {
  const corrupt = (why: string) =>
    new StateError(`The state file ${path} is corrupt (${why}); move it away to start without it`);
  let restored = 0;
  for (const entry of entriesOf(text, path)) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isValidName(entry[0])) {
      throw corrupt("bad entry");
    }
    const endpoint = parseEndpoint(String(entry[1]));
    if (!endpoint.ok || typeof entry[2] !== "number") throw corrupt(`bad entry for ${entry[0]}`);
    if (directory.register(entry[0], endpoint.value, entry[2])) restored++;
  }
  return restored;
}

/** How a state file written by {@linkcode saveState} begins and ends. */
const HEAD = `{"version":1,"online":[`;
const TAIL = "]}\n";

/**
 * The entries of a state file's text. A file as {@linkcode saveState} writes
 * it is read one entry at a time (an entry ends at its first `]`: names and
 * addresses have none), so that a million registrations are never a million
 * arrays alive at once; any other JSON is parsed whole.
 */
function* entriesOf(text: string, path: string): Generator<unknown> {
  if (isOwnLayout(text)) {
    const end = text.length - TAIL.length;
    for (let at = HEAD.length; at < end;) {
      const close = text.indexOf("]", at);
      yield parseEntry(text.slice(at, close + 1), path);
      at = close + 2; // past "],"
    }
    return;
  }
  const state = parseJson(text, path) as Partial<StateFile> | null;
  if (state?.version !== 1 || !Array.isArray(state.online)) {
    throw new StateError(
      `The state file ${path} is corrupt (unknown layout); move it away to start without it`,
    );
  }
  yield* state.online;
}

/** Is `text` laid out as {@linkcode saveState} writes it: entries `[…]` joined by commas between the head and the tail? */
function isOwnLayout(text: string): boolean {
  if (!text.startsWith(HEAD) || !text.endsWith(TAIL)) return false;
  const end = text.length - TAIL.length;
  for (let at = HEAD.length; at < end;) {
    if (text[at] !== "[") return false;
    const close = text.indexOf("]", at);
    if (close < 0 || close >= end) return false;
    if (close + 1 === end) return true; // the last entry
    if (text[close + 1] !== ",") return false;
    at = close + 2; // another entry must follow the comma
  }
  return text.length === HEAD.length + TAIL.length; // no entry at all
}

/** A JSON number as `JSON.stringify` writes one (so that `Number` reads it as `JSON.parse` would). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * One entry `["name","ip:port",since]`: taken apart by hand when it holds
 * nothing to unescape (twice as fast as `JSON.parse` for a million), else parsed.
 */
function parseEntry(entry: string, path: string): unknown {
  if (entry.startsWith(`["`) && !entry.includes("\\")) {
    const nameEnd = entry.indexOf(`","`, 2);
    const endpointEnd = nameEnd < 0 ? -1 : entry.indexOf(`",`, nameEnd + 3);
    const since = endpointEnd < 0 ? "" : entry.slice(endpointEnd + 2, -1);
    if (
      endpointEnd > 0 && !entry.slice(2, nameEnd).includes(`"`) &&
      !entry.slice(nameEnd + 3, endpointEnd).includes(`"`) && JSON_NUMBER.test(since)
    ) {
      return [entry.slice(2, nameEnd), entry.slice(nameEnd + 3, endpointEnd), Number(since)];
    }
  }
  return parseJson(entry, path);
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StateError(
      `The state file ${path} is corrupt (not JSON); move it away to start without it`,
      { cause: error },
    );
  }
}

/** Options of {@linkcode StateKeeper.open}. */
export interface StateKeeperOptions {
  /** The state file. */
  readonly path: string;
  /** The registrations to keep. */
  readonly directory: Directory;
  /** A snapshot is taken this often when something changed (and retried as often when it failed), in ms. Default: 5 000. */
  readonly intervalMs?: number;
  /** Changes are written to the journal at most this long after they happen, in ms. Default: 200. */
  readonly commitMs?: number;
  /** Timers. Default: the system clock. */
  readonly clock?: Clock;
  /** Called when saving a snapshot (`"state"`) or writing the journal (`"journal"`) starts failing. Default: ignore. */
  readonly onError?: (what: "state" | "journal", error: unknown) => void;
  /** Called when it works again. Default: ignore. */
  readonly onRecover?: (what: "state" | "journal") => void;
  /** Called at start for a state file that others could read, after it was made owner-only (or could not be). */
  readonly onLooseMode?: (mode: number, error?: unknown) => void;
}

/**
 * The registrations of a running node kept on disk: the snapshot restored
 * and the journal replayed at start, every change journaled, a snapshot
 * taken every `intervalMs` when something changed (retried until one works),
 * and a last one at {@linkcode StateKeeper.close}.
 *
 * @example
 * ```ts
 * const keeper = await StateKeeper.open({ path: "nodelumi-bb.com.state", directory });
 * // … the node runs …
 * await keeper.close();
 * ```
 */
export class StateKeeper {
  readonly #path: string;
  readonly #directory: Directory;
  readonly #journal: RegistrationJournal;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #onError: (what: "state" | "journal", error: unknown) => void;
  readonly #onRecover: (what: "state" | "journal") => void;
  /** The journal's change count the last snapshot on disk covers; -1 for "take one". */
  #savedAt = 0;
  #saving: Promise<boolean> | undefined;
  #failing = false;
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Registrations restored at start (online users after the snapshot and the journal). */
  restored = 0;
  /** What the journal replay found at start. */
  replayed: ReplayResult = { segments: 0, records: 0, tornChars: 0 };

  private constructor(options: StateKeeperOptions) {
    this.#path = options.path;
    this.#directory = options.directory;
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#onRecover = options.onRecover ?? (() => {});
    this.#journal = new RegistrationJournal({
      statePath: options.path,
      directory: options.directory,
      ...(options.commitMs !== undefined && { commitMs: options.commitMs }),
      clock: this.#clock,
      onError: (error) => this.#onError("journal", error),
      onRecover: () => this.#onRecover("journal"),
    });
  }

  /**
   * Restore the registrations into `options.directory` and start keeping
   * them. Throws {@linkcode StateError} for a state file or journal that
   * cannot be read back.
   */
  static async open(options: StateKeeperOptions): Promise<StateKeeper> {
    const keeper = new StateKeeper(options);
    const loose = await restrictMode(options.path);
    if (loose) options.onLooseMode?.(loose.mode, loose.error);
    await loadState(options.path, options.directory);
    try {
      keeper.replayed = await keeper.#journal.replay();
    } catch (error) {
      if (error instanceof JournalError) throw new StateError(error.message, { cause: error });
      throw new StateError(`Cannot read the journal of ${options.path}: ${error}`, {
        cause: error,
      });
    }
    keeper.restored = options.directory.onlineCount;
    // Segments found are folded into a snapshot at the first tick, then deleted.
    if (keeper.replayed.segments > 0) keeper.#savedAt = -1;
    options.directory.observe((name) => keeper.#journal.touch(name));
    keeper.#schedule();
    return keeper;
  }

  /** The journal's counters. */
  get journalStats(): RegistrationJournal["stats"] {
    return this.#journal.stats;
  }

  /**
   * Take a snapshot now (or wait for the one under way). True if it is on
   * disk; a failure is reported to `onError` once and retried at the next
   * interval.
   */
  save(): Promise<boolean> {
    this.#saving ??= this.#snapshot().finally(() => (this.#saving = undefined));
    return this.#saving;
  }

  /** Stop the timer, write the journal, take a last snapshot. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#saving;
    // The journal first: if the snapshot fails, the changes are still on disk.
    await this.#journal.commit();
    await this.save();
    await this.#journal.close();
  }

  /** Stop without writing anything (a start that failed after {@linkcode StateKeeper.open}). */
  abandon(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#journal.abandon();
  }

  async #snapshot(): Promise<boolean> {
    const changes = this.#journal.changes;
    // While snapshots fail, the journal goes on in one segment rather than one per attempt.
    const fresh = !this.#failing;
    const obsolete = await this.#journal.rotate(fresh);
    try {
      await saveState(this.#path, this.#directory);
    } catch (error) {
      if (!this.#failing) {
        this.#failing = true;
        this.#onError("state", error);
      }
      return false;
    }
    this.#savedAt = changes;
    if (this.#failing) {
      this.#failing = false;
      this.#onRecover("state");
    }
    await this.#journal.drop(obsolete);
    // The segment that went on through the outage is folded by one more snapshot at once.
    if (!fresh) return await this.#snapshot();
    return true;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(async () => {
      if (this.#journal.changes !== this.#savedAt) await this.save();
      this.#schedule();
    }, this.#intervalMs);
  }
}
