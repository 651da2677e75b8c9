/**
 * The node's account database: passwords (as slow salted hashes, see
 * `lib/auth.ts`), accounts created by sign-up, and buddy lists. One SQLite
 * file through `node:sqlite`, WAL mode, `synchronous = FULL`: every change is
 * committed to disk before the node acknowledges it, and a crash at any
 * moment leaves the last committed state.
 *
 * Ours is told by `PRAGMA application_id` (or, for files from before it, by
 * exactly our tables and columns) before anything is written: another
 * program's SQLite file is refused untouched. A read or write that fails
 * (another connection's lock past a short busy timeout, a full disk, a
 * read-only file) throws a {@linkcode StoreError} with its fault kind, for
 * the caller to answer; the store reports the first failure of a burst and
 * the first success after it, and works again by itself once the fault goes.
 *
 * How it relates to `nodelumi.cfg`: the users of the domain are the names in
 * the configuration file (the original user list, which original tools keep
 * editing) together with the accounts created here by sign-up. Passwords and
 * buddy lists live only here, for users of either kind.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import type { StoredCredentials } from "../auth.ts";
import { faultOf, faultWords, StoreError } from "./store_error.ts";
import {
  APPLICATION_ID,
  applicationId,
  foreignReason,
  MAILBOX_SCHEMA,
  SCHEMA,
  SCHEMA_VERSION,
  tableNames,
  TABLES,
} from "./store_schema.ts";

export { APPLICATION_ID } from "./store_schema.ts";
export { faultOf, StoreError, type StoreFault } from "./store_error.ts";

/** An account row. */
export interface Account {
  readonly name: string;
  /** Created by the user through sign-up (not listed in nodelumi.cfg). */
  readonly signedUp: boolean;
  readonly credentials: StoredCredentials | undefined;
}

/** A write that failed after others worked, or the first that worked after failures. */
export type StoreEvent =
  | { readonly kind: "failing"; readonly error: StoreError }
  | { readonly kind: "recovered"; readonly failures: number };

/** Options of {@linkcode AccountStore.open}. */
export interface StoreOptions {
  /**
   * How long a write waits for another connection's lock before it fails, in
   * ms. The node's event loop waits with it (SQLite here is synchronous), so
   * it is short. Default: 100.
   */
  readonly busyTimeoutMs?: number;
  /**
   * After a write found the database locked, further writes fail at once for
   * this long instead of each waiting `busyTimeoutMs` again, in ms. Default: 1 000.
   */
  readonly lockedBackoffMs?: number;
  /** Called once when writes start failing and once when they work again (log once per burst). */
  readonly onEvent?: (event: StoreEvent) => void;
  /** Monotonic clock in ms, for the back-off. Default: `performance.now`. */
  readonly now?: () => number;
}

type Row = Record<string, unknown>;

function toBytes(value: unknown): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value as Uint8Array);
}

/** Refuse anything but a regular file (or no file yet): a FIFO would hang the open, a device eat memory. */
function checkRegular(path: string): void {
  if (path === ":memory:" || path === "") return;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isFile) throw new Error("it is not a regular file");
}

/** Accounts, passwords and buddy lists of one domain. */
export class AccountStore implements Disposable {
  readonly path: string;
  #db: DatabaseSync;
  readonly #onEvent: (event: StoreEvent) => void;
  readonly #now: () => number;
  readonly #busyTimeoutMs: number;
  readonly #lockedBackoffMs: number;
  /** Writes that failed since the last one that worked (0: healthy). */
  #failing = 0;
  /** After a lock, writes fail at once until then; after a read-only fault, reopen then (monotonic ms). */
  #retryAt = 0;
  /** The connection may have been opened read-only (the file was): open it again to write. */
  #reopen = false;
  #lastError: StoreError | undefined;
  /** Reads and writes that failed since the start, for the console's `stats`. */
  failures = 0;
  /** Told the user's name after each committed change of its rows (a cluster's replica). */
  #observer: ((name: string) => void) | undefined;

  private constructor(path: string, db: DatabaseSync, options: StoreOptions) {
    this.path = path;
    this.#db = db;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 100;
    this.#lockedBackoffMs = options.lockedBackoffMs ?? 1_000;
  }

  /**
   * Open (creating if needed) the database at `path`. A file that is not
   * ours (another program's SQLite file) is refused before anything is
   * written to it. Throws {@linkcode StoreError}.
   */
  static open(path: string, options: StoreOptions = {}): AccountStore {
    let db: DatabaseSync | undefined;
    try {
      checkRegular(path);
      db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 100 });
      // Reads only, until the file is known to be ours.
      const foreign = foreignReason(db);
      if (foreign) {
        throw new StoreError(
          `The account database ${path} belongs to another program (${foreign}); ` +
            "it was not changed. Give the node a file of its own ([accounts] database, or --database).",
          { fault: "foreign" },
        );
      }
      // Nothing is written that is already so: a database of ours in a read-only place still opens
      // (logins work, changes are refused one by one).
      const journal = (db.prepare("PRAGMA journal_mode").get() as Row)["journal_mode"];
      if (journal !== "wal") db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
      const check = db.prepare("PRAGMA quick_check").get() as Row | undefined;
      if (check?.["quick_check"] !== "ok") {
        throw new Error(`integrity check says ${JSON.stringify(check)}`);
      }
      if (tableNames(db).length < Object.keys(TABLES).length) db.exec(SCHEMA);
      if (applicationId(db) !== APPLICATION_ID) {
        db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      }
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | Row
        | undefined;
      if (!version) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(
          String(SCHEMA_VERSION),
        );
      } else if (Number(version["value"]) === 1) {
        // Migration 1 → 2: the offline messages' table, in one transaction with the new version.
        db.exec("BEGIN IMMEDIATE");
        db.exec(MAILBOX_SCHEMA);
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(String(SCHEMA_VERSION));
        db.exec("COMMIT");
      } else if (Number(version["value"]) !== SCHEMA_VERSION) {
        throw new Error(`schema version ${version["value"]}, this node knows ${SCHEMA_VERSION}`);
      }
      return new AccountStore(path, db, options);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // keep the first error
      }
      if (error instanceof StoreError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      const fault = faultOf(error);
      if (fault !== "failed") {
        throw new StoreError(
          `The account database ${path} cannot be opened: ${faultWords(fault)} (${reason}).`,
          { cause: error, fault },
        );
      }
      if (/unable to open database file/.test(reason)) {
        throw new StoreError(
          `The account database ${path} cannot be opened (${reason}): its folder must be ` +
            `writable, for SQLite keeps ${path}-wal and ${path}-shm beside it.`,
          { cause: error, fault: "read-only" },
        );
      }
      throw new StoreError(
        `The account database ${path} cannot be used (${reason}). ` +
          "Restore it from a backup, or move it away to start with no accounts.",
        { cause: error },
      );
    }
  }

  /**
   * Call `observer` with the user's name after every committed change of
   * its account, identity key or buddy list (one observer: a cluster's
   * replica, `redis_accounts.ts`).
   */
  observe(observer: ((name: string) => void) | undefined): void {
    this.#observer = observer;
  }

  /** Tell the observer if `changes` is 1 (one row changed); returns whether it is. */
  #changed(name: string, changes: number | bigint): boolean {
    const changed = Number(changes) === 1;
    if (changed) this.#observer?.(name);
    return changed;
  }

  /** Has the last write failed (and none worked since)? */
  get failing(): boolean {
    return this.#failing > 0;
  }

  /** Run a read; an SQLite error becomes a {@linkcode StoreError}. */
  #read<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      this.failures++;
      throw this.#error("read", error);
    }
  }

  /** Run a write; errors become {@linkcode StoreError}s, and are reported once per burst. */
  #write<T>(work: () => T): T {
    const now = this.#now();
    if (this.#lastError?.fault === "locked" && now < this.#retryAt) {
      this.failures++;
      this.#failing++;
      throw this.#lastError;
    }
    if (this.#reopen && now >= this.#retryAt) this.#reconnect();
    let result: T;
    try {
      result = work();
    } catch (error) {
      this.failures++;
      const failure = this.#error("write", error);
      if (failure.fault === "locked") this.#retryAt = this.#now() + this.#lockedBackoffMs;
      if (failure.fault === "read-only" && !this.#reopen) {
        // SQLite opens a file it may not write read-only, and stays so: reconnect once it may.
        this.#reopen = true;
        this.#retryAt = this.#now() + this.#lockedBackoffMs;
      }
      this.#lastError = failure;
      if (this.#failing++ === 0) this.#onEvent({ kind: "failing", error: failure });
      throw failure;
    }
    if (this.#failing > 0) {
      const failures = this.#failing;
      this.#failing = 0;
      this.#lastError = undefined;
      this.#onEvent({ kind: "recovered", failures });
    }
    return result;
  }

  /** Open the file again (the fault may be gone); keep the old connection if that fails. */
  #reconnect(): void {
    this.#retryAt = this.#now() + this.#lockedBackoffMs;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(this.path, { timeout: this.#busyTimeoutMs });
      // The very file may have been swapped meanwhile: write only to ours.
      if (applicationId(db) !== APPLICATION_ID) throw new Error("not ours any more");
      db.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    } catch {
      try {
        db?.close();
      } catch {
        // nothing to keep
      }
      return;
    }
    const old = this.#db;
    this.#db = db;
    this.#reopen = false;
    try {
      old.close();
    } catch {
      // a checkpoint that could not be written: the new connection sees every commit
    }
  }

  #error(what: "read" | "write", error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const fault = faultOf(error);
    const reason = error instanceof Error ? error.message : String(error);
    return new StoreError(
      `Cannot ${what} the account database ${this.path}: ${faultWords(fault)} (${reason})`,
      { cause: error, fault },
    );
  }

  /** Every account. */
  accounts(): Account[] {
    return this.#read(() =>
      (this.#db.prepare("SELECT * FROM accounts ORDER BY created_at, name").all() as Row[])
        .map((row) => this.#account(row))
    );
  }

  /** The names of the accounts created by sign-up (users of the domain without being in `nodelumi.cfg`), oldest first. */
  signedUpNames(): string[] {
    return this.#names("SELECT name FROM accounts WHERE signed_up = 1 ORDER BY created_at, name");
  }

  /** The names of the accounts with a password. */
  protectedNames(): string[] {
    return this.#names("SELECT name FROM accounts WHERE stored_key IS NOT NULL ORDER BY name");
  }

  #names(sql: string): string[] {
    return this.#read(() =>
      (this.#db.prepare(sql).all() as Row[]).map((row) => String(row["name"]))
    );
  }

  /** The account of `name`, if any. */
  get(name: string): Account | undefined {
    const row = this.#read(() =>
      this.#db.prepare("SELECT * FROM accounts WHERE name = ?").get(name) as Row | undefined
    );
    return row ? this.#account(row) : undefined;
  }

  #account(row: Row): Account {
    const credentials = row["stored_key"]
      ? {
        salt: toBytes(row["salt"]),
        iterations: Number(row["iterations"]),
        storedKey: toBytes(row["stored_key"]),
      }
      : undefined;
    return { name: String(row["name"]), signedUp: row["signed_up"] === 1, credentials };
  }

  /** Create a signed-up account. Returns false if the name is taken here. */
  signUp(name: string, credentials: StoredCredentials, now = Date.now()): boolean {
    const result = this.#write(() =>
      this.#db.prepare(
        "INSERT OR IGNORE INTO accounts (name, signed_up, salt, iterations, stored_key, created_at) VALUES (?, 1, ?, ?, ?, ?)",
      ).run(name, credentials.salt, credentials.iterations, credentials.storedKey, now)
    );
    return this.#changed(name, result.changes);
  }

  /** Set (or replace) the password of `name`, creating its row if needed. */
  setPassword(name: string, credentials: StoredCredentials, now = Date.now()): void {
    this.#write(() =>
      this.#db.prepare(
        `INSERT INTO accounts (name, signed_up, salt, iterations, stored_key, created_at) VALUES (?, 0, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET salt = excluded.salt, iterations = excluded.iterations,
       stored_key = excluded.stored_key`,
      ).run(name, credentials.salt, credentials.iterations, credentials.storedKey, now)
    );
    this.#observer?.(name);
  }

  /** Remove the password of `name` (a signed-up account keeps existing, without one). */
  clearPassword(name: string): boolean {
    const result = this.#write(() =>
      this.#db.prepare(
        "UPDATE accounts SET salt = NULL, iterations = NULL, stored_key = NULL WHERE name = ?",
      ).run(name)
    );
    return this.#changed(name, result.changes);
  }

  /**
   * The identity key (text) bound to the account `name`, if any. Kept in the
   * `meta` table under `identity-key:<name>`, so no schema change is needed.
   */
  identityKey(name: string): string | undefined {
    const row = this.#read(() =>
      this.#db.prepare("SELECT value FROM meta WHERE key = ?").get(`identity-key:${name}`) as
        | Row
        | undefined
    );
    return row ? String(row["value"]) : undefined;
  }

  /** Bind (or replace) the identity key of the account `name`. */
  setIdentityKey(name: string, key: string): void {
    this.#write(() =>
      this.#db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(`identity-key:${name}`, key)
    );
    this.#observer?.(name);
  }

  /** Delete everything about `name`: account, password, its buddy list. */
  remove(name: string): void {
    this.#write(() =>
      this.#transaction(() => {
        this.#db.prepare("DELETE FROM accounts WHERE name = ?").run(name);
        this.#db.prepare("DELETE FROM buddies WHERE owner = ?").run(name);
        this.#db.prepare("DELETE FROM meta WHERE key = ?").run(`identity-key:${name}`);
      })
    );
    this.#observer?.(name);
  }

  /** The buddies of `owner`, as full addresses, sorted. */
  buddies(owner: string): string[] {
    return this.#read(() =>
      (this.#db.prepare("SELECT buddy FROM buddies WHERE owner = ? ORDER BY buddy").all(
        owner,
      ) as Row[]).map((row) => String(row["buddy"]))
    );
  }

  /** Number of buddies of `owner`. */
  buddyCount(owner: string): number {
    const row = this.#read(() =>
      this.#db.prepare("SELECT count(*) AS n FROM buddies WHERE owner = ?").get(owner) as Row
    );
    return Number(row["n"]);
  }

  /** Does `owner` have `buddy` (a full address) on its list? */
  hasBuddy(owner: string, buddy: string): boolean {
    return this.#read(() =>
      this.#db.prepare("SELECT 1 FROM buddies WHERE owner = ? AND buddy = ?").get(owner, buddy)
    ) !== undefined;
  }

  /** The local users who have `buddy` on their list. */
  watchers(buddy: string): string[] {
    return this.#read(() =>
      (this.#db.prepare("SELECT owner FROM buddies WHERE buddy = ?").all(buddy) as Row[])
        .map((row) => String(row["owner"]))
    );
  }

  /** Add `buddy` to `owner`'s list. Returns false if it was there already. */
  addBuddy(owner: string, buddy: string): boolean {
    const result = this.#write(() =>
      this.#db.prepare("INSERT OR IGNORE INTO buddies (owner, buddy) VALUES (?, ?)").run(
        owner,
        buddy,
      )
    );
    return this.#changed(owner, result.changes);
  }

  /** Remove `buddy` from `owner`'s list. Returns false if it was not there. */
  removeBuddy(owner: string, buddy: string): boolean {
    const result = this.#write(() =>
      this.#db.prepare("DELETE FROM buddies WHERE owner = ? AND buddy = ?").run(owner, buddy)
    );
    return this.#changed(owner, result.changes);
  }

  #transaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Close the database (checkpointing the WAL). */
  close(): void {
    try {
      if (this.#db.isOpen) this.#db.close();
    } catch {
      // A checkpoint that cannot be written (full disk): the WAL keeps every commit.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
