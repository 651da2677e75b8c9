/**
 * Finding the node of a domain: the static map first (local clusters and
 * tests), then DNS (the domain's A record, port 3344, as the original).
 *
 * @module
 */

import { type Endpoint, normalizeDomain } from "./plumi/address.ts";
import type { DnsClient } from "./transport/dns.ts";

/** The PLUMI port the original protocol fixes. */
export const DEFAULT_NODE_PORT = 3344;

/** Most domains cached at once; the oldest entry goes first. */
const MAX_CACHED = 10_000;

/** Finds where a domain's node listens. */
export interface NodeLocator {
  /** Candidate node addresses of `domain`, best first; `[]` when it does not resolve. */
  locate(domain: string): Promise<Endpoint[]>;
}

/** Options of {@linkcode createLocator}. */
export interface LocatorOptions {
  /** Static domain-to-node map, checked before DNS. Keys in lower case. Default: empty. */
  readonly staticMap?: ReadonlyMap<string, Endpoint>;
  /** DNS client, or `null` to use only the static map. */
  readonly dns: DnsClient | null;
  /** How long answers are cached, in ms. Default: 60 000. */
  readonly cacheMs?: number;
  /** How long "does not resolve" is cached, in ms. Default: 5 000. */
  readonly negativeCacheMs?: number;
  /** Clock for the cache. Default: `performance.now`. */
  readonly now?: () => number;
}

/** A locator over a static map and DNS A records, with a small cache. */
export function createLocator(options: LocatorOptions): NodeLocator {
  const staticMap = options.staticMap ?? new Map<string, Endpoint>();
  const now = options.now ?? (() => performance.now());
  const cache = new Map<string, { until: number; endpoints: Endpoint[] }>();
  const cacheMs = options.cacheMs ?? 60_000;
  const negativeMs = options.negativeCacheMs ?? 5_000;

  return {
    async locate(domain) {
      const key = normalizeDomain(domain);
      const fixed = staticMap.get(key);
      if (fixed) return [fixed];
      if (!options.dns) return [];
      const cached = cache.get(key);
      if (cached && cached.until > now()) return cached.endpoints;
      let endpoints: Endpoint[] = [];
      try {
        const ips = await options.dns.a(key);
        endpoints = ips.map((ip) => ({ ip, port: DEFAULT_NODE_PORT }));
      } catch {
        endpoints = [];
      }
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(key, { until: now() + (endpoints.length ? cacheMs : negativeMs), endpoints });
      return endpoints;
    },
  };
}
