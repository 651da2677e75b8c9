/**
 * The agent's history file: every line sent and received, with its time,
 * peer, direction and delivery state, in one SQLite file of its own
 * (`node:sqlite`, as the node's account database), created owner-only (mode
 * 0600). Opened with the node's care: a FIFO or folder is refused before
 * SQLite touches it, a file that is not ours (another program's SQLite
 * file, or no SQLite at all) is refused untouched, and a file that can only
 * be read is opened read-only (its lines can still be shown). Bounded: at
 * most `maxLines` lines, the oldest deleted first, and each line at most
 * {@linkcode MAX_TEXT_BYTES}. Every read or write that fails throws a
 * `StoreError` with its fault kind (locked, full, read-only…), for
 * `history.ts` to turn into a warning: the store never stops a chat.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { faultOf, faultWords, StoreError } from "../../node/store_error.ts";

export { StoreError } from "../../node/store_error.ts";

/** `PRAGMA application_id` of history files: "LUMH" in ASCII. */
export const HISTORY_APPLICATION_ID = 0x4c554d48;

/** Longest text kept for one line, bytes (a longer one is cut, at a character). */
export const MAX_TEXT_BYTES = 4_096;

/** Which way a line went. */
export type Direction = "in" | "out";

/** A line's delivery state: `sent`, or `delivered` once the peer acknowledged it (receipts). */
export type DeliveryState = "sent" | "delivered";

/** One line of the history. */
export interface HistoryLine {
  /** When, ms since the epoch. */
  readonly at: number;
  /** The peer's address (or nickname, when its address is unknown). */
  readonly peer: string;
  readonly direction: Direction;
  readonly state: DeliveryState;
  readonly text: string;
  /** The line's message id (16 lowercase hex), when it had one. */
  readonly messageId?: string;
}

/** Options of {@linkcode HistoryStore.open}. */
export interface HistoryStoreOptions {
  /** Most lines kept; the oldest go first. Default: 100 000. */
  readonly maxLines?: number;
  /** How long a write waits for another program's lock, ms (the agent waits with it). Default: 50. */
  readonly busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lines (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  peer TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  state TEXT NOT NULL,
  text TEXT NOT NULL,
  message_id TEXT
);
CREATE INDEX IF NOT EXISTS lines_by_peer ON lines (peer, id);
CREATE INDEX IF NOT EXISTS lines_by_message_id ON lines (message_id);
`;

/** Files made before message ids get the column (and its index) when opened for writing. */
const MIGRATE_MESSAGE_ID = `
ALTER TABLE lines ADD COLUMN message_id TEXT;
CREATE INDEX IF NOT EXISTS lines_by_message_id ON lines (message_id);
`;

type Row = Record<string, unknown>;

function cut(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= MAX_TEXT_BYTES) return text;
  return new TextDecoder().decode(bytes.subarray(0, MAX_TEXT_BYTES)).replace(/\uFFFD$/, "");
}

function toLine(row: Row): HistoryLine {
  return {
    at: Number(row["at"]),
    peer: String(row["peer"]),
    direction: row["direction"] === "in" ? "in" : "out",
    state: row["state"] === "delivered" ? "delivered" : "sent",
    text: String(row["text"]),
    ...(typeof row["message_id"] === "string" && { messageId: row["message_id"] }),
  };
}

/** Add `message_id` to a file made before it; a read-only file is left as it is (read as before). */
function migrate(db: DatabaseSync): boolean {
  const columns = (db.prepare("PRAGMA table_info(lines)").all() as Row[]).map((r) =>
    String(r["name"])
  );
  if (columns.includes("message_id")) return true;
  try {
    db.exec("BEGIN IMMEDIATE");
    db.exec(MIGRATE_MESSAGE_ID);
    db.exec("COMMIT");
    return true;
  } catch {
    try {
      db.exec("ROLLBACK");
    } catch {
      // no transaction was open
    }
    // Read-only or locked: its lines are still shown; the next write tries again.
    return false;
  }
}

function storeError(path: string, what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const fault = faultOf(error);
  return new StoreError(`Cannot ${what} the history file ${path}: ${faultWords(fault)}`, {
    cause: error,
    fault,
  });
}

/** The history file. */
export class HistoryStore implements Disposable {
  /** Where it is. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #maxLines: number;
  #sinceTrim = 0;
  /** Whether the file has the `message_id` column (a file from before may not, until written). */
  #migrated = false;

  private constructor(path: string, db: DatabaseSync, maxLines: number, migrated: boolean) {
    this.path = path;
    this.#db = db;
    this.#maxLines = maxLines;
    this.#migrated = migrated;
  }

  /**
   * Open (creating, mode 0600) the history file at `path`. Throws
   * {@linkcode StoreError}: `foreign` for another program's file,
   * `unusable` for a file that is not a database or not a regular file.
   */
  static open(path: string, options: HistoryStoreOptions = {}): HistoryStore {
    try {
      const info = Deno.statSync(path);
      if (!info.isFile) {
        throw new StoreError(`The history file ${path} is not a regular file`, {
          fault: "unusable",
        });
      }
    } catch (error) {
      if (error instanceof StoreError) throw error;
      if (!(error instanceof Deno.errors.NotFound)) throw storeError(path, "open", error);
      try {
        Deno.openSync(path, { write: true, createNew: true, mode: 0o600 }).close();
      } catch (created) {
        throw storeError(path, "create", created);
      }
    }
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 50 });
      const id = Number((db.prepare("PRAGMA application_id").get() as Row)["application_id"]);
      const tables = (db.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
      ).all() as Row[]).map((row) => String(row["name"]));
      if (id !== HISTORY_APPLICATION_ID && (id !== 0 || tables.length > 0)) {
        throw new StoreError(
          `The history file ${path} belongs to another program; it was not changed`,
          { fault: "foreign" },
        );
      }
      if (tables.length === 0) {
        db.exec(`PRAGMA application_id = ${HISTORY_APPLICATION_ID}`);
        db.exec(SCHEMA);
      }
      return new HistoryStore(path, db, options.maxLines ?? 100_000, migrate(db));
    } catch (error) {
      db?.close();
      if (error instanceof StoreError) throw error;
      const fault = faultOf(error);
      // A file that is not SQLite at all, or is damaged: refused, never overwritten.
      throw new StoreError(
        `Cannot use the history file ${path}: ${
          fault === "failed" ? "it is not a history file (or it is damaged)" : faultWords(fault)
        }`,
        { cause: error, fault: fault === "failed" ? "unusable" : fault },
      );
    }
  }

  /** Keep one line. Throws {@linkcode StoreError}. */
  record(line: HistoryLine): void {
    this.recordAll([line]);
  }

  /**
   * Keep `lines`, in order, in one transaction: all or none (a write that
   * failed never leaves one open behind it). Throws {@linkcode StoreError}.
   */
  recordAll(lines: readonly HistoryLine[]): void {
    if (lines.length === 0) return;
    this.#migrated ||= migrate(this.#db);
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      const insert = this.#db.prepare(
        "INSERT INTO lines (at, peer, direction, state, text, message_id) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const line of lines) {
        insert.run(
          line.at,
          line.peer,
          line.direction,
          line.state,
          cut(line.text),
          line.messageId ?? null,
        );
        if (++this.#sinceTrim >= 100) this.#trim();
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // no transaction was open
      }
      throw storeError(this.path, "write", error);
    }
  }

  /**
   * Mark the lines with these message ids `delivered`, in one transaction
   * (ids no line has are ignored). Throws {@linkcode StoreError}.
   */
  markDelivered(messageIds: readonly string[]): void {
    if (messageIds.length === 0) return;
    this.#migrated ||= migrate(this.#db);
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      const update = this.#db.prepare(
        "UPDATE lines SET state = 'delivered' WHERE message_id = ? AND direction = 'out'",
      );
      for (const id of messageIds) update.run(id);
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // no transaction was open
      }
      throw storeError(this.path, "write", error);
    }
  }

  /** The last `n` lines with `peer`, or with anyone; oldest first. Throws {@linkcode StoreError}. */
  last(peer: string | undefined, n: number): HistoryLine[] {
    try {
      const rows = peer === undefined
        ? this.#db.prepare("SELECT * FROM lines ORDER BY id DESC LIMIT ?").all(n)
        : this.#db.prepare("SELECT * FROM lines WHERE peer = ? ORDER BY id DESC LIMIT ?").all(
          peer,
          n,
        );
      return (rows as Row[]).map(toLine).reverse();
    } catch (error) {
      throw storeError(this.path, "read", error);
    }
  }

  /**
   * The last `n` lines sent to `peer` (domain case ignored) with a message id
   * and no receipt yet, oldest first. Throws {@linkcode StoreError}.
   */
  unacked(peer: string, n: number): HistoryLine[] {
    if (!this.#migrated) return [];
    return this.#select(
      "SELECT * FROM lines WHERE lower(peer) = lower(?) AND direction = 'out' AND " +
        "state = 'sent' AND message_id IS NOT NULL ORDER BY id DESC LIMIT ?",
      peer,
      n,
    );
  }

  /** The message ids of the last `n` lines received from `peer`. Throws {@linkcode StoreError}. */
  receivedIds(peer: string, n: number): string[] {
    if (!this.#migrated) return [];
    return this.#select(
      "SELECT * FROM lines WHERE lower(peer) = lower(?) AND direction = 'in' AND " +
        "message_id IS NOT NULL ORDER BY id DESC LIMIT ?",
      peer,
      n,
    ).map((line) => line.messageId!);
  }

  #select(sql: string, peer: string, n: number): HistoryLine[] {
    try {
      return (this.#db.prepare(sql).all(peer, n) as Row[]).map(toLine).reverse();
    } catch (error) {
      throw storeError(this.path, "read", error);
    }
  }

  /** The last `n` lines whose text holds `text` (ASCII case ignored); oldest first. */
  search(text: string, n: number): HistoryLine[] {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    try {
      const rows = this.#db.prepare(
        "SELECT * FROM lines WHERE text LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
      ).all(pattern, n);
      return (rows as Row[]).map(toLine).reverse();
    } catch (error) {
      throw storeError(this.path, "read", error);
    }
  }

  /** Delete the oldest lines past `maxLines`. */
  #trim(): void {
    this.#sinceTrim = 0;
    this.#db.prepare(
      "DELETE FROM lines WHERE id <= (SELECT id FROM lines ORDER BY id DESC LIMIT 1 OFFSET ?)",
    ).run(this.#maxLines);
  }

  /** Close the file. */
  close(): void {
    try {
      this.#db.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
