/**
 * The session token (`t=`), which `PK`, `PB`, `PS`, `PO` and an extended
 * `PD` carry: the node reads it on its own, before the rest of a request,
 * to know who asks (docs/PROTOCOL.md, "Registration, authentication and
 * sessions").
 *
 * @module
 */

import { base64Field, type Field, pick } from "./fields.ts";

/** Longest session token accepted, in characters (ours are 22). */
export const MAX_TOKEN = 64;

/** `t=<token>`: the secret that proves a request comes from the session's agent. */
export const TOKEN: Field<string> = base64Field("t", MAX_TOKEN, "token", true);

/**
 * The session token of a request, or `undefined` when it has none, or one
 * given twice, too long or not base64 (which then proves nothing).
 *
 * @example
 * ```ts
 * sessionToken(["t=Zm9vYmFy", "st=busy"]); // "Zm9vYmFy"
 * sessionToken(["t=a", "t=b"]); // undefined
 * ```
 */
export function sessionToken(params: readonly string[]): string | undefined {
  const picked = pick(params, [TOKEN.key]);
  if (!picked.ok) return undefined;
  const text = picked.value.get(TOKEN.key);
  if (text === undefined) return undefined;
  const token = TOKEN.read(text);
  return token.ok ? token.value : undefined;
}
