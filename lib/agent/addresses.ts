/**
 * Comparing @MI addresses: the name exactly, the domain without regard to
 * case or a trailing dot (`PC-c.` is `pc-c`). Pure.
 *
 * @module
 */

import { normalizeDomain } from "../plumi/address.ts";

/** Are two @MI addresses the same user (the domain compared case-insensitively)? */
export function sameAddress(a: string, b: string): boolean {
  const at = a.indexOf("@");
  const bt = b.indexOf("@");
  return at >= 0 && bt >= 0 && a.slice(0, at) === b.slice(0, bt) &&
    normalizeDomain(a.slice(at + 1)) === normalizeDomain(b.slice(bt + 1));
}

/**
 * The canonical form of an address, equal for two addresses exactly when
 * {@linkcode sameAddress} says they are the same user.
 *
 * @example
 * ```ts
 * addressKey("laura@BB.com."); // "laura@bb.com"
 * ```
 */
export function addressKey(address: string): string {
  const at = address.indexOf("@");
  return `${address.slice(0, at)}@${normalizeDomain(address.slice(at + 1))}`;
}
