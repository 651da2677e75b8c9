/**
 * The hosts file (`/etc/hosts`, hosts(5)): which names the machine resolves
 * itself, before any DNS query, as the system resolver does. Pure: parsing
 * and look-up only; `lib/transport/dns.ts` reads the file.
 *
 * @module
 */

import { normalizeDomain } from "../plumi/address.ts";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The IPv4 addresses of each name of a hosts file: `address name [alias…]`
 * per line, `#` starts a comment. Names are kept in lower case without a
 * trailing dot (names compare that way); a name on several lines gets every
 * address, in file order. IPv6 lines are skipped: PLUMI is IPv4 only.
 *
 * @example
 * ```ts
 * parseHosts("127.0.0.1 localhost\n10.0.0.7 Node.BB.com nodebb # lab\n").get("node.bb.com");
 * // ["10.0.0.7"]
 * ```
 */
export function parseHosts(text: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const hash = raw.indexOf("#");
    const [ip, ...names] = (hash < 0 ? raw : raw.slice(0, hash)).trim().split(/\s+/);
    if (ip === undefined || !IPV4.test(ip)) continue;
    for (const name of names) {
      const key = normalizeDomain(name);
      const list = table.get(key);
      if (!list) table.set(key, [ip]);
      else if (!list.includes(ip)) list.push(ip);
    }
  }
  return table;
}

/** The addresses `table` gives `name` (any case, with or without the trailing dot); `[]` if none. */
export function lookupHosts(table: ReadonlyMap<string, readonly string[]>, name: string): string[] {
  return [...table.get(normalizeDomain(name)) ?? []];
}
