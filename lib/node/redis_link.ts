/**
 * A node's connection to its cluster's Redis: one command connection (its
 * commands of one tick go out as one pipeline), one subscriber connection
 * shared by every replica of the node (`redis_directory.ts`,
 * `redis_accounts.ts`, `redis_liveness.ts`), and Lua scripts called by their
 * SHA1 (`EVALSHA`, sent whole only when Redis lacks them, e.g. after a
 * restart). Commands are refused at once while disconnected (no unbounded
 * queue); the client reconnects by itself, with a back-off up to 1 s.
 *
 * @module
 */

import { createClient } from "#redis";
import { getLogger } from "#log";

/** What the node has done with Redis, for the metrics and the tests. */
export interface RedisLinkStats {
  /** Records written. */
  writes: number;
  /** Writes that failed (Redis unreachable); they are retried. */
  errors: number;
  /** Records from other nodes applied here. */
  applied: number;
  /** Is the connection up? */
  connected: boolean;
}

/** A Lua script and its SHA1. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/** Prepare `source` to be called by its SHA1. */
export async function redisScript(source: string): Promise<RedisScript> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(source));
  const sha = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return { source, sha };
}

function clientOptions(redis: string) {
  const reconnectStrategy = (retries: number) => Math.min(50 * (retries + 1), 1_000);
  // noDelay (no Nagle) is the client's default; said here because latency depends on it.
  return redis.startsWith("/")
    ? { socket: { path: redis, reconnectStrategy }, disableOfflineQueue: true }
    : {
      url: redis,
      socket: { reconnectStrategy, connectTimeout: 2_000, noDelay: true },
      disableOfflineQueue: true,
    };
}

/** The node's two connections to Redis; open with {@linkcode RedisLink.open}, close with `await using`. */
export class RedisLink implements AsyncDisposable {
  /** What the node has done with Redis (every replica counts here). */
  readonly stats: RedisLinkStats = { writes: 0, errors: 0, applied: 0, connected: false };
  /** This node's name in the records it publishes (its own are skipped on the way back). */
  readonly node: string;
  /** The command connection. */
  readonly client;
  readonly #subscriber;
  readonly #ready: Array<() => void> = [];
  readonly #resubscribed: Array<() => void> = [];
  #subscribed = false;
  #closed = false;

  /** Use {@linkcode RedisLink.open}. */
  constructor(redis: string, node?: string) {
    this.node = node ?? crypto.randomUUID().slice(0, 8);
    const log = getLogger(["lumi", "node", "cluster"]);
    this.client = createClient(clientOptions(redis));
    this.#subscriber = this.client.duplicate();
    for (const client of [this.client, this.#subscriber]) {
      client.on("error", (error: unknown) => {
        if (this.stats.connected) log.warn("Redis: {error}", { error: String(error) });
        this.stats.connected = false;
      });
    }
    this.client.on("ready", () => {
      this.stats.connected = true;
      for (const ready of this.#ready) ready();
    });
    // What was published while the subscriber was away is lost: the replicas read Redis again.
    this.#subscriber.on("ready", () => {
      if (!this.#subscribed) return;
      for (const resubscribed of this.#resubscribed) resubscribed();
    });
  }

  /** Connect both connections to `redis` (`redis://host:port` or a socket path). */
  static async open(redis: string, node?: string): Promise<RedisLink> {
    const link = new RedisLink(redis, node);
    try {
      await link.client.connect();
      await link.#subscriber.connect();
    } catch (error) {
      await link[Symbol.asyncDispose]();
      throw error;
    }
    link.stats.connected = true;
    link.#subscribed = true;
    return link;
  }

  /** Has the link been closed? */
  get closed(): boolean {
    return this.#closed;
  }

  /** Call `ready` whenever the command connection comes (back) up. */
  onReady(ready: () => void): void {
    this.#ready.push(ready);
  }

  /** Call `again` whenever the subscriber connection comes back (messages may have been missed). */
  onResubscribed(again: () => void): void {
    this.#resubscribed.push(again);
  }

  /** Deliver every message of `channel` to `handler`. */
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    await this.#subscriber.subscribe(channel, handler);
  }

  /** Run `script` by its SHA1 (whole only when Redis does not have it). */
  async run(script: RedisScript, keys: string[], args: string[]): Promise<unknown> {
    const options = { keys, arguments: args };
    try {
      return await this.client.evalSha(script.sha, options);
    } catch (error) {
      if (!String(error).includes("NOSCRIPT")) throw error;
      return await this.client.eval(script.source, options);
    }
  }

  /** Close both connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of [this.#subscriber, this.client]) {
      try {
        await client.close();
      } catch {
        try {
          client.destroy();
        } catch {
          // Closed already.
        }
      }
    }
  }
}
