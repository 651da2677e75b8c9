/**
 * A clustered domain's {@linkcode Directory}: several nodes share their
 * registrations through one Redis (`[cluster] redis = …` in `nodelumi.cfg`).
 *
 * As the seam asks (`directory.ts`), the node answers from memory: this is
 * the {@linkcode MemoryDirectory} of the node's copy of the domain, whose
 * registrations are a {@linkcode RedisReplica} (`redis_replica.ts`: batched,
 * versioned writes and pub/sub, one winner of a race everywhere).
 *
 * - **Owner.** The node that made, moved or last heard a heartbeat of a
 *   registration owns it: only the owner expires it. A heartbeat reaching
 *   another node (the agent failed over to it) makes that node the owner,
 *   with one write; so heartbeats seen by any node keep the session alive
 *   at every node, without a write per heartbeat.
 * - **Busy.** A change of the busy state is written too: presence changes
 *   reach watchers at every node.
 * - **Users** added or removed at the console or by `ctl` are in a hash
 *   `lumi:<domain>:admin` (read at start-up) and published on their own
 *   channel.
 *
 * When Redis is unreachable the node goes on answering from its copy,
 * counts the failed writes and retries them until Redis is back.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { ExpiryLimits, HeartbeatChange, UserOrigin } from "./directory.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { RedisLink, type RedisLinkStats } from "./redis_link.ts";
import { RedisMisses } from "./redis_liveness.ts";
import { RedisReplica } from "./redis_replica.ts";
import { jsonSessionCodec, type SessionCodec } from "./redis_session.ts";

/** Where the shared store is, and who this node is. */
export interface RedisDirectoryOptions {
  /** `redis://host:port` or a Unix socket path (starting with `/`). */
  readonly redis: string;
  /** The domain: the prefix of its keys and its channels. */
  readonly domain: string;
  /** The users of `nodelumi.cfg`. */
  readonly configured: Iterable<string>;
  /** Users created by sign-up. */
  readonly signedUp?: Iterable<string>;
  /** This node's name in the published records; default a random one. */
  readonly nodeId?: string;
  /** Retry a failed write after this many ms; default 250. */
  readonly retryMs?: number;
  /** How sessions travel; default every field as JSON ({@linkcode jsonSessionCodec}). */
  readonly sessions?: SessionCodec;
  /**
   * A node is dead when its liveness key (`lumi:<domain>:node:<id>`, renewed
   * every third of this) is this old, in ms; then the other nodes expire its
   * registrations. Default 3 000.
   */
  readonly aliveMs?: number;
}

/** What the node has done with Redis, for the metrics and the tests. */
export type RedisDirectoryStats = RedisLinkStats;

/** A stored registration: what another node needs to answer for the user. */
interface StoredRecord {
  readonly ip: string;
  readonly port: number;
  readonly since: number;
  /** Last sign of life (wall-clock ms). */
  readonly seen?: number;
  /** The session, opaque ({@linkcode SessionCodec}). */
  readonly s?: string;
  /** The node that owns it. */
  readonly o?: string;
}

/** The key of `name`'s look-ups unanswered across the nodes (`redis_liveness.ts`). */
export function missKey(prefix: string, name: string): string {
  return `${prefix}{${name}}:miss`;
}

/**
 * The node's copy of a domain shared through Redis; open it with
 * {@linkcode openRedisDirectory}, close it with `await using`.
 */
export class RedisDirectory extends MemoryDirectory implements AsyncDisposable {
  /** The connection to Redis, shared with the node's other replicas. */
  readonly link: RedisLink;
  /** Key prefix of the domain, `lumi:<domain>:`. */
  readonly prefix: string;
  /** Unanswered look-ups counted across the nodes (`redis_liveness.ts`). */
  readonly misses: RedisMisses;
  readonly #replica: RedisReplica;
  readonly #adminChannel: string;
  readonly #sessions: SessionCodec;
  #outer: ((name: string) => void) | undefined;
  /** Registrations another node owns (made, moved or last heard): the owner's id, by name. */
  readonly #remote = new Map<string, string>();
  /** Owners whose liveness key has expired: their registrations are everyone's to expire. */
  #dead = new Set<string>();
  readonly #aliveMs: number;
  #aliveTimer: ReturnType<typeof setTimeout> | undefined;
  #applying = false;
  /** Set once loaded: from then on, console adds and removals are shared. */
  #live = false;

  /** Use {@linkcode openRedisDirectory}. */
  constructor(options: RedisDirectoryOptions, link: RedisLink) {
    super(options.configured, options.signedUp);
    this.link = link;
    this.prefix = `lumi:${options.domain}:`;
    this.#adminChannel = `${this.prefix}admin`;
    this.#sessions = options.sessions ?? jsonSessionCodec;
    this.#aliveMs = options.aliveMs ?? 3_000;
    this.#replica = new RedisReplica({
      link,
      prefix: this.prefix,
      channel: `${this.prefix}changes`,
      fields: ["v", "rec"],
      // A new registration starts with no look-up unanswered (only when some were counted).
      alsoDelete: (name) => this.misses.counted(name) ? [missKey(this.prefix, name)] : [],
      read: (name) => this.#record(name),
      apply: (name, rec) => this.#apply(name, rec),
      ...(options.retryMs !== undefined && { retryMs: options.retryMs }),
    });
    this.misses = new RedisMisses({
      link,
      prefix: this.prefix,
      key: (name) => missKey(this.prefix, name),
      current: (name) => this.get(name)?.id,
    });
    super.observe((name) => this.#changed(name));
  }

  /** What this node has done with Redis. */
  get stats(): RedisDirectoryStats {
    return this.link.stats;
  }

  /** Subscribe, then read every stored registration and the console's changes. */
  async open(): Promise<void> {
    await this.link.subscribe(this.#adminChannel, (message) => this.#adminMessage(message));
    await this.misses.open();
    await this.#replica.open();
    await this.#readAdmin();
    this.link.onResubscribed(() => this.#readAdmin().catch(() => this.link.stats.errors++));
    this.#live = true;
    await this.#alive();
  }

  /** The console's additions and removals, as Redis has them. */
  async #readAdmin(): Promise<void> {
    const admin = await this.link.client.hGetAll(`${this.prefix}admin`);
    for (const [name, what] of Object.entries(admin)) this.#administer(name, what);
  }

  #nodeKey(node: string): string {
    return `${this.prefix}node:${node}`;
  }

  /** Renew this node's liveness key, and see which owners of registrations here are gone. */
  async #alive(): Promise<void> {
    if (this.link.closed) return;
    try {
      const owners = [...new Set(this.#remote.values())];
      const [, ...found] = await Promise.all([
        this.link.client.set(this.#nodeKey(this.link.node), "1", { PX: this.#aliveMs }),
        ...owners.map((owner) => this.link.client.exists(this.#nodeKey(owner))),
      ]);
      this.#dead = new Set(owners.filter((_, i) => Number(found[i]) === 0));
    } catch {
      // Redis unreachable: nobody is declared dead meanwhile.
      this.#dead = new Set();
    }
    if (this.link.closed) return;
    this.#aliveTimer = setTimeout(() => this.#alive(), Math.max(1, this.#aliveMs / 3));
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
    const message = JSON.stringify({ admin: what, name, node: this.link.node });
    this.link.client.multi().hSet(`${this.prefix}admin`, name, what)
      .publish(this.#adminChannel, message).exec().catch(() => this.link.stats.errors++);
  }

  #adminMessage(message: string): void {
    try {
      const { admin, name, node } = JSON.parse(message);
      if (typeof name === "string" && typeof admin === "string" && node !== this.link.node) {
        this.#administer(name, admin);
      }
    } catch {
      // Not ours: ignored.
    }
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
   * A heartbeat here: a registration another node owned becomes this
   * node's (one write), and a change of the busy state is shared.
   */
  override heartbeat(
    name: string,
    from: Endpoint,
    now: number,
    busy: boolean,
  ): HeartbeatChange | undefined {
    const change = super.heartbeat(name, from, now, busy);
    if (change && !this.#applying && (this.#remote.has(name) || change.busyChanged)) {
      this.#remote.delete(name);
      this.#replica.mark(name);
    }
    return change;
  }

  /**
   * Expire only what this node owns (the rule of {@linkcode MemoryDirectory.expire}):
   * another node's registrations are its own to expire, their heartbeats reach it, not us
   * — unless that node is dead (its liveness key expired): then every node expires them.
   */
  override expire(now: number, limits: ExpiryLimits): string[] {
    const gone: string[] = [];
    for (const [name, registration] of this.online()) {
      const owner = this.#remote.get(name);
      if (owner !== undefined && !this.#dead.has(owner)) continue;
      const session = registration.session;
      if (!session && limits.originalMs <= 0) continue;
      const limit = session ? session.heartbeatMs * limits.heartbeats : limits.originalMs;
      if (limit > 0 && now - registration.lastSeen > limit) gone.push(name);
    }
    for (const name of gone) this.deregister(name);
    return gone;
  }

  /** Does another node own `name`'s registration? */
  ownedElsewhere(name: string): boolean {
    return this.#remote.has(name);
  }

  /** Write what is still dirty, then close the connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    clearTimeout(this.#aliveTimer);
    if (this.stats.connected) await this.flush().catch(() => {});
    await this.link[Symbol.asyncDispose]();
  }

  /** Write the dirty names now (tests and shutdown; otherwise it happens by itself). */
  flush(): Promise<void> {
    return this.#replica.flush();
  }

  #changed(name: string): void {
    if (!this.#applying) {
      this.#remote.delete(name);
      this.#replica.mark(name);
    }
    this.#outer?.(name);
  }

  #record(name: string): string {
    const registration = this.get(name);
    if (!registration) return "";
    return JSON.stringify(
      {
        ip: registration.endpoint.ip,
        port: registration.endpoint.port,
        since: registration.since,
        seen: registration.lastSeen,
        ...(registration.session && { s: this.#sessions.encode(registration.session) }),
        o: this.link.node,
      } satisfies StoredRecord,
    );
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
      const session = stored.s === undefined ? undefined : this.#sessions.decode(stored.s);
      const now = this.get(name);
      const same = now && now.since === stored.since && now.endpoint.ip === endpoint.ip &&
        now.endpoint.port === endpoint.port && (now.session === undefined) === !session;
      // The same registration (a take-over or a busy change): no new one, no presence churn.
      if (!same) this.register(name, endpoint, stored.since, session);
      const seen = stored.seen ?? stored.since;
      if (!same || seen > (now?.lastSeen ?? 0) || session?.busy !== now?.session?.busy) {
        super.heartbeat(name, endpoint, Math.max(seen, this.get(name)!.lastSeen), !!session?.busy);
      }
      this.#remote.set(name, stored.o ?? "");
    } finally {
      this.#applying = false;
    }
  }
}

/** Open the clustered directory of `options.domain` on its Redis: connected and loaded. */
export async function openRedisDirectory(options: RedisDirectoryOptions): Promise<RedisDirectory> {
  const link = await RedisLink.open(options.redis, options.nodeId);
  const directory = new RedisDirectory(options, link);
  try {
    await directory.open();
  } catch (error) {
    await directory[Symbol.asyncDispose]().catch(() => {});
    throw error;
  }
  return directory;
}
