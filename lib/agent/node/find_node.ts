/**
 * Finding the agent's own node: DNS SRV `_plumi._udp.<domain>` first, then
 * the domain's A record with port 3344 (what the original does). `--node`
 * skips this altogether.
 *
 * @module
 */

import { DEFAULT_NODE_PORT, resolveByDns } from "../../locate.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { DnsClient } from "../../transport/dns.ts";
import { NodeNotFoundError } from "../errors.ts";

export { DEFAULT_NODE_PORT };

/**
 * Find the node of `domain`: the best SRV target, else the first A record on
 * port 3344. Throws {@linkcode NodeNotFoundError} when neither resolves or
 * DNS fails.
 *
 * @example
 * ```ts
 * const node = await locateNode("bb.com", systemDns());
 * // { ip: "10.0.0.7", port: 3344 }
 * ```
 */
export async function locateNode(domain: string, dns: DnsClient): Promise<Endpoint> {
  return (await locateNodes(domain, dns))[0]!;
}

/**
 * Every endpoint of the node of `domain`, best first: the SRV targets in
 * order (the first is where the agent registers; the others are the
 * failover targets it also accepts datagrams from), else the A records on
 * port 3344. Never empty; throws {@linkcode NodeNotFoundError} as
 * {@linkcode locateNode} does.
 */
export async function locateNodes(domain: string, dns: DnsClient): Promise<Endpoint[]> {
  const { endpoints, error } = await resolveByDns(domain, dns);
  if (endpoints.length > 0) return [...endpoints];
  if (error !== undefined) {
    throw new NodeNotFoundError(
      domain,
      `cannot find the node of ${domain}: DNS look-up failed (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  }
  throw new NodeNotFoundError(
    domain,
    `domain ${domain} not found: it has no _plumi._udp SRV record and no DNS address record`,
  );
}

/**
 * What DNS says of `domain`, the way the agent finds a node: `found` (an SRV
 * or A record), `missing` (DNS answered that there is none), or `unknown`
 * (DNS failed or did not answer).
 */
export async function domainExists(
  domain: string,
  dns: DnsClient,
): Promise<"found" | "missing" | "unknown"> {
  const { endpoints, error } = await resolveByDns(domain, dns);
  if (endpoints.length > 0) return "found";
  return error === undefined ? "missing" : "unknown";
}
