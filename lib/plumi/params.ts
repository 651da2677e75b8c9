/**
 * `key=value` parameters of extended PLUMI messages (`PRlaura@bb.com;v=2;t=…`).
 *
 * @module
 */

/** The value of the first `key=…` parameter, `""` for a bare `key`, or `undefined`. */
export function param(params: readonly string[], key: string): string | undefined {
  for (const p of params) {
    if (p === key) return "";
    if (p.startsWith(key) && p[key.length] === "=") return p.slice(key.length + 1);
  }
  return undefined;
}

/** Every value of a repeated `key=…` parameter, in order. */
export function params(list: readonly string[], key: string): string[] {
  const out: string[] = [];
  for (const p of list) {
    if (p.startsWith(key) && p[key.length] === "=") out.push(p.slice(key.length + 1));
  }
  return out;
}

/** The parameter that says "I speak this project's extensions" (docs/PROTOCOL.md, "Extensions"). */
export const V2 = "v=2";

/** Does the message carry `v=2` (the extended protocol)? */
export function isV2(list: readonly string[]): boolean {
  return list.includes(V2);
}

/**
 * Pack `entries` (each one `key=value` parameter) into pages whose encoded
 * packets stay within `maxBytes`, given the bytes every packet spends on
 * its fixed part. Always at least one (possibly empty) page.
 */
export function paginate(
  entries: readonly string[],
  fixedBytes: number,
  maxBytes: number,
): string[][] {
  const pages: string[][] = [[]];
  let used = fixedBytes;
  for (const entry of entries) {
    const cost = entry.length + 1; // ";" + entry
    if (used + cost > maxBytes && pages.at(-1)!.length > 0) {
      pages.push([]);
      used = fixedBytes;
    }
    pages.at(-1)!.push(entry);
    used += cost;
  }
  return pages;
}
