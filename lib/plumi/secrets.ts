/**
 * Which parameters of the `v=2` extension messages are secrets, and how a
 * datagram is shown with them hidden (for the packet logs).
 *
 * The secrets are:
 *
 * - `t`, the session token of earlier versions (this one sends none: its
 *   requests are sealed, `extensions/session.ts`), still hidden should an
 *   older agent send one;
 * - `p` in a `PR`, the login proof: with the nonce, salt and iteration count
 *   it allows an offline guess of the password (in `PS`/`PO`/`RS`/`RO`, `p`
 *   is a page number and is kept);
 * - `n`, the challenge nonce: single use and bound to its source, so not
 *   usable alone, but hidden so that a log never holds both halves of a login;
 * - `k` in a `PU`, the stored key: the password verifier, which makes a
 *   captured proof a usable key.
 *
 * @module
 */

/** Parameter keys whose values are secret in every extension message. */
export const SECRET_PARAMS: readonly string[] = ["t", "n", "k"];

/** What a secret value is replaced with. */
export const REDACTED = "(redacted)";

/** A page number (`p=2`, `p=1/3`), the other meaning of `p`. */
const PAGE = /^\d{1,6}(?:\/\d{1,6})?$/;

/**
 * `text` (a datagram shown as text) with the values of its secret
 * parameters replaced by {@linkcode REDACTED}. Text without `;` carries no
 * parameters (every original datagram) and comes back unchanged.
 *
 * @example
 * ```ts
 * redactSecrets("PKlaura@bb.com;t=Zm9vYmFy;st=busy"); // "PKlaura@bb.com;t=(redacted);st=busy"
 * ```
 */
export function redactSecrets(text: string): string {
  if (!text.includes(";")) return text;
  const parts = text.split(";");
  let changed = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    // A value cut short by the log's length limit ends in "…": hidden all the same.
    const secret = SECRET_PARAMS.includes(key) || (key === "p" && !PAGE.test(value));
    if (secret && value !== REDACTED) {
      parts[i] = `${key}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? parts.join(";") : text;
}
