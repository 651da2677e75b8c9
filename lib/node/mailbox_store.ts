/**
 * The offline messages a node keeps (`mailbox` table of the account
 * database, schema 2: `store_schema.ts`). Its own connection to the same
 * file, WAL mode and `synchronous = FULL`: a deposit is acknowledged only
 * after the transaction that holds it has committed, so a node killed at any
 * moment (kill -9, power cut) has every message it acknowledged.
 *
 * Deposits that arrive together are committed together ({@linkcode MailboxStore.insert}
 * queues, {@linkcode MailboxStore.commit} writes the queue in one
 * transaction): one disk flush for many messages. The counts and bytes per
 * recipient and per sender's share are kept in memory (read once at open),
 * so that the bounds are checked without reading the database.
 *
 * {@linkcode MessageStore} is the seam: this table is the default, a
 * clustered node keeps its domain's messages in Redis instead
 * (`redis_mailbox.ts`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { faultOf, faultWords, StoreError } from "./store_error.ts";
import { MAILBOX_SCHEMA } from "./store_schema.ts";

/** One stored message. */
export interface StoredMessage {
  readonly recipient: string;
  readonly id: string;
  readonly sender: string;
  /** Whose share it counts in: the sender's address, or `ip:<ip>` for a stranger. */
  readonly quota: string;
  /** ms since the epoch. */
  readonly storedAt: number;
  readonly body: Uint8Array<ArrayBuffer>;
}

/** Messages and bytes of one recipient or one share. */
export interface Usage {
  messages: number;
  bytes: number;
}

/** The bound a deposit would pass: the recipient's (`full`) or the sender's share (`quota`). */
export type MailboxBound = "full" | "quota";

/** The bounds a store enforces when it commits (`[mailbox]`, `mailbox_settings.ts`). */
export interface MailboxLimits {
  readonly maxPerRecipient: number;
  readonly maxBytesPerRecipient: number;
  readonly maxPerSender: number;
  readonly maxBytesPerSender: number;
  readonly ttlMs: number;
}

/**
 * Where a node keeps offline messages: {@linkcode MailboxStore} (SQLite,
 * the default) or `RedisMailbox` (a clustered domain). Each read may answer
 * at once or later; every failure is a {@linkcode StoreError}.
 */
export interface MessageStore {
  /** Messages stored now, in all (as far as this node knows). */
  readonly total: number;
  /** Recipients with messages waiting (as far as this node knows). */
  readonly recipients: number;
  /** Is anything waiting for {@linkcode MessageStore.commit}? */
  readonly dirty: boolean;
  /**
   * Does the commit itself check the bounds and copies (atomically, for
   * every node)? Then a whole message is not checked before it is queued.
   */
  readonly checksAtCommit?: boolean;
  /** What `recipient` has waiting. */
  recipientUsage(recipient: string): Usage | Promise<Usage>;
  /** What waits in the share `quota`. */
  shareUsage(quota: string): Usage | Promise<Usage>;
  /** Is a message `id` for `recipient` stored or queued already? */
  has(recipient: string, id: string): boolean | Promise<boolean>;
  /** Queue a message for the next commit. */
  insert(message: StoredMessage): void;
  /**
   * Write the queue (and pending deletions); resolves once it is durable, with
   * the messages kept. A queued message missing from it was refused by a bound
   * checked at the commit ({@linkcode MessageStore.refusal} says which).
   */
  commit(limits?: MailboxLimits): StoredMessage[] | Promise<StoredMessage[]>;
  /** The bound that refused `message` at its commit, if one did. */
  refusal?(message: StoredMessage): MailboxBound | undefined;
  /** The oldest message of `recipient` stored at or after `since`, after `skip`; or one by id. */
  get(
    recipient: string,
    since: number,
    id?: string,
    skip?: number,
  ): StoredMessage | undefined | Promise<StoredMessage | undefined>;
  /** Delete message `id` of `recipient`; false if it was not there. */
  delete(recipient: string, id: string): boolean | Promise<boolean>;
  /** Delete what was stored before `before` (ms); how many. */
  expire(before: number): number | Promise<number>;
  /** Commit what is under way and let go. */
  close(): void;
}

type Row = Record<string, unknown>;

function bump(map: Map<string, Usage>, key: string, messages: number, bytes: number): void {
  const usage = map.get(key) ?? { messages: 0, bytes: 0 };
  usage.messages += messages;
  usage.bytes += bytes;
  if (usage.messages <= 0) map.delete(key);
  else map.set(key, usage);
}

/** The `mailbox` table, with its usage counts in memory. */
export class MailboxStore implements MessageStore, Disposable {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #recipients = new Map<string, Usage>();
  readonly #shares = new Map<string, Usage>();
  #queue: StoredMessage[] = [];
  /** `recipient id` of every queued message. */
  readonly #queuedKeys = new Set<string>();
  /** Deletions not yet committed, by `recipient id` (reads already leave them out). */
  readonly #deletes = new Map<string, { recipient: string; id: string }>();
  readonly #insert;
  readonly #oldest;
  readonly #one;
  readonly #delete;
  /** Messages stored now, in all. */
  total = 0;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO mailbox (recipient, id, sender, quota, stored_at, body) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#oldest = db.prepare(
      "SELECT * FROM mailbox WHERE recipient = ? AND stored_at >= ? ORDER BY stored_at, rowid LIMIT ?",
    );
    this.#one = db.prepare("SELECT * FROM mailbox WHERE recipient = ? AND id = ?");
    this.#delete = db.prepare("DELETE FROM mailbox WHERE recipient = ? AND id = ?");
    this.#recount();
  }

  /**
   * Open the `mailbox` table of the account database at `path`, which
   * `AccountStore.open` has opened (and migrated to schema 2) first. Throws
   * {@linkcode StoreError}.
   */
  static open(path: string, options: { readonly busyTimeoutMs?: number } = {}): MailboxStore {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 100 });
      db.exec("PRAGMA synchronous = FULL;");
      // The real file got its table from `AccountStore.open`; a database in memory is new.
      if (path === ":memory:") db.exec(MAILBOX_SCHEMA);
      return new MailboxStore(path, db);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // keep the first error
      }
      throw wrap(path, "open", error);
    }
  }

  /** Read every usage count again from the table. */
  #recount(): void {
    this.#recipients.clear();
    this.#shares.clear();
    this.total = 0;
    const rows = this.#db.prepare(
      "SELECT recipient, quota, count(*) AS n, sum(length(body)) AS bytes FROM mailbox GROUP BY recipient, quota",
    ).all() as Row[];
    for (const row of rows) {
      const n = Number(row["n"]);
      const bytes = Number(row["bytes"]);
      bump(this.#recipients, String(row["recipient"]), n, bytes);
      bump(this.#shares, String(row["quota"]), n, bytes);
      this.total += n;
    }
  }

  /** What `recipient` has waiting (queued deposits included). */
  recipientUsage(recipient: string): Usage {
    return { ...(this.#recipients.get(recipient) ?? { messages: 0, bytes: 0 }) };
  }

  /** What waits in the share `quota` (queued deposits included). */
  shareUsage(quota: string): Usage {
    return { ...(this.#shares.get(quota) ?? { messages: 0, bytes: 0 }) };
  }

  /** Recipients with messages waiting. */
  get recipients(): number {
    return this.#recipients.size;
  }

  /** Is a message `id` for `recipient` stored or queued already? */
  has(recipient: string, id: string): boolean {
    if (this.#queuedKeys.has(`${recipient} ${id}`)) return true;
    return this.#read(() => this.#one.get(recipient, id)) !== undefined;
  }

  /** Queue a message for the next {@linkcode commit}; counted from now on. */
  insert(message: StoredMessage): void {
    this.#queue.push(message);
    this.#queuedKeys.add(`${message.recipient} ${message.id}`);
    bump(this.#recipients, message.recipient, 1, message.body.length);
    bump(this.#shares, message.quota, 1, message.body.length);
    this.total++;
  }

  /** Messages queued, not yet committed. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Is anything waiting for {@linkcode commit}: queued deposits, or deletions? */
  get dirty(): boolean {
    return this.#queue.length > 0 || this.#deletes.size > 0;
  }

  /**
   * Write every queued message, and the deletions made since the last
   * commit, in one transaction (committed to disk when it returns). On
   * failure nothing of it is kept (deleted messages come back: delivered
   * twice at worst, never lost), the counts are read again, and the error
   * ({@linkcode StoreError}) is thrown for the queued deposits' senders to be told.
   */
  commit(): StoredMessage[] {
    const batch = this.#queue;
    const deletes = [...this.#deletes.values()];
    this.#queue = [];
    this.#queuedKeys.clear();
    this.#deletes.clear();
    if (batch.length === 0 && deletes.length === 0) return batch;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const d of deletes) this.#delete.run(d.recipient, d.id);
      for (const m of batch) {
        this.#insert.run(m.recipient, m.id, m.sender, m.quota, m.storedAt, m.body);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        this.#recount();
      } catch {
        // the rollback of a failed commit: the counts are read again at the next expiry
      }
      throw wrap(this.path, "write", error);
    }
    return batch;
  }

  /**
   * The oldest message of `recipient` stored at or after `since` (ms) — after
   * `skip` older ones — or a given one by id.
   */
  get(recipient: string, since: number, id?: string, skip = 0): StoredMessage | undefined {
    const gone = (row: Row) => this.#deletes.has(`${recipient} ${String(row["id"])}`);
    const row = this.#read(() => {
      if (id !== undefined) {
        const one = this.#one.get(recipient, id) as Row | undefined;
        return one && !gone(one) ? one : undefined;
      }
      // Deleted rows not yet committed are skipped: ask for as many more as there are.
      const rows = this.#oldest.all(recipient, since, this.#deletes.size + skip + 1) as Row[];
      return rows.filter((r) => !gone(r))[skip];
    });
    if (!row) return undefined;
    return {
      recipient,
      id: String(row["id"]),
      sender: String(row["sender"]),
      quota: String(row["quota"]),
      storedAt: Number(row["stored_at"]),
      body: new Uint8Array(row["body"] as Uint8Array),
    };
  }

  /** The `limit` oldest messages of every recipient (moving them elsewhere: `mailbox_start.ts`). */
  oldest(limit: number): StoredMessage[] {
    const rows = this.#read(() =>
      this.#db.prepare("SELECT * FROM mailbox ORDER BY stored_at, rowid LIMIT ?").all(
        limit,
      ) as Row[]
    );
    return rows.filter((row) =>
      !this.#deletes.has(`${String(row["recipient"])} ${String(row["id"])}`)
    )
      .map((row) => ({
        recipient: String(row["recipient"]),
        id: String(row["id"]),
        sender: String(row["sender"]),
        quota: String(row["quota"]),
        storedAt: Number(row["stored_at"]),
        body: new Uint8Array(row["body"] as Uint8Array),
      }));
  }

  /**
   * Delete message `id` of `recipient` with the next {@linkcode commit}
   * (reads leave it out at once). False if it was not there.
   */
  delete(recipient: string, id: string): boolean {
    const found = this.get(recipient, 0, id);
    if (!found) return false;
    this.#deletes.set(`${recipient} ${id}`, { recipient, id });
    bump(this.#recipients, recipient, -1, -found.body.length);
    bump(this.#shares, found.quota, -1, -found.body.length);
    this.total--;
    return true;
  }

  /** Delete every message stored before `before` (ms). Returns how many. */
  expire(before: number): number {
    let changes: number;
    try {
      changes = Number(
        this.#db.prepare("DELETE FROM mailbox WHERE stored_at < ?").run(before).changes,
      );
    } catch (error) {
      throw wrap(this.path, "write", error);
    }
    if (changes > 0) this.#recount();
    return changes;
  }

  #read<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw wrap(this.path, "read", error);
    }
  }

  /** Commit what is under way, and close the connection. */
  close(): void {
    try {
      if (this.dirty) this.commit();
    } catch {
      // nothing more can be done: the messages not committed were not acknowledged
    }
    try {
      if (this.#db.isOpen) this.#db.close();
    } catch {
      // the WAL keeps every commit
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function wrap(path: string, what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const fault = faultOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreError(
    `Cannot ${what} the offline messages of ${path}: ${faultWords(fault)} (${reason})`,
    { cause: error, fault },
  );
}
