/**
 * The node's relay (`[relay]`): a TCP service where two agents that cannot
 * reach each other directly (the callee is behind NAT) meet. Both connect
 * out to it and present their key (`lib/transport/relay.ts`); once both are
 * there, the relay answers `OK` to each and copies bytes between them,
 * unchanged, until either closes or a bound is reached. Bookkeeping and
 * bounds are `relay_sessions.ts`'s; this file holds the sockets, through the
 * transport seam (a `StreamListener`).
 *
 * Bounds against strangers: a connection must send its hello within
 * `helloMs`, at most `maxHellos` hellos wait at once (more are closed at
 * once), a wrong or used key is answered `NO` and closed, and a session not
 * joined by both parties within `pairMs` is closed and forgotten.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { StreamConn, StreamListener } from "../transport/tcp.ts";
import { parseRelayHello, readRelayLine, RELAY_OK } from "../transport/relay.ts";
import {
  type OfferResult,
  type RelayLimits,
  type RelaySession,
  RelaySessions,
  type RelaySide,
} from "./relay_sessions.ts";

/** Why a joined session ended. */
export type RelayEndReason = "closed" | "idle" | "bytes" | "unpaired" | "stopped";

/** What the relay reports, for the log. */
export type RelayEvent =
  | {
    readonly kind: "ended";
    readonly caller: string;
    readonly callee: string;
    readonly why: RelayEndReason;
    /** Bytes the caller sent through the relay. */
    readonly fromCaller: number;
    /** Bytes the callee sent through the relay. */
    readonly fromCallee: number;
  }
  | { readonly kind: "refused"; readonly from: Endpoint; readonly why: string };

/** Options of {@linkcode RelayService}. */
export interface RelayServiceOptions {
  /** The listening socket; the service owns and closes it. */
  readonly listener: StreamListener;
  /** The endpoint offered to agents (`r=`). Default: the listener's. */
  readonly advertised?: Endpoint;
  /** Timers. */
  readonly clock: Clock;
  /** Bounds. Default: {@linkcode DEFAULT_RELAY_LIMITS}. */
  readonly limits?: Partial<RelayLimits>;
  /** Most connections waiting for their hello at once. Default: 64. */
  readonly maxHellos?: number;
  /** Reports (a session ended, a connection refused). Default: nothing. */
  readonly onEvent?: (event: RelayEvent) => void;
}

/** Counters, for the log and the tests. */
export interface RelayStats {
  sessions: number;
  paired: number;
  refused: number;
  bytes: number;
}

interface Live {
  readonly conns: Partial<Record<RelaySide, StreamConn>>;
  readonly sent: Record<RelaySide, number>;
  timer?: TimerHandle;
  ended: boolean;
}

/** The relay: sessions offered through PLUMI, joined over TCP. */
export class RelayService {
  readonly #o: RelayServiceOptions;
  readonly #sessions: RelaySessions;
  readonly #live = new Map<RelaySession, Live>();
  readonly #hellos = new Set<StreamConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #maxHellos: number;
  #closed = false;
  /** Counters since the start. */
  readonly stats: RelayStats = { sessions: 0, paired: 0, refused: 0, bytes: 0 };

  constructor(options: RelayServiceOptions) {
    this.#o = options;
    this.#sessions = new RelaySessions(options.clock, options.limits);
    this.#maxHellos = options.maxHellos ?? 64;
  }

  /** Where agents connect (`r=` of the offer and the answer). */
  get endpoint(): Endpoint {
    return this.#o.advertised ?? this.#o.listener.local;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The bounds in force. */
  get limits(): RelayLimits {
    return this.#sessions.limits;
  }

  /** Sessions open now whose caller is of `domain` (normalised). */
  sessionsFrom(domain: string): number {
    return this.#sessions.countFrom(domain);
  }

  /**
   * A caller asks to meet a callee: a session with its two keys, or `full`.
   * The pairing deadline starts now.
   */
  request(caller: string, callee: string): OfferResult {
    for (const gone of this.#sessions.expire()) this.#finish(gone, "unpaired");
    const result = this.#sessions.offer(caller, callee);
    if (result.ok && result.fresh) {
      this.stats.sessions++;
      const live: Live = { conns: {}, sent: { caller: 0, callee: 0 }, ended: false };
      this.#live.set(result.session, live);
      live.timer = this.#o.clock.setTimeout(() => {
        if (result.session.joined.size < 2 || !live.conns.caller || !live.conns.callee) {
          this.#finish(result.session, "unpaired");
        }
      }, this.#sessions.limits.pairMs);
    }
    return result;
  }

  /** Accept connections until {@linkcode RelayService.close}. */
  async serve(): Promise<void> {
    try {
      for await (const conn of this.#o.listener) {
        if (this.#closed) {
          quietClose(conn);
          break;
        }
        if (this.#hellos.size >= this.#maxHellos) {
          this.#refuse(conn, "too many connections waiting for their hello");
          continue;
        }
        this.#track(this.#greet(conn));
      }
    } catch {
      // the listener was closed
    }
  }

  /** Stop: close the listener, every waiting connection and every session. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.listener.close();
    for (const conn of this.#hellos) quietClose(conn);
    for (const session of [...this.#live.keys()]) this.#finish(session, "stopped");
    await Promise.all([...this.#tasks]);
  }

  async #greet(conn: StreamConn): Promise<void> {
    this.#hellos.add(conn);
    const timer = this.#o.clock.setTimeout(() => quietClose(conn), this.#sessions.limits.helloMs);
    let line: string | undefined;
    try {
      line = await readRelayLine(conn);
    } catch {
      line = undefined;
    } finally {
      this.#o.clock.clearTimeout(timer);
      this.#hellos.delete(conn);
    }
    const key = line === undefined ? undefined : parseRelayHello(line);
    if (key === undefined) {
      this.#refuse(conn, line === undefined ? "no hello" : "not a hello", "NO hello\n");
      return;
    }
    const joined = this.#sessions.join(key);
    if (!joined.ok) {
      this.#refuse(conn, joined.reason, `NO ${joined.reason}\n`);
      return;
    }
    const live = this.#live.get(joined.session);
    if (!live || live.ended) {
      this.#refuse(conn, "expired", "NO expired\n");
      return;
    }
    live.conns[joined.side] = conn;
    const { caller, callee } = live.conns;
    if (caller && callee) await this.#pair(joined.session, live, caller, callee);
  }

  async #pair(session: RelaySession, live: Live, caller: StreamConn, callee: StreamConn) {
    this.stats.paired++;
    this.#o.clock.clearTimeout(live.timer!);
    const ok = new TextEncoder().encode(RELAY_OK);
    try {
      await writeAll(caller, ok);
      await writeAll(callee, ok);
    } catch {
      this.#finish(session, "closed");
      return;
    }
    this.#watchIdle(session, live);
    const why = await Promise.race([
      this.#copy(session, live, "caller", caller, callee),
      this.#copy(session, live, "callee", callee, caller),
    ]);
    this.#finish(session, why);
  }

  /** Copy from one side to the other until it closes or a bound is reached. */
  async #copy(
    session: RelaySession,
    live: Live,
    side: RelaySide,
    from: StreamConn,
    to: StreamConn,
  ): Promise<RelayEndReason> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null || live.ended) return "closed";
        const room = this.#sessions.room(session, n);
        if (room > 0) await writeAll(to, buffer.subarray(0, room));
        live.sent[side] += room;
        this.stats.bytes += room;
        if (!this.#sessions.carry(session, n)) return "bytes";
      }
    } catch {
      return "closed";
    }
  }

  #watchIdle(session: RelaySession, live: Live): void {
    const check = () => {
      if (live.ended) return;
      if (this.#sessions.idle(session)) return this.#finish(session, "idle");
      const left = session.lastActive + this.#sessions.limits.idleMs - this.#o.clock.now();
      live.timer = this.#o.clock.setTimeout(check, Math.max(1, left));
    };
    live.timer = this.#o.clock.setTimeout(check, this.#sessions.limits.idleMs);
  }

  #finish(session: RelaySession, why: RelayEndReason): void {
    const live = this.#live.get(session);
    this.#sessions.end(session);
    if (!live || live.ended) return;
    live.ended = true;
    this.#live.delete(session);
    if (live.timer !== undefined) this.#o.clock.clearTimeout(live.timer);
    for (const conn of Object.values(live.conns)) quietClose(conn);
    this.#o.onEvent?.({
      kind: "ended",
      caller: session.caller,
      callee: session.callee,
      why,
      fromCaller: live.sent.caller,
      fromCallee: live.sent.callee,
    });
  }

  #refuse(conn: StreamConn, why: string, answer?: string): void {
    this.stats.refused++;
    const addr = conn.remoteAddr;
    const from = "hostname" in addr ? { ip: addr.hostname, port: addr.port } : { ip: "?", port: 0 };
    this.#o.onEvent?.({ kind: "refused", from, why });
    if (answer === undefined) return quietClose(conn);
    // The answer is a few bytes: one write, then close, never waiting on the stranger.
    conn.write(new TextEncoder().encode(answer)).catch(() => {}).finally(() => quietClose(conn));
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}

async function writeAll(conn: StreamConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

function quietClose(conn: StreamConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
