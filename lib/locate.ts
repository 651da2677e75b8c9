/**
 * Finding the node of a domain `D`, in this order:
 * 1. the static map (INI `[domains]`, for local clusters and tests);
 * 2. the hosts file (`/etc/hosts`), port 3344, as the original's system
 *    resolver finds `D` there before asking DNS;
 * 3. DNS SRV `_plumi._udp.D`: targets by priority, weighted within a
 *    priority (RFC 2782), each target's address (hosts file, then A
 *    records) with the SRV port;
 * 4. DNS A of `D`, port 3344 (what the original does).
 *
 * Answers are cached for their TTL, "does not resolve" for a short time, and
 * concurrent look-ups of one domain share one query. A node that stops
 * answering can be reported with {@linkcode NodeLocator.reportDown}; it then
 * goes to the end of the list for a while, so the next attempt tries the next
 * target.
 *
 * @module
 */

import { type Endpoint, normalizeDomain } from "./plumi/address.ts";
import { type DnsClient, DnsError, HOSTS_TTL, type SrvRecord } from "./transport/dns.ts";

/** The PLUMI port the original protocol fixes. */
export const DEFAULT_NODE_PORT = 3344;

/** Finds where a domain's node listens. */
export interface NodeLocator {
  /** Candidate node addresses of `domain`, best first; `[]` when it does not resolve. */
  locate(domain: string): Promise<Endpoint[]>;
  /** `endpoint` did not answer: try others first for a while. */
  reportDown(endpoint: Endpoint): void;
}

/** Options of {@linkcode createLocator}. */
export interface LocatorOptions {
  /** Static domain-to-node map, checked before DNS. Keys in lower case. Default: empty. */
  readonly staticMap?: ReadonlyMap<string, Endpoint>;
  /** DNS client, or `null` to use only the static map. */
  readonly dns: DnsClient | null;
  /** Longest time an answer is cached, whatever its TTL, in s. Default: 3600. */
  readonly maxTtl?: number;
  /** How long "does not resolve" is cached when DNS failed, in s. Default: 5. */
  readonly failureTtl?: number;
  /** How long a node reported down goes to the end of the list, in ms. Default: 30 000. */
  readonly downMs?: number;
  /** Clock in ms. Default: `performance.now`. */
  readonly now?: () => number;
  /** Random numbers in [0, 1) for SRV weights. Default: `Math.random`. */
  readonly random?: () => number;
}

/** Most domains cached at once; the oldest entry goes first. */
const MAX_CACHED = 10_000;

/** Order SRV records: by priority, then weighted random within a priority (RFC 2782). */
export function orderSrv(
  records: readonly SrvRecord[],
  random: () => number = Math.random,
): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    if (r.target === "" || r.target === ".") continue; // "service not available here"
    byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  }
  const ordered: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = [...byPriority.get(priority)!];
    while (pool.length > 0) {
      const total = pool.reduce((sum, r) => sum + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let point = random() * total;
        pick = pool.findIndex((r) => (point -= r.weight) < 0);
        if (pick < 0) pick = pool.length - 1;
      }
      ordered.push(pool.splice(pick, 1)[0]!);
    }
  }
  return ordered;
}

const key = (e: Endpoint) => `${e.ip}:${e.port}`;

/** The outcome of {@linkcode resolveByDns}. */
export interface Resolution {
  /** Node addresses, best first; empty when the domain does not resolve. */
  readonly endpoints: Endpoint[];
  /** Seconds the outcome may be cached. */
  readonly ttl: number;
  /** Why it did not resolve, when DNS itself failed (rather than answering "no such name"). */
  readonly error?: unknown;
}

/**
 * Find a domain's node as the system resolver would find its address: the
 * hosts file first (when `dns` reads one: a domain listed there is the node
 * at port 3344, and DNS is not asked), then DNS SRV `_plumi._udp.<domain>`,
 * then the A record with port 3344. A DNS server that does not answer the
 * SRV query is not asked again for the A record: the caller learns at once.
 * The domain compares in any case, with or without the trailing dot.
 */
export async function resolveByDns(
  domainName: string,
  dns: DnsClient,
  options: { random?: () => number; failureTtl?: number } = {},
): Promise<Resolution> {
  const failureTtl = options.failureTtl ?? 5;
  const domain = normalizeDomain(domainName);
  const listed = await dns.hosts?.(domain) ?? [];
  if (listed.length > 0) {
    return { endpoints: listed.map((ip) => ({ ip, port: DEFAULT_NODE_PORT })), ttl: HOSTS_TTL };
  }
  try {
    const srv = await dns.srv(`_plumi._udp.${domain}`);
    if (srv.records.length > 0) {
      const endpoints: Endpoint[] = [];
      let ttl = srv.ttl;
      for (const record of orderSrv(srv.records, options.random)) {
        const a = await dns.a(record.target).catch(() => ({ records: [], ttl: failureTtl }));
        ttl = Math.min(ttl, a.ttl);
        for (const ip of a.records) endpoints.push({ ip, port: record.port });
      }
      return { endpoints, ttl };
    }
  } catch (error) {
    if (error instanceof DnsError && error.timedOut) {
      return { endpoints: [], ttl: failureTtl, error };
    }
    // Any other failure of the SRV query: fall back to the A record, as the original.
  }
  try {
    const a = await dns.a(domain);
    return { endpoints: a.records.map((ip) => ({ ip, port: DEFAULT_NODE_PORT })), ttl: a.ttl };
  } catch (error) {
    return { endpoints: [], ttl: failureTtl, error };
  }
}

/** A locator over a static map and DNS (SRV, then A), with a TTL cache. */
export function createLocator(options: LocatorOptions): NodeLocator {
  const staticMap = options.staticMap ?? new Map<string, Endpoint>();
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  const maxTtl = options.maxTtl ?? 3600;
  const failureTtl = options.failureTtl ?? 5;
  const downMs = options.downMs ?? 30_000;
  const cache = new Map<string, { until: number; endpoints: Endpoint[] }>();
  const inFlight = new Map<string, Promise<Endpoint[]>>();
  const down = new Map<string, number>();

  const resolve = (domain: string) => resolveByDns(domain, options.dns!, { random, failureTtl });

  function healthyFirst(endpoints: Endpoint[]): Endpoint[] {
    if (down.size === 0) return endpoints;
    const t = now();
    const isDown = (e: Endpoint) => (down.get(key(e)) ?? -Infinity) > t;
    return [...endpoints.filter((e) => !isDown(e)), ...endpoints.filter(isDown)];
  }

  return {
    async locate(domain) {
      const name = normalizeDomain(domain);
      const fixed = staticMap.get(name);
      if (fixed) return [fixed];
      if (!options.dns) return [];
      const cached = cache.get(name);
      if (cached && cached.until > now()) return healthyFirst(cached.endpoints);
      let pending = inFlight.get(name);
      if (!pending) {
        pending = resolve(name).then(({ endpoints, ttl }) => {
          if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
          cache.set(name, { until: now() + Math.min(ttl, maxTtl) * 1000, endpoints });
          inFlight.delete(name);
          return endpoints;
        });
        inFlight.set(name, pending);
      }
      return healthyFirst(await pending);
    },
    reportDown(endpoint) {
      if (down.size >= MAX_CACHED) down.clear();
      down.set(key(endpoint), now() + downMs);
    },
  };
}
