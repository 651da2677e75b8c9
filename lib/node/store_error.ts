/**
 * What went wrong with the account database, as a kind the node can answer
 * (`e=store`) and words an administrator can act on.
 *
 * @module
 */

/** Why a {@linkcode StoreError} happened. */
export type StoreFault =
  /** The file cannot be used as our database at all (not SQLite, corrupt, newer schema). */
  | "unusable"
  /** Another program's SQLite file: refused before anything was written to it. */
  | "foreign"
  /** Another connection (an administrator's `sqlite3` shell, a backup) holds a write lock. */
  | "locked"
  /** The disk (or the file system's quota) is full. */
  | "full"
  /** The file or its directory is read-only, or immutable. */
  | "read-only"
  /** Any other SQLite or I/O error. */
  | "failed";

/** The database file cannot be opened, is not ours, or a read or write of it failed. */
export class StoreError extends Error {
  /** Why, as a fault kind; the message says it in words. */
  readonly fault: StoreFault;

  constructor(message: string, options?: ErrorOptions & { fault?: StoreFault }) {
    super(message, options);
    this.name = "StoreError";
    this.fault = options?.fault ?? "unusable";
  }
}

/** The fault kind of an error thrown by SQLite, from its message. */
export function faultOf(error: unknown): StoreFault {
  const text = error instanceof Error ? error.message : String(error);
  if (/database (table )?is locked|SQLITE_BUSY|database is busy/i.test(text)) return "locked";
  if (/disk is full|SQLITE_FULL/i.test(text)) return "full";
  if (/readonly|read-only|SQLITE_READONLY|SQLITE_PERM|access permission denied/i.test(text)) {
    return "read-only";
  }
  return "failed";
}

const FAULT_WORDS: Record<StoreFault, string> = {
  unusable: "it cannot be used",
  foreign: "it is not ours",
  locked: "another program holds a write lock on it",
  full: "the disk is full",
  "read-only": "the file or its folder is read-only or immutable",
  failed: "the system refused the read or write",
};

/** The fault in words, for messages. */
export function faultWords(fault: StoreFault): string {
  return FAULT_WORDS[fault];
}
