/**
 * The node's keys of the extended sessions: per user, the session key
 * derived at log-in and the counters accepted so far, in one plain record
 * ({@linkcode SessionKeys}) that any store may keep (a map here; Redis for
 * a cluster). {@linkcode checkSeal} judges a sealed request against it
 * (docs/PROTOCOL.md, "Registration, authentication and sessions").
 *
 * @module
 */

import { fromBase64Url } from "../auth.ts";
import {
  acceptCounter,
  type CounterWindow,
  macMatches,
  type SealedRequest,
  type Unsealed,
} from "../plumi/extensions/mod.ts";

/** One session's keys: plain data (strings and numbers), storable anywhere. */
export interface SessionKeys {
  /** The directory's session this belongs to (`Session.token`: an id the node never sends). */
  readonly session: string;
  /** The session key, 32 bytes, URL-safe base64. */
  readonly key: string;
  /** The agent's ephemeral public key (`k=` of its `PR`). */
  readonly agentKey: string;
  /** The node's ephemeral public key (`k=` of `RR0`). */
  readonly nodeKey: string;
  /** The counters accepted so far. */
  readonly counters: CounterWindow;
}

/** Where the node keeps {@linkcode SessionKeys}, by user name. */
export interface SessionKeyStore {
  get(name: string): SessionKeys | undefined;
  set(name: string, keys: SessionKeys): void;
  delete(name: string): void;
}

/** The session keys in memory (one node). Bounded by the number of users: one record each. */
export class MemorySessionKeys implements SessionKeyStore {
  readonly #keys = new Map<string, SessionKeys>();

  /** The keys of `name`'s last session, if any. */
  get(name: string): SessionKeys | undefined {
    return this.#keys.get(name);
  }

  /** Keep `keys` as `name`'s. */
  set(name: string, keys: SessionKeys): void {
    this.#keys.set(name, keys);
  }

  /** Forget `name`'s keys. */
  delete(name: string): void {
    this.#keys.delete(name);
  }

  /** How many records are kept. */
  get size(): number {
    return this.#keys.size;
  }
}

/**
 * The counters after `sealed`, when its MAC is `keys`' and its counter
 * new; `undefined` when it must be refused (changed, another key, a copy,
 * or older than the window).
 */
export function checkSeal<M extends SealedRequest>(
  keys: SessionKeys,
  sealed: Unsealed<M>,
): CounterWindow | undefined {
  const key = fromBase64Url(keys.key);
  if (!key || !macMatches(key, sealed.signed, sealed.mac)) return undefined;
  return acceptCounter(keys.counters, sealed.counter);
}
