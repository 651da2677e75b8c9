/**
 * The node's account database: passwords (as slow salted hashes, see
 * `lib/auth.ts`), accounts created by sign-up, and buddy lists. One SQLite
 * file through `node:sqlite`, WAL mode, `synchronous = FULL`: every change is
 * committed to disk before the node acknowledges it, and a crash at any
 * moment leaves the last committed state.
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

/** The database file cannot be opened or is not ours. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY,
  signed_up INTEGER NOT NULL,          -- 1: created by sign-up; 0: a user of nodelumi.cfg with a password
  salt BLOB,
  iterations INTEGER,
  stored_key BLOB,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS buddies (
  owner TEXT NOT NULL,
  buddy TEXT NOT NULL,                 -- a full address, name@domain
  PRIMARY KEY (owner, buddy)
) STRICT, WITHOUT ROWID;
`;

/** An account row. */
export interface Account {
  readonly name: string;
  /** Created by the user through sign-up (not listed in nodelumi.cfg). */
  readonly signedUp: boolean;
  readonly credentials: StoredCredentials | undefined;
}

type Row = Record<string, unknown>;

function toBytes(value: unknown): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value as Uint8Array);
}

/** Accounts, passwords and buddy lists of one domain. */
export class AccountStore implements Disposable {
  readonly path: string;
  readonly #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /** Open (creating if needed) the database at `path`. Throws {@linkcode StoreError}. */
  static open(path: string): AccountStore {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
      const check = db.prepare("PRAGMA quick_check").get() as Row | undefined;
      if (check?.["quick_check"] !== "ok") {
        throw new Error(`integrity check says ${JSON.stringify(check)}`);
      }
      db.exec(SCHEMA);
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | Row
        | undefined;
      if (!version) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(
          String(SCHEMA_VERSION),
        );
      } else if (Number(version["value"]) !== SCHEMA_VERSION) {
        throw new Error(`schema version ${version["value"]}, this node knows ${SCHEMA_VERSION}`);
      }
      return new AccountStore(path, db);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // keep the first error
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new StoreError(
        `The account database ${path} cannot be used (${reason}). ` +
          "Restore it from a backup, or move it away to start with no accounts.",
        { cause: error },
      );
    }
  }

  /** Every account. */
  accounts(): Account[] {
    return (this.#db.prepare("SELECT * FROM accounts ORDER BY created_at, name").all() as Row[])
      .map((row) => this.#account(row));
  }

  /** The account of `name`, if any. */
  get(name: string): Account | undefined {
    const row = this.#db.prepare("SELECT * FROM accounts WHERE name = ?").get(name) as
      | Row
      | undefined;
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
    const result = this.#db.prepare(
      "INSERT OR IGNORE INTO accounts (name, signed_up, salt, iterations, stored_key, created_at) VALUES (?, 1, ?, ?, ?, ?)",
    ).run(name, credentials.salt, credentials.iterations, credentials.storedKey, now);
    return Number(result.changes) === 1;
  }

  /** Set (or replace) the password of `name`, creating its row if needed. */
  setPassword(name: string, credentials: StoredCredentials, now = Date.now()): void {
    this.#db.prepare(
      `INSERT INTO accounts (name, signed_up, salt, iterations, stored_key, created_at) VALUES (?, 0, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET salt = excluded.salt, iterations = excluded.iterations,
       stored_key = excluded.stored_key`,
    ).run(name, credentials.salt, credentials.iterations, credentials.storedKey, now);
  }

  /** Remove the password of `name` (a signed-up account keeps existing, without one). */
  clearPassword(name: string): boolean {
    const result = this.#db.prepare(
      "UPDATE accounts SET salt = NULL, iterations = NULL, stored_key = NULL WHERE name = ?",
    ).run(name);
    return Number(result.changes) === 1;
  }

  /** Delete everything about `name`: account, password, its buddy list. */
  remove(name: string): void {
    this.#transaction(() => {
      this.#db.prepare("DELETE FROM accounts WHERE name = ?").run(name);
      this.#db.prepare("DELETE FROM buddies WHERE owner = ?").run(name);
    });
  }

  /** The buddies of `owner`, as full addresses, sorted. */
  buddies(owner: string): string[] {
    return (this.#db.prepare("SELECT buddy FROM buddies WHERE owner = ? ORDER BY buddy").all(
      owner,
    ) as Row[])
      .map((row) => String(row["buddy"]));
  }

  /** Number of buddies of `owner`. */
  buddyCount(owner: string): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM buddies WHERE owner = ?").get(
      owner,
    ) as Row;
    return Number(row["n"]);
  }

  /** Does `owner` have `buddy` (a full address) on its list? */
  hasBuddy(owner: string, buddy: string): boolean {
    return this.#db.prepare("SELECT 1 FROM buddies WHERE owner = ? AND buddy = ?").get(
      owner,
      buddy,
    ) !== undefined;
  }

  /** The local users who have `buddy` on their list. */
  watchers(buddy: string): string[] {
    return (this.#db.prepare("SELECT owner FROM buddies WHERE buddy = ?").all(buddy) as Row[])
      .map((row) => String(row["owner"]));
  }

  /** Add `buddy` to `owner`'s list. Returns false if it was there already. */
  addBuddy(owner: string, buddy: string): boolean {
    const result = this.#db.prepare("INSERT OR IGNORE INTO buddies (owner, buddy) VALUES (?, ?)")
      .run(owner, buddy);
    return Number(result.changes) === 1;
  }

  /** Remove `buddy` from `owner`'s list. Returns false if it was not there. */
  removeBuddy(owner: string, buddy: string): boolean {
    const result = this.#db.prepare("DELETE FROM buddies WHERE owner = ? AND buddy = ?").run(
      owner,
      buddy,
    );
    return Number(result.changes) === 1;
  }

  #transaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Close the database (checkpointing the WAL). */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
