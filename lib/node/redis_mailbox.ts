/**
 * A clustered domain's offline messages, kept in Redis (`[cluster] redis`)
 * instead of each node's SQLite: a message left at one node is fetched
 * through any other, and deleted for all once acknowledged.
 *
 * Every operation is one Lua script on the keys of one hash tag
 * (`redis_mailbox_scripts.ts`): the recipient's (its messages, their count
 * and bytes) or the sender's share. A deposit first counts itself into the
 * share (refused `quota` past its bound), then is stored under the
 * recipient's bound (refused `full`, and the share's count given back) —
 * each bound checked and counted atomically in Redis, so they hold across
 * every node of the domain. A node that dies between the two leaves a share
 * counted one message too high until that entry's time to live passes.
 *
 * Durability: the commit resolves only once Redis has answered every write
 * of the burst, so `RM0` is sent after Redis has the message; what Redis
 * keeps across its own crash is its `appendfsync` setting (docs/SCALING.md).
 * Redis unreachable: every call fails at once with a {@linkcode StoreError}
 * (the node answers `e=store`); the connection comes back by itself.
 *
 * Expiry: each touch of a recipient or share first drops what outlived the
 * time to live; keys untouched that long expire in Redis by themselves.
 *
 * @module
 */

import { fromBase64Url, toBase64Url } from "../auth.ts";
import type {
  MailboxBound,
  MailboxLimits,
  MessageStore,
  StoredMessage,
  Usage,
} from "./mailbox_store.ts";
import { mailboxDefaults } from "./mailbox_settings.ts";
import type { RedisLink } from "./redis_link.ts";
import { DELETE, GET, PUT, RECIPIENT_USAGE, RELEASE, SHARE } from "./redis_mailbox_scripts.ts";
import { StoreError } from "./store_error.ts";

/** Keys live this much past a message's time to live (reads between two trims find them). */
const GRACE_MS = 60_000;

/** What {@linkcode RedisMailbox} needs. */
export interface RedisMailboxOptions {
  /** The node's connection to Redis (`RedisDirectory.link`). */
  readonly link: RedisLink;
  /** Key prefix of the domain, `lumi:<domain>:` (`RedisDirectory.prefix`). */
  readonly prefix: string;
  /** Wall-clock ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** The time to live used by reads that are given none (usage, trims). Default: 14 days. */
  readonly ttlMs?: () => number;
}

type Reply = unknown;

/** The offline messages of a clustered domain, in Redis. */
export class RedisMailbox implements MessageStore {
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #ttlMs: () => number;
  readonly #refused = new WeakMap<StoredMessage, MailboxBound>();
  #queue: StoredMessage[] = [];
  #trimmed = 0;
  /** Messages in the domain's mailboxes (`mailstat`, as last seen). */
  total = 0;
  /** Recipients with messages waiting (as last seen). */
  recipients = 0;
  /** Bounds and copies are checked by the scripts of the commit. */
  readonly checksAtCommit = true;

  /** Keep the messages of the domain at `prefix` through `link`. */
  constructor(options: RedisMailboxOptions) {
    this.#link = options.link;
    this.#prefix = options.prefix;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? (() => mailboxDefaults.ttlMs);
  }

  /** The channel of the notices (the name of a recipient who has mail). */
  get channel(): string {
    return `${this.#prefix}mail`;
  }

  /** Ask the node holding `name`'s registration to tell its agent (published). Never throws. */
  announce(name: string): void {
    this.#link.client.publish(this.channel, name).catch(() => this.#link.stats.errors++);
  }

  /** Call `notice` with each recipient announced by any node. */
  async onNotice(notice: (name: string) => void): Promise<void> {
    await this.#link.subscribe(this.channel, notice);
  }

  #r(name: string): [string, string, string] {
    const tag = `${this.#prefix}{${name}}:`;
    return [`${tag}mz`, `${tag}mn`, `${tag}m:`];
  }

  #q(quota: string): [string, string] {
    const tag = `${this.#prefix}{q:${quota}}:`;
    return [`${tag}mq`, `${tag}mb`];
  }

  async #run(what: string, script: typeof PUT, keys: string[], args: string[]): Promise<Reply> {
    try {
      return await this.#link.run(script, keys, args);
    } catch (error) {
      this.#link.stats.errors++;
      throw new StoreError(
        `Cannot ${what} the offline messages in Redis: ${
          this.#link.stats.connected ? "Redis refused" : "Redis is unreachable"
        } (${error instanceof Error ? error.message : String(error)})`,
        { cause: error, fault: "failed" },
      );
    }
  }

  #before(ttlMs = this.#ttlMs()): string {
    return String(this.#now() - ttlMs);
  }

  /** Give the shares back what was trimmed from a recipient (`"bytes quota id"` each). */
  async #release(recipient: string, entries: readonly string[]): Promise<void> {
    if (entries.length === 0) return;
    this.#trimmed += entries.length;
    const byQuota = new Map<string, string[]>();
    for (const entry of entries) {
      const [bytes, quota, id] = entry.split(" ");
      if (!quota || quota === "-") continue;
      byQuota.set(quota, [...(byQuota.get(quota) ?? []), `${bytes} ${recipient} ${id}`]);
    }
    await this.#stat(-entries.length, 0);
    for (const [quota, members] of byQuota) {
      await this.#run("count", RELEASE, this.#q(quota), members).catch(() => {});
    }
  }

  /** Move the domain's totals (best effort: for `stats` only). */
  async #stat(messages: number, recipients: number): Promise<void> {
    const key = `${this.#prefix}mailstat`;
    try {
      const m = this.#link.client.multi().hIncrBy(key, "n", messages).hIncrBy(
        key,
        "r",
        recipients,
      );
      const [n, r] = await m.exec() as unknown as [number, number];
      this.total = Math.max(0, Number(n));
      this.recipients = Math.max(0, Number(r));
    } catch {
      // only the figures of `stats` wait
    }
  }

  get dirty(): boolean {
    return this.#queue.length > 0;
  }

  async recipientUsage(recipient: string): Promise<Usage> {
    const [z, n, base] = this.#r(recipient);
    const reply = await this.#run("read", RECIPIENT_USAGE, [z, n], [base, this.#before()]) as [
      number,
      number,
      string[],
    ];
    await this.#release(recipient, reply[2]);
    return { messages: Number(reply[0]), bytes: Number(reply[1]) };
  }

  async shareUsage(quota: string): Promise<Usage> {
    const reply = await this.#run("read", SHARE, this.#q(quota), ["usage", this.#before()]) as [
      number,
      number,
    ];
    return { messages: Number(reply[0]), bytes: Number(reply[1]) };
  }

  async has(recipient: string, id: string): Promise<boolean> {
    if (this.#queue.some((m) => m.recipient === recipient && m.id === id)) return true;
    const [z] = this.#r(recipient);
    try {
      return (await this.#link.client.zScore(z, id)) !== null;
    } catch (error) {
      throw new StoreError(`Cannot read the offline messages in Redis: ${error}`, {
        cause: error,
        fault: "failed",
      });
    }
  }

  insert(message: StoredMessage): void {
    this.#queue.push(message);
  }

  /** Write every queued message (each under both bounds); resolves once Redis answered all. */
  async commit(limits: MailboxLimits = mailboxDefaults): Promise<StoredMessage[]> {
    const batch = this.#queue;
    this.#queue = [];
    const results = await Promise.allSettled(batch.map((m) => this.#put(m, limits)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return batch.filter((_, i) => (results[i] as PromiseFulfilledResult<boolean>).value);
  }

  refusal(message: StoredMessage): MailboxBound | undefined {
    return this.#refused.get(message);
  }

  async #put(m: StoredMessage, limits: MailboxLimits): Promise<boolean> {
    const before = this.#before(limits.ttlMs);
    const ttl = String(limits.ttlMs + GRACE_MS);
    const bytes = String(m.body.length);
    const member = `${bytes} ${m.recipient} ${m.id}`;
    const share = this.#q(m.quota);
    const counted = await this.#run("write", SHARE, share, [
      "add",
      before,
      member,
      String(m.storedAt),
      bytes,
      String(limits.maxPerSender),
      String(limits.maxBytesPerSender),
      ttl,
    ]);
    if (counted === "quota") {
      this.#refused.set(m, "quota");
      return false;
    }
    const [z, n, base] = this.#r(m.recipient);
    const reply = await this.#run("write", PUT, [z, n], [
      base,
      m.id,
      m.sender,
      m.quota,
      String(m.storedAt),
      toBase64Url(m.body),
      bytes,
      String(limits.maxPerRecipient),
      String(limits.maxBytesPerRecipient),
      before,
      ttl,
    ]) as [string, string[], number];
    const [verdict, trimmed, count] = reply;
    // The shares' counts and the totals follow; the answer need not wait for them.
    this.#release(m.recipient, trimmed).catch(() => {});
    if (verdict !== "ok" && counted === "new") {
      await this.#run("count", RELEASE, share, [member]).catch(() => {});
    }
    if (verdict === "full") {
      this.#refused.set(m, "full");
      return false;
    }
    if (verdict === "ok") void this.#stat(1, Number(count) === 1 ? 1 : 0);
    return true; // a copy of a message stored already is answered as stored
  }

  async get(
    recipient: string,
    since: number,
    id?: string,
    skip = 0,
  ): Promise<StoredMessage | undefined> {
    const [z, , base] = this.#r(recipient);
    const reply = await this.#run("read", GET, [z], [base, String(since), String(skip), id ?? ""]);
    if (!Array.isArray(reply)) return undefined;
    const [mid, sender, quota, at, body] = reply.map(String) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const bytes = fromBase64Url(body);
    if (!bytes) return undefined;
    return { recipient, id: mid, sender, quota, storedAt: Number(at), body: new Uint8Array(bytes) };
  }

  async delete(recipient: string, id: string): Promise<boolean> {
    const [z, n, base] = this.#r(recipient);
    const reply = await this.#run("delete", DELETE, [z, n], [base, id]);
    if (!Array.isArray(reply)) return false;
    const [info, left] = reply as [string, number];
    const [bytes, quota] = info.split(" ");
    await this.#stat(-1, Number(left) === 0 ? -1 : 0);
    if (quota && quota !== "-") {
      await this.#run("count", RELEASE, this.#q(quota), [`${bytes} ${recipient} ${id}`])
        .catch(() => {});
    }
    return true;
  }

  /** What was trimmed since the last call (each touch trims; Redis expires untouched keys). */
  expire(_before: number): number {
    const n = this.#trimmed;
    this.#trimmed = 0;
    return n;
  }

  /** Nothing to let go: the link is the directory's (closed with it). */
  close(): void {
    this.#queue = [];
  }
}
