/**
 * A clustered domain's accounts, passwords, identity keys and buddy lists,
 * shared through Redis: the node's SQLite account database
 * ({@linkcode AccountStore}) stays what the node reads on the packet path,
 * as a replica of the domain's; every committed change of a user's rows is
 * written to Redis as that user's whole account record (a
 * {@linkcode RedisReplica}: versioned, batched, published), and every node
 * replaces its rows of the user with each newer record it receives.
 *
 * So a user signed up or given a password (`ctl passwd`, the console) at one
 * node logs in at any other, and a buddy added at one is seen at all; a
 * buddy list change also moves the owner's presence stamp at every node (the
 * mutual rule: what its buddies may see changed).
 *
 * One record per user, last writer wins: two changes of one user's rows at
 * two nodes at the same moment end, everywhere, on the one Redis versioned
 * last (the other is lost). An agent talks to one node at a time, so this
 * takes two administrators racing on one user.
 *
 * Stored offline messages are not here: a clustered node keeps them in
 * Redis only (`redis_mailbox.ts`, docs/SCALING.md).
 *
 * @module
 */

import { fromBase64Url, type StoredCredentials, toBase64Url } from "../auth.ts";
import type { Directory } from "./directory.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisReplica } from "./redis_replica.ts";
import type { AccountStore } from "./store.ts";

/** What {@linkcode openRedisAccounts} shares. */
export interface RedisAccountsOptions {
  /** The node's connection to Redis (`RedisDirectory.link`). */
  readonly link: RedisLink;
  /** Key prefix of the domain, `lumi:<domain>:` (`RedisDirectory.prefix`). */
  readonly prefix: string;
  /** The node's account database. */
  readonly store: AccountStore;
  /** The node's directory: signed-up users from other nodes become users here. */
  readonly directory: Directory;
}

/** Who else keeps passwords in memory (the extended service): told of each applied password. */
export interface PasswordKeeper {
  /** Set or replace `name`'s password. */
  setPassword(name: string, credentials: StoredCredentials): void;
  /** Remove `name`'s password. */
  clearPassword(name: string): boolean;
}

/** A user's rows, as one record. */
interface AccountRecord {
  /** The account row, if any: signed up, and its credentials (base64url). */
  readonly a?: {
    readonly u: boolean;
    readonly s?: string;
    readonly i?: number;
    readonly k?: string;
  };
  /** The identity key. */
  readonly id?: string;
  /** The buddy list. */
  readonly b?: readonly string[];
}

/** The node's accounts as a replica of the domain's; close with `await using` (before the store). */
export class RedisAccounts implements AsyncDisposable {
  readonly #store: AccountStore;
  readonly #directory: Directory;
  readonly #replica: RedisReplica;
  #applying = false;
  /** Records that could not be applied (the account database failing). */
  failures = 0;
  /** Told of every password applied from another node (set once the extended service exists). */
  passwords: PasswordKeeper | undefined;

  /** Use {@linkcode openRedisAccounts}. */
  constructor(options: RedisAccountsOptions) {
    this.#store = options.store;
    this.#directory = options.directory;
    this.#replica = new RedisReplica({
      link: options.link,
      prefix: options.prefix,
      channel: `${options.prefix}accounts`,
      fields: ["av", "acct"],
      read: (name) => this.#record(name),
      apply: (name, record) => this.#apply(name, record),
    });
  }

  /** Load the domain's records, then share the local users Redis does not know yet. */
  async open(): Promise<void> {
    await this.#replica.open();
    this.#store.observe((name) => {
      if (!this.#applying) this.#replica.mark(name);
    });
    const names = new Set(this.#store.accounts().map((account) => account.name));
    for (const name of names) if (!this.#replica.known(name)) this.#replica.mark(name);
  }

  /** Write what is still dirty now. */
  flush(): Promise<void> {
    return this.#replica.flush();
  }

  /** Write what is dirty and stop observing the store. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#store.observe(undefined);
    await this.#replica.flush().catch(() => {});
  }

  #record(name: string): string {
    const account = this.#store.get(name);
    const key = this.#store.identityKey(name);
    const buddies = this.#store.buddies(name);
    if (!account && key === undefined && buddies.length === 0) return "";
    const c = account?.credentials;
    return JSON.stringify(
      {
        ...(account && {
          a: {
            u: account.signedUp,
            ...(c && { s: toBase64Url(c.salt), i: c.iterations, k: toBase64Url(c.storedKey) }),
          },
        }),
        ...(key !== undefined && { id: key }),
        ...(buddies.length > 0 && { b: buddies }),
      } satisfies AccountRecord,
    );
  }

  #apply(name: string, text: string): void {
    let record: AccountRecord = {};
    try {
      if (text !== "") record = JSON.parse(text);
    } catch {
      return;
    }
    this.#applying = true;
    try {
      const store = this.#store;
      store.remove(name);
      const a = record.a;
      if (a) {
        const salt = a.s === undefined ? undefined : fromBase64Url(a.s);
        const storedKey = a.k === undefined ? undefined : fromBase64Url(a.k);
        const credentials = salt && storedKey && a.i !== undefined
          ? { salt, iterations: a.i, storedKey }
          : undefined;
        const none = { salt: new Uint8Array(0), iterations: 0, storedKey: new Uint8Array(0) };
        if (a.u) store.signUp(name, credentials ?? none);
        else store.setPassword(name, credentials ?? none);
        if (!credentials) (this.passwords ?? store).clearPassword(name);
        else this.passwords?.setPassword(name, credentials);
        if (a.u && !this.#directory.has(name)) this.#directory.add(name, "signup");
      } else this.passwords?.clearPassword(name);
      if (record.id !== undefined) store.setIdentityKey(name, record.id);
      for (const buddy of record.b ?? []) store.addBuddy(name, buddy);
      // What its buddies may see of it may have changed (the mutual rule).
      this.#directory.touchPresence(name);
    } catch {
      this.failures++;
    } finally {
      this.#applying = false;
    }
  }
}

/** Share the node's accounts through Redis: loaded and observed. */
export async function openRedisAccounts(options: RedisAccountsOptions): Promise<RedisAccounts> {
  const accounts = new RedisAccounts(options);
  await accounts.open();
  return accounts;
}
