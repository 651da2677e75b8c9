/**
 * One kind of per-user record (a registration, an account) kept in memory by
 * every node and shared through Redis, versioned per user — the engine under
 * `redis_directory.ts` and `redis_accounts.ts`.
 *
 * - **Out**: a record changed here is marked dirty ({@linkcode RedisReplica.mark});
 *   the dirty names are written within 2 ms of the packet that changed them
 *   (a timer, so a burst goes out together) by **one** Lua script per
 *   batch: for each user it bumps the user's version, stores the record, and
 *   then publishes the whole batch as one message, atomically. One script
 *   and one message per batch, not per user, is what keeps Redis, and every
 *   node applying the batch, cheap under load.
 * - **In**: every node applies each published record with a higher version
 *   than it has seen for that user, and skips its own batches (their
 *   versions come back in the script's reply). A name this node changed but
 *   has not yet written wins over what arrives meanwhile: its write comes
 *   later, so it gets the higher version, and every node ends on it; what
 *   arrives while its write is in flight is held until the reply says its
 *   version. So two changes of one user at two nodes at once end, everywhere,
 *   on the one Redis versioned last.
 *
 * Each user is one hash `<prefix>{<name>}` (the braces are a Redis Cluster
 * hash tag: everything of a user stays in one slot); each kind of record has
 * its own two fields in it (version, record). A batch script touches many
 * users' keys, which one Redis (or a Redis Cluster grouping batches by slot,
 * not done here) allows.
 *
 * @module
 */

import { type RedisLink, redisScript } from "./redis_link.ts";

const WRITE = await redisScript(`
local node, channel, vf, rf = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out, vs = {}, {}
local k = 1
for i = 1, (#ARGV - 4) / 3 do
  local name, rec, extra = ARGV[2 + 3 * i], ARGV[3 + 3 * i], tonumber(ARGV[4 + 3 * i])
  local v = redis.call('HINCRBY', KEYS[k], vf, 1)
  redis.call('HSET', KEYS[k], rf, rec)
  for j = 1, extra do redis.call('DEL', KEYS[k + j]) end
  k = k + 1 + extra
  vs[i] = v
  out[i] = {v, name, rec}
end
redis.call('PUBLISH', channel, node .. '\\n' .. cjson.encode(out))
return vs`);

/** Most users written by one script (a script blocks Redis while it runs). */
const BATCH = 256;

/** What a {@linkcode RedisReplica} shares, and how it reads and applies its records. */
export interface ReplicaSpec {
  readonly link: RedisLink;
  /** Key prefix of the domain, `lumi:<domain>:`. */
  readonly prefix: string;
  /** The channel its batches are published on. */
  readonly channel: string;
  /** The hash fields of the version and of the record. */
  readonly fields: readonly [version: string, record: string];
  /** Keys of the user to delete with this write (same hash tag), e.g. its look-up misses. */
  readonly alsoDelete?: (name: string) => string[];
  /** The user's record now, as text (`""`: none). */
  read(name: string): string;
  /** Apply another node's record of `name` (`""`: none). */
  apply(name: string, record: string): void;
  /** Retry a failed write after this many ms; default 250. */
  readonly retryMs?: number;
  /**
   * Gather changes this long before writing them, in ms; default 2. Not on
   * the reply path (the node answers from memory first): it only makes
   * batches, hence Redis's and the other nodes' work, smaller under load.
   */
  readonly batchMs?: number;
}

/** One kind of per-user record shared through Redis; see the module doc. */
export class RedisReplica {
  readonly #spec: ReplicaSpec;
  readonly #link: RedisLink;
  #dirty = new Set<string>();
  #inflight = new Set<string>();
  readonly #waiting = new Map<string, { v: number; rec: string }>();
  readonly #versions = new Map<string, number>();
  #scheduled = false;
  #flushing: Promise<void> | undefined;

  constructor(spec: ReplicaSpec) {
    this.#spec = spec;
    this.#link = spec.link;
    spec.link.onReady(() => {
      if (this.#dirty.size > 0) this.#schedule();
    });
  }

  /** Subscribe, then read every stored record (so nothing published meanwhile is missed). */
  async open(): Promise<void> {
    await this.#spec.link.subscribe(this.#spec.channel, (message) => this.#message(message));
    await this.#load();
    // Back from a lost subscriber connection: read everything again (newer versions apply).
    const reload = () =>
      this.#load().catch(() => {
        this.#spec.link.stats.errors++;
        if (!this.#spec.link.closed) setTimeout(reload, this.#spec.retryMs ?? 250);
      });
    this.#spec.link.onResubscribed(reload);
  }

  /** Read every stored record, applying those newer than this node's. */
  async #load(): Promise<void> {
    const { link, prefix, fields } = this.#spec;
    const keys: string[] = [];
    for await (const batch of link.client.scanIterator({ MATCH: `${prefix}{*}`, COUNT: 1000 })) {
      keys.push(...batch);
    }
    const rows = await Promise.all(keys.map((key) => link.client.hmGet(key, [...fields])));
    keys.forEach((key, i) => {
      const [v, rec] = rows[i]!;
      if (v === null || v === undefined) return;
      this.#receive(key.slice(prefix.length + 1, -1), Number(v), rec ?? "");
    });
  }

  /** The record of `name` changed here: write it (soon). */
  mark(name: string): void {
    this.#dirty.add(name);
    this.#schedule();
  }

  /** Has Redis (or this node) a version of `name`'s record? */
  known(name: string): boolean {
    return this.#versions.has(name);
  }

  /** Has `name` changed here without being written yet? */
  isDirty(name: string): boolean {
    return this.#dirty.has(name);
  }

  /** Write the dirty names now (tests and shutdown; otherwise it happens by itself). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#dirty.size === 0) return;
    this.#flushing = this.#write().finally(() => this.#flushing = undefined);
    await this.#flushing;
  }

  #schedule(): void {
    if (this.#scheduled || this.#link.closed) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.flush().catch(() => {});
    }, this.#spec.batchMs ?? 2);
  }

  async #write(): Promise<void> {
    const names = [...this.#dirty];
    this.#dirty = new Set();
    this.#inflight = new Set(names);
    const { prefix, fields, channel, alsoDelete } = this.#spec;
    try {
      for (let start = 0; start < names.length; start += BATCH) {
        const part = names.slice(start, start + BATCH);
        const keys: string[] = [];
        const args = [this.#link.node, channel, fields[0], fields[1]];
        for (const name of part) {
          const extra = alsoDelete?.(name) ?? [];
          keys.push(`${prefix}{${name}}`, ...extra);
          args.push(name, this.#spec.read(name), String(extra.length));
        }
        const versions = await this.#link.run(WRITE, keys, args) as number[];
        part.forEach((name, i) => this.#versions.set(name, Number(versions[i])));
        this.#link.stats.writes += part.length;
        for (const name of part) this.#inflight.delete(name);
      }
    } catch {
      const failed = names.filter((name) => this.#inflight.has(name));
      this.#link.stats.errors += failed.length;
      for (const name of failed) this.#dirty.add(name);
      if (!this.#link.closed) setTimeout(() => this.#schedule(), this.#spec.retryMs ?? 250);
    } finally {
      this.#inflight = new Set();
      for (const [name, { v, rec }] of this.#waiting) this.#offer(name, v, rec);
      this.#waiting.clear();
    }
  }

  /** A batch published: `<node>\n[[v, name, record], …]`; this node's own are skipped unread. */
  #message(message: string): void {
    const cut = message.indexOf("\n");
    if (cut < 0 || message.slice(0, cut) === this.#link.node) return;
    let batch: unknown;
    try {
      batch = JSON.parse(message.slice(cut + 1));
    } catch {
      return;
    }
    if (!Array.isArray(batch)) return;
    for (const entry of batch) {
      if (!Array.isArray(entry)) continue;
      const [v, name, rec] = entry;
      if (typeof v !== "number" || typeof name !== "string" || typeof rec !== "string") continue;
      this.#receive(name, v, rec);
    }
  }

  /** A record read or published: held while this node's own write of the user is in flight. */
  #receive(name: string, v: number, rec: string): void {
    if (this.#inflight.has(name)) {
      const held = this.#waiting.get(name);
      if (!held || held.v < v) this.#waiting.set(name, { v, rec });
      return;
    }
    this.#offer(name, v, rec);
  }

  /** A record of version `v` from Redis: applied unless this node has newer or will write newer. */
  #offer(name: string, v: number, rec: string): void {
    if (this.#dirty.has(name) || v <= (this.#versions.get(name) ?? 0)) return;
    this.#versions.set(name, v);
    this.#link.stats.applied++;
    this.#spec.apply(name, rec);
  }
}
