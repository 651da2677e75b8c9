/**
 * Finding the node of a domain. Today: the domain's DNS A record, port 3344,
 * as the original. Kept apart so that SRV records can be added here alone.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { DnsClient } from "../transport/dns.ts";
import { NodeNotFoundError } from "./errors.ts";

/** The UDP port of a node when nothing says otherwise (fixed by the original). */
export const DEFAULT_NODE_PORT = 3344;

/**
 * Find the node of `domain`: the first IPv4 address of its A record, port 3344.
 * Throws {@linkcode NodeNotFoundError} when the name does not resolve or DNS fails.
 *
 * @example
 * ```ts
 * const node = await locateNode("bb.com", systemDns());
 * // { ip: "10.0.0.7", port: 3344 }
 * ```
 */
export async function locateNode(domain: string, dns: DnsClient): Promise<Endpoint> {
  let addresses: string[];
  try {
    addresses = (await dns.a(domain)).records;
  } catch (error) {
    throw new NodeNotFoundError(
      domain,
      `cannot find the node of ${domain}: DNS look-up failed (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  }
  const ip = addresses[0];
  if (ip === undefined) {
    throw new NodeNotFoundError(
      domain,
      `domain ${domain} not found: it has no DNS address record`,
    );
  }
  return { ip, port: DEFAULT_NODE_PORT };
}
