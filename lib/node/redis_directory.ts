/**
 * A clustered domain's {@linkcode Directory}: several nodes share their
 * registrations through one Redis (`[cluster] redis = …` in `nodelumi.cfg`).
 *
 * As the seam asks (`directory.ts`), the node answers from memory: this is
 * the {@linkcode MemoryDirectory} of the node's copy of the domain, plus two
 * feeds.
 * - **Out**: every registration made, moved or ended here (the
 *   {@linkcode Directory.observe} feed) marks its name dirty; dirty names are
 *   written in one pipelined batch right after the packet that changed them,
 *   each by a Lua script that bumps the user's version, stores the record and
 *   publishes it, atomically.
 * - **In**: every node subscribes to the domain's channel and applies each
 *   published record with a higher version than it has seen for that user.
 *   A name this node changed but has not yet written wins over what arrives
 *   meanwhile: its write comes later, so it gets the higher version, and
 *   every node ends on it. So two registrations of one user at two nodes at
 *   once end, everywhere, on the one Redis versioned last.
 *
 * Each user is one hash `lumi:<domain>:{<name>}` (the braces are a Redis
 * Cluster hash tag: everything of a user stays in one slot). Start-up reads
 * them all (SCAN) after subscribing. When Redis is unreachable the node goes
 * on answering from its copy, counts the failed writes and retries them
 * until Redis is back. Registrations are shared, and users added or removed
 * at the console or by `ctl` (a hash `lumi:<domain>:admin`, read at
 * start-up, and the same channel) — nothing else (see docs/SCALING.md);
 * heartbeats are not, so only the node that made (or last moved) a
 * registration expires it.
 *
 * @module
 */

import { createClient } from "#redis";
import { getLogger } from "#log";
import type { Endpoint } from "../plumi/address.ts";
import type { ExpiryLimits, Session, UserOrigin } from "./directory.ts";
import { MemoryDirectory } from "./memory_directory.ts";

/** Where the shared store is, and who this node is. */
export interface RedisDirectoryOptions {
  /** `redis://host:port` or a Unix socket path (starting with `/`). */
  readonly redis: string;
  /** The domain: the prefix of its keys and its channel. */
  readonly domain: string;
  /** The users of `nodelumi.cfg`. */
  readonly configured: Iterable<string>;
  /** Users created by sign-up. */
  readonly signedUp?: Iterable<string>;
  /** This node's name in the published records; default a random one. */
  readonly nodeId?: string;
  /** Retry a failed write after this many ms; default 250. */
  readonly retryMs?: number;
}

/** What the node has done with Redis, for the metrics and the tests. */
export interface RedisDirectoryStats {
  /** Records written. */
  writes: number;
  /** Writes that failed (Redis unreachable); they are retried. */
  errors: number;
  /** Records from other nodes applied here. */
  applied: number;
  /** Is the connection up? */
  connected: boolean;
}

/** A stored registration: what another node needs to answer for the user. */
interface StoredRecord {
  readonly ip: string;
  readonly port: number;
  readonly since: number;
  readonly session?: Session;
}

const WRITE = `
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'node', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({v = v, node = ARGV[2], name = ARGV[4], rec = ARGV[1]}))
return v`;

/** SHA1 of {@linkcode WRITE}, as EVALSHA names it. */
const WRITE_SHA = Array.from(
  new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(WRITE))),
  (b) => b.toString(16).padStart(2, "0"),
).join("");

function clientOptions(redis: string) {
  const reconnectStrategy = (retries: number) => Math.min(50 * (retries + 1), 1_000);
  return redis.startsWith("/")
    ? { socket: { path: redis, reconnectStrategy }, disableOfflineQueue: true }
    : {
      url: redis,
      socket: { reconnectStrategy, connectTimeout: 2_000 },
      disableOfflineQueue: true,
    };
}

/**
 * The node's copy of a domain shared through Redis; open it with
 * {@linkcode openRedisDirectory}, close it with `await using`.
 */
export class RedisDirectory extends MemoryDirectory implements AsyncDisposable {
  /** What this node has done with Redis. */
  readonly stats: RedisDirectoryStats = { writes: 0, errors: 0, applied: 0, connected: false };
  readonly #client;
  readonly #subscriber;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #node: string;
  readonly #retryMs: number;
  #outer: ((name: string) => void) | undefined;
  #dirty = new Set<string>();
  #inflight = new Set<string>();
  readonly #waiting = new Map<string, { v: number; rec: string }>();
  readonly #versions = new Map<string, number>();
  /** Records of registrations other nodes made, to keep them through a local expiry. */
  readonly #remote = new Map<string, string>();
  #applying = false;
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #closed = false;
  /** Set once loaded: from then on, console adds and removals are shared. */
  #live = false;

  /** Use {@linkcode openRedisDirectory}. */
  constructor(options: RedisDirectoryOptions) {
    super(options.configured, options.signedUp);
    this.#prefix = `lumi:${options.domain}:`;
    this.#channel = `lumi:${options.domain}:changes`;
    this.#node = options.nodeId ?? crypto.randomUUID().slice(0, 8);
    this.#retryMs = options.retryMs ?? 250;
    const log = getLogger(["lumi", "node", "cluster"]);
    this.#client = createClient(clientOptions(options.redis));
    this.#subscriber = this.#client.duplicate();
    for (const client of [this.#client, this.#subscriber]) {
      client.on("error", (error: unknown) => {
        if (this.stats.connected) log.warn("Redis: {error}", { error: String(error) });
        this.stats.connected = false;
      });
    }
    this.#client.on("ready", () => {
      this.stats.connected = true;
      if (this.#dirty.size > 0) this.#schedule();
    });
    super.observe((name) => this.#changed(name));
  }

  /** Connect, subscribe, then read every stored registration of the domain. */
  async open(): Promise<void> {
    await this.#client.connect();
    await this.#subscriber.connect();
    await this.#subscriber.subscribe(this.#channel, (message: string) => this.#message(message));
    const keys: string[] = [];
    for await (
      const batch of this.#client.scanIterator({ MATCH: `${this.#prefix}{*}`, COUNT: 1000 })
    ) {
      keys.push(...batch);
    }
    const rows = await Promise.all(keys.map((key) => this.#client.hmGet(key, ["v", "rec"])));
    keys.forEach((key, i) => {
      const [v, rec] = rows[i]!;
      const name = key.slice(this.#prefix.length + 1, -1);
      this.#offer(name, Number(v ?? 0), rec ?? "");
    });
    const admin = await this.#client.hGetAll(`${this.#prefix}admin`);
    for (const [name, what] of Object.entries(admin)) this.#administer(name, what);
    this.stats.connected = true;
    this.#live = true;
  }

  /** A user added here (console or `ctl`, origin `"config"`) is added at every node. */
  override add(name: string, origin: UserOrigin = "config"): boolean {
    const added = super.add(name, origin);
    if (added && origin === "config") this.#share(name, "add");
    return added;
  }

  /** A user removed here is removed at every node. */
  override remove(name: string): boolean {
    const removed = super.remove(name);
    if (removed) this.#share(name, "del");
    return removed;
  }

  #share(name: string, what: "add" | "del"): void {
    if (!this.#live || this.#applying) return;
    const key = `${this.#prefix}admin`;
    const message = JSON.stringify({ admin: what, name, node: this.#node });
    this.#client.multi().hSet(key, name, what).publish(this.#channel, message).exec().catch(
      () => this.stats.errors++,
    );
  }

  #administer(name: string, what: string): void {
    this.#applying = true;
    try {
      if (what === "add" && !this.has(name)) super.add(name, "config");
      else if (what === "del" && this.has(name)) super.remove(name);
    } finally {
      this.#applying = false;
    }
  }

  /** The observer of the node (the state journal); ours sits in between. */
  override observe(observer: (name: string) => void): void {
    this.#outer = observer;
  }

  /**
   * Expire only what this node made (the rule of {@linkcode MemoryDirectory.expire}):
   * another node's registrations are its own to expire, their heartbeats reach it, not us.
   */
  override expire(now: number, limits: ExpiryLimits): string[] {
    const gone: string[] = [];
    for (const [name, registration] of this.online()) {
      if (this.#remote.has(name)) continue;
      const session = registration.session;
      if (!session && limits.originalMs <= 0) continue;
      const limit = session ? session.heartbeatMs * limits.heartbeats : limits.originalMs;
      if (limit > 0 && now - registration.lastSeen > limit) gone.push(name);
    }
    for (const name of gone) this.deregister(name);
    return gone;
  }

  /** Write what is still dirty, then close both connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.stats.connected) await this.flush().catch(() => {});
    this.#closed = true;
    for (const client of [this.#subscriber, this.#client]) {
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    }
  }

  /** Write the dirty names now (tests and shutdown; otherwise it happens by itself). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#dirty.size === 0) return;
    this.#flushing = this.#write().finally(() => this.#flushing = undefined);
    await this.#flushing;
  }

  #changed(name: string): void {
    if (!this.#applying) {
      this.#remote.delete(name);
      this.#dirty.add(name);
      this.#schedule();
    }
    this.#outer?.(name);
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.flush().catch(() => {});
    }, 0);
  }

  async #write(): Promise<void> {
    const names = [...this.#dirty];
    this.#dirty = new Set();
    this.#inflight = new Set(names);
    try {
      // Issued in one tick: the client sends them as one pipeline.
      const versions = await Promise.all(names.map((name) => {
        const registration = this.get(name);
        const rec = registration
          ? JSON.stringify(
            {
              ip: registration.endpoint.ip,
              port: registration.endpoint.port,
              since: registration.since,
              ...(registration.session && { session: registration.session }),
            } satisfies StoredRecord,
          )
          : "";
        return this.#script({
          keys: [`${this.#prefix}{${name}}`],
          arguments: [rec, this.#node, this.#channel, name],
        });
      }));
      names.forEach((name, i) => this.#versions.set(name, Number(versions[i])));
      this.stats.writes += names.length;
    } catch {
      this.stats.errors += names.length;
      for (const name of names) this.#dirty.add(name);
      if (!this.#closed) {
        setTimeout(() => this.#schedule(), this.#retryMs);
      }
    } finally {
      this.#inflight = new Set();
      for (const [name, { v, rec }] of this.#waiting) this.#offer(name, v, rec);
      this.#waiting.clear();
    }
  }

  /** The write script by its SHA1 (sent whole only when Redis does not have it, e.g. after a restart). */
  async #script(options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    try {
      return await this.#client.evalSha(WRITE_SHA, options);
    } catch (error) {
      if (!String(error).includes("NOSCRIPT")) throw error;
      return await this.#client.eval(WRITE, options);
    }
  }

  #message(message: string): void {
    let parsed: { v?: unknown; node?: unknown; name?: unknown; rec?: unknown };
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    const { v, name, rec } = parsed;
    if ("admin" in parsed) {
      const { admin, node } = parsed as { admin?: unknown; node?: unknown };
      if (typeof name === "string" && typeof admin === "string" && node !== this.#node) {
        this.#administer(name, admin);
      }
      return;
    }
    if (typeof v !== "number" || typeof name !== "string" || typeof rec !== "string") return;
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
    this.stats.applied++;
    this.#apply(name, rec);
  }

  #apply(name: string, rec: string): void {
    this.#applying = true;
    try {
      if (rec === "") {
        this.#remote.delete(name);
        if (this.get(name)) this.deregister(name);
        return;
      }
      let stored: StoredRecord;
      try {
        stored = JSON.parse(rec);
      } catch {
        return;
      }
      if (!this.has(name)) this.add(name, "signup");
      const endpoint: Endpoint = { ip: stored.ip, port: stored.port };
      this.register(name, endpoint, stored.since, stored.session);
      this.#remote.set(name, rec);
    } finally {
      this.#applying = false;
    }
  }
}

/** Open the clustered directory of `options.domain` on its Redis: connected and loaded. */
export async function openRedisDirectory(options: RedisDirectoryOptions): Promise<RedisDirectory> {
  const directory = new RedisDirectory(options);
  try {
    await directory.open();
  } catch (error) {
    await directory[Symbol.asyncDispose]().catch(() => {});
    throw error;
  }
  return directory;
}
