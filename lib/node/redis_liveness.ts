/**
 * Look-ups unanswered, counted across the nodes of a cluster
 * ({@linkcode SharedMisses}): each user's count is a Redis counter
 * `lumi:<domain>:{<name>}:miss`, incremented atomically by any node whose
 * forwarded look-up went unanswered (`INCR`, with an expiry so a stale count
 * fades), cleared by any node that hears the agent answer after a miss, and
 * by every new registration of the user (the registration's write deletes
 * it). Each change is published, so every node knows the count from memory
 * when it decides whether to forward the next look-up or answer `RL3`.
 *
 * Misses are rare (an agent that is gone), so this costs Redis nothing while
 * agents answer: a node writes only on a miss, and on the first answer after
 * one.
 *
 * @module
 */

import type { SharedMisses } from "./directory.ts";
import { type RedisLink, redisScript } from "./redis_link.ts";

const MISS = await redisScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({name = ARGV[3], n = n}))
return n`);

const CLEAR = await redisScript(`
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], cjson.encode({name = ARGV[2], n = 0}))
return 0`);

/** Where the counts are. */
export interface RedisMissesOptions {
  readonly link: RedisLink;
  /** Key prefix of the domain, `lumi:<domain>:`. */
  readonly prefix: string;
  /** The key of `name`'s count. */
  readonly key: (name: string) => string;
  /** The id of `name`'s registration here now (a count belongs to one registration). */
  readonly current: (name: string) => number | undefined;
  /** A count untouched this long is gone, in ms; default 60 000. */
  readonly expiryMs?: number;
}

/** The domain's unanswered look-ups, counted in Redis; see the module doc. */
export class RedisMisses implements SharedMisses {
  readonly #options: RedisMissesOptions;
  readonly #channel: string;
  /** What this node knows of each count, with the registration it belongs to. */
  readonly #counts = new Map<string, { id: number; n: number }>();

  constructor(options: RedisMissesOptions) {
    this.#options = options;
    this.#channel = `${options.prefix}misses`;
  }

  /** Follow the other nodes' counts. */
  async open(): Promise<void> {
    await this.#options.link.subscribe(this.#channel, (message) => {
      try {
        const { name, n } = JSON.parse(message);
        if (typeof name === "string" && typeof n === "number") this.#set(name, n);
      } catch {
        // Not ours: ignored.
      }
    });
  }

  missed(name: string, id: number): void {
    const known = this.#counts.get(name);
    this.#counts.set(name, { id, n: known?.id === id ? known.n + 1 : 1 });
    const { link, key, expiryMs } = this.#options;
    link.run(MISS, [key(name)], [String(expiryMs ?? 60_000), this.#channel, name])
      .catch(() => link.stats.errors++);
  }

  answered(name: string, id: number): void {
    const known = this.#counts.get(name);
    if (!known || known.id !== id) return;
    this.#counts.delete(name);
    const { link, key } = this.#options;
    link.run(CLEAR, [key(name)], [this.#channel, name]).catch(() => link.stats.errors++);
  }

  /** Are look-ups of `name` counted unanswered (for any registration)? */
  counted(name: string): boolean {
    return this.#counts.has(name);
  }

  count(name: string, id: number): number {
    const known = this.#counts.get(name);
    return known && known.id === id ? known.n : 0;
  }

  /**
   * A count published by Redis (in order, this node's own included: the
   * replies of the scripts are not used, they could overtake a publication),
   * for the registration this node has of `name` now.
   */
  #set(name: string, n: number): void {
    const id = this.#options.current(name);
    if (n <= 0 || id === undefined) this.#counts.delete(name);
    else this.#counts.set(name, { id, n });
  }
}
