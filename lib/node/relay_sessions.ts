/**
 * The relay's bookkeeping, pure (time through an injected clock): which
 * sessions exist, whose they are, which key opens which side, and the
 * bounds — sessions in all, sessions per user, time to pair, bytes per
 * session, idle time. The sockets are `relay.ts`'s.
 *
 * A session is created by a caller's request (`PY`) for a callee of this
 * node. It has two keys, one per party, each good for one connection: a
 * stranger who does not hold a key cannot join, and a key's holder can only
 * take its own side. A session not joined by both within `pairMs` is
 * forgotten; a joined one ends at its byte budget, after `idleMs` without a
 * byte, or when either side closes.
 *
 * @module
 */

import { toBase64Url } from "../auth.ts";
import type { Clock } from "../clock.ts";

/** The bounds of the relay (`[relay]` in the configuration), defaults applied. */
export interface RelayLimits {
  /** Most sessions at once, waiting or joined. Default: 64. */
  readonly maxSessions: number;
  /** Most sessions one user takes part in, as caller or callee. Default: 4. */
  readonly perUser: number;
  /** Most sessions at once for callers of one other domain (`federated_relay.ts`). Default: 16. */
  readonly perDomain: number;
  /** Both parties must have joined within this many ms of the request. Default: 15 000. */
  readonly pairMs: number;
  /** A joined session without a byte either way for this long is cut, ms. Default: 120 000. */
  readonly idleMs: number;
  /** Most bytes a session carries, both ways together. Default: 16 MiB. */
  readonly maxBytes: number;
  /** A connection must send its hello within this many ms. Default: 5 000. */
  readonly helloMs: number;
}

/** The defaults of {@linkcode RelayLimits}. */
export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxSessions: 64,
  perUser: 4,
  perDomain: 16,
  pairMs: 15_000,
  idleMs: 120_000,
  maxBytes: 16 * 2 ** 20,
  helloMs: 5_000,
};

/** A side of a session. */
export type RelaySide = "caller" | "callee";

/** One relay session. */
export interface RelaySession {
  readonly id: number;
  readonly caller: string;
  readonly callee: string;
  readonly keys: { readonly caller: string; readonly callee: string };
  /** When it was created (clock ms). */
  readonly createdAt: number;
  /** Which sides have joined. */
  readonly joined: Set<RelaySide>;
  /** Bytes carried so far, both ways. */
  bytes: number;
  /** When the last byte passed (clock ms). */
  lastActive: number;
}

/** The outcome of a request: a session (new, or the one this caller already waits in), or why not. */
export type OfferResult =
  | { readonly ok: true; readonly session: RelaySession; readonly fresh: boolean }
  | { readonly ok: false; readonly reason: "full" };

/** The outcome of a hello: the session and side, or why it is refused. */
export type JoinResult =
  | { readonly ok: true; readonly session: RelaySession; readonly side: RelaySide }
  | { readonly ok: false; readonly reason: "unknown-key" | "used-key" | "expired" };

function newKey(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** The relay's sessions and bounds. */
export class RelaySessions {
  readonly limits: RelayLimits;
  readonly #clock: Clock;
  readonly #newKey: () => string;
  readonly #byKey = new Map<string, { session: RelaySession; side: RelaySide }>();
  readonly #sessions = new Set<RelaySession>();
  #nextId = 1;

  /** `newKey` draws the keys (default: 16 random bytes); tests may inject one. */
  constructor(clock: Clock, limits: Partial<RelayLimits> = {}, newKeyFn: () => string = newKey) {
    this.#clock = clock;
    this.limits = { ...DEFAULT_RELAY_LIMITS, ...limits };
    this.#newKey = newKeyFn;
  }

  /** Sessions open now (waiting or joined). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Sessions in which `user` takes part. */
  countOf(user: string): number {
    let n = 0;
    for (const s of this.#sessions) if (s.caller === user || s.callee === user) n++;
    return n;
  }

  /** Sessions whose caller's address is of `domain` (normalised: lower case, no trailing dot). */
  countFrom(domain: string): number {
    let n = 0;
    const suffix = `@${domain}`;
    for (const s of this.#sessions) if (s.caller.endsWith(suffix)) n++;
    return n;
  }

  /**
   * A session for `caller` to meet `callee`. A request again while the same
   * pair's session still waits for both (a retransmission whose answer was
   * lost) gets that session back (`fresh: false`), so its keys stay good.
   */
  offer(caller: string, callee: string): OfferResult {
    this.expire();
    for (const s of this.#sessions) {
      if (s.caller === caller && s.callee === callee && s.joined.size === 0) {
        return { ok: true, session: s, fresh: false };
      }
    }
    const { maxSessions, perUser } = this.limits;
    if (
      this.#sessions.size >= maxSessions || this.countOf(caller) >= perUser ||
      this.countOf(callee) >= perUser
    ) return { ok: false, reason: "full" };
    const now = this.#clock.now();
    const session: RelaySession = {
      id: this.#nextId++,
      caller,
      callee,
      keys: { caller: this.#newKey(), callee: this.#newKey() },
      createdAt: now,
      joined: new Set(),
      bytes: 0,
      lastActive: now,
    };
    this.#sessions.add(session);
    this.#byKey.set(session.keys.caller, { session, side: "caller" });
    this.#byKey.set(session.keys.callee, { session, side: "callee" });
    return { ok: true, session, fresh: true };
  }

  /** A connection presented `key`: its session and side, once. */
  join(key: string): JoinResult {
    this.expire();
    const entry = this.#byKey.get(key);
    if (!entry) return { ok: false, reason: "unknown-key" };
    const { session, side } = entry;
    if (session.joined.has(side)) return { ok: false, reason: "used-key" };
    session.joined.add(side);
    if (session.joined.size === 2) session.lastActive = this.#clock.now();
    return { ok: true, session, side };
  }

  /**
   * `n` bytes passed in `session`. Returns `false` when the session is now
   * past its byte budget (the bytes that did not fit are not to be sent).
   */
  carry(session: RelaySession, n: number): boolean {
    session.bytes += n;
    session.lastActive = this.#clock.now();
    return session.bytes <= this.limits.maxBytes;
  }

  /** How many of `n` bytes still fit in the session's budget. */
  room(session: RelaySession, n: number): number {
    return Math.max(0, Math.min(n, this.limits.maxBytes - session.bytes));
  }

  /** Is a joined session idle past `idleMs`? */
  idle(session: RelaySession): boolean {
    return this.#clock.now() - session.lastActive >= this.limits.idleMs;
  }

  /** Has a session not joined by both passed its time to pair? */
  unpaired(session: RelaySession): boolean {
    return session.joined.size < 2 && this.#clock.now() - session.createdAt >= this.limits.pairMs;
  }

  /** The session ends: its keys are void, its places free. */
  end(session: RelaySession): void {
    this.#sessions.delete(session);
    this.#byKey.delete(session.keys.caller);
    this.#byKey.delete(session.keys.callee);
  }

  /** Forget every session past its time to pair. Returns them (their sockets are to be closed). */
  expire(): RelaySession[] {
    const gone: RelaySession[] = [];
    for (const s of this.#sessions) if (this.unpaired(s)) gone.push(s);
    for (const s of gone) this.end(s);
    return gone;
  }
}
