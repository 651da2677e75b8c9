/**
 * Our database's schema, and how ours is told from another program's SQLite
 * file before anything is written to it: `PRAGMA application_id`, or for a
 * file from before it, exactly our tables with our columns.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

type Row = Record<string, unknown>;

/** `PRAGMA application_id` of our databases: "LUMI" in ASCII. */
export const APPLICATION_ID = 0x4c554d49;

/** The schema this node writes and reads: 2 added the offline messages (`mailbox`). */
export const SCHEMA_VERSION = 2;

/** The columns of schema 2's `mailbox` table. */
export const MAILBOX_COLUMNS: readonly string[] = [
  "recipient",
  "id",
  "sender",
  "quota",
  "stored_at",
  "body",
];

/**
 * Schema 2's table: offline messages waiting for their recipient
 * (`lib/node/mailbox_store.ts`). A database of schema 1 gets it when it is opened.
 */
export const MAILBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS mailbox (
  recipient TEXT NOT NULL,             -- the user name the message waits for
  id TEXT NOT NULL,                    -- the sender's message id, 16 hex digits
  sender TEXT NOT NULL,                -- the sender's address, as the sender gave it
  quota TEXT NOT NULL,                 -- whose share it counts in: an address, or ip:<ip> for strangers
  stored_at INTEGER NOT NULL,          -- ms since the epoch
  body BLOB NOT NULL,                  -- the sealed message (only the recipient can open it)
  PRIMARY KEY (recipient, id)
) STRICT;
CREATE INDEX IF NOT EXISTS mailbox_age ON mailbox (recipient, stored_at);
CREATE INDEX IF NOT EXISTS mailbox_quota ON mailbox (quota);
`;

/**
 * The tables of schema 1 and their columns, to recognise a database written before application_id
 * (those never had the tables of later schemas).
 */
export const TABLES: Record<string, readonly string[]> = {
  meta: ["key", "value"],
  accounts: ["name", "signed_up", "salt", "iterations", "stored_key", "created_at"],
  buddies: ["owner", "buddy"],
};

/** Our tables, created if missing. */
export const SCHEMA = `
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
${MAILBOX_SCHEMA}`;

/** `PRAGMA application_id` of `db`. */
export function applicationId(db: DatabaseSync): number {
  return Number((db.prepare("PRAGMA application_id").get() as Row)["application_id"]);
}

/** The tables of `db` (not SQLite's own), sorted. */
export function tableNames(db: DatabaseSync): string[] {
  return (db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
  ).all() as Row[]).map((row) => String(row["name"]));
}

/** Why `db` is another program's database, or `undefined` when it is ours or empty. Reads only. */
export function foreignReason(db: DatabaseSync): string | undefined {
  const id = applicationId(db);
  if (id === APPLICATION_ID) return undefined;
  if (id !== 0) return `its application_id is 0x${(id >>> 0).toString(16)}`;
  const names = tableNames(db);
  const others = (db.prepare(
    "SELECT count(*) AS n FROM sqlite_schema WHERE type IN ('view', 'trigger')",
  ).get() as Row)["n"];
  const userVersion = Number((db.prepare("PRAGMA user_version").get() as Row)["user_version"]);
  if (names.length === 0 && Number(others) === 0 && userVersion === 0) return undefined;
  // A database of ours from before application_id: exactly our tables, with our columns (those of
  // schema 1, or of schema 2 with the offline messages).
  const same = userVersion === 0 && Number(others) === 0 &&
    [TABLES, { ...TABLES, mailbox: MAILBOX_COLUMNS }].some((tables) => {
      const ours = Object.keys(tables).sort();
      return names.length === ours.length && names.every((name, i) => name === ours[i]) &&
        names.every((name) => {
          const columns = (db.prepare(`PRAGMA table_info(${name})`).all() as Row[])
            .map((row) => String(row["name"]));
          return columns.join() === tables[name]!.join();
        });
    });
  if (same) return undefined;
  const list = names.slice(0, 5).join(", ") + (names.length > 5 ? ", ..." : "");
  return names.length ? `its tables are ${list}` : "it has a user_version or views of its own";
}
