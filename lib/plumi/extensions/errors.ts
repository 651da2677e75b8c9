/**
 * The error codes of the extension answers (`e=…`), listed once. Each
 * message's definition says which of them its answers may carry.
 *
 * @module
 */

import { fail, type Field, ok } from "./fields.ts";

/**
 * Every `e=` code of docs/PROTOCOL.md, "PLUMI extensions":
 * `user` no such user; `auth` a password proof or the session's seal is needed
 * (or was wrong, or a copy); `pad` the request is too short for its answer;
 * `signed-in` another agent holds the user; `replaced` another agent took
 * the session over; `store` the account database failed, nothing changed;
 * `taken` the name exists; `invalid` the request is malformed; `closed`
 * sign-up is off; `rate` this source created its share of accounts;
 * `self` one's own address; `full` the buddy list is full; `absent` not on
 * the buddy list; `off` the online list is turned off.
 */
export const EXT_ERRORS = [
  "user",
  "auth",
  "pad",
  "signed-in",
  "replaced",
  "store",
  "taken",
  "invalid",
  "closed",
  "rate",
  "self",
  "full",
  "absent",
  "off",
  "domain",
  "offline",
  "nopass",
  "changed",
  "quota",
  "big",
] as const;

/** An `e=` code. */
export type ExtError = typeof EXT_ERRORS[number];

/** Is `text` a known `e=` code? */
export function isExtError(text: string): text is ExtError {
  return (EXT_ERRORS as readonly string[]).includes(text);
}

/** The `e=` field of an answer that may carry the codes `codes`. */
export function errorField<E extends ExtError>(codes: readonly E[]): Field<E> {
  return {
    key: "e",
    kind: "word",
    max: Math.max(...codes.map((c) => c.length)),
    words: codes,
    read: (text) =>
      (codes as readonly string[]).includes(text)
        ? ok(text as E)
        : fail("unknown-code", "e", `e=${text.slice(0, 40)} is not a code of this answer`),
    write: (code) => `e=${code}`,
  };
}
