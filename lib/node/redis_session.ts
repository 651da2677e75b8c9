/**
 * How a registration's extended {@linkcode Session} travels between the
 * nodes of a cluster: as an opaque text. Nothing of the cluster reads its
 * fields, so the session may change shape (a MAC key and a counter instead
 * of a clear token) without touching the cluster code: the default codec
 * keeps every field, byte arrays included.
 *
 * @module
 */

import type { Session } from "./directory.ts";

/** Turns a session into text and back; `decode` returns `undefined` for text it cannot read. */
export interface SessionCodec {
  /** The session as text. */
  encode(session: Session): string;
  /** The session of `text`, or `undefined` if it is not one. */
  decode(text: string): Session | undefined;
}

const BYTES = "$bytes";

/**
 * Every field of the session as JSON, byte arrays (`Uint8Array`) as
 * `{"$bytes": "<base64>"}`.
 */
export const jsonSessionCodec: SessionCodec = {
  encode(session) {
    return JSON.stringify(
      session,
      (_key, value) =>
        value instanceof Uint8Array
          ? { [BYTES]: btoa(Array.from(value, (b) => String.fromCharCode(b)).join("")) }
          : value,
    );
  },
  decode(text) {
    try {
      const session = JSON.parse(text, (_key, value) => {
        if (value && typeof value === "object" && typeof value[BYTES] === "string") {
          return Uint8Array.from(atob(value[BYTES]), (c) => c.charCodeAt(0));
        }
        return value;
      });
      return session && typeof session === "object" && typeof session.heartbeatMs === "number"
        ? session as Session
        : undefined;
    } catch {
      return undefined;
    }
  },
};
