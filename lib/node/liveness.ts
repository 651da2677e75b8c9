/**
 * Is a registered agent still there? Original agents register once and
 * never say more unless asked, so the node judges them by how they answer
 * the look-ups it forwards — but only by silence, never by who asks:
 *
 * - A forwarded look-up opens an answer **window** for its user (one at a
 *   time: look-ups arriving while one is open add nothing). The window is
 *   answered by any datagram at all from the user's registered address; it
 *   fails when its deadline passes in silence. Meanwhile, after 400 ms of
 *   silence, the node sends the agent the awaited look-up again (twice at
 *   most), so that a lost datagram or two neither fails the window nor
 *   costs the caller its answer.
 * - The node forwards `offlineAfter − 1` look-ups that fail and answers the
 *   next one itself with `RL3`, as the original (4 and the 5th). The user
 *   then *lapses*: offline, but the address is remembered, and any datagram
 *   from it brings the user back online.
 * - A user with a heartbeat session (`v=2`) is judged by its heartbeats
 *   only (see `extended.ts`), never by look-ups.
 * - Before a registration moves a user from a live address, the old one is
 *   probed the same way, with a look-up of the node's own that any agent
 *   answers (`PL.lumi-probe@<domain>:<user>`; {@linkcode Liveness.probeMove}).
 *
 * Cheap on the hot path: noting a datagram is one map look-up (done anyway
 * for the amplification rule), a forwarded look-up a few field writes (and a
 * map insert when it opens a window); one timer runs while windows are open.
 *
 * @module
 */

import { getLogger } from "#log";
import { type Clock, systemClock, type TimerHandle, wallTime } from "../clock.ts";
import { type Endpoint, PROBE_NAME } from "../plumi/address.ts";
import type { LookupRequest, PlumiMessage } from "../plumi/messages.ts";
import { type Directory, Heard, type Registration } from "./directory.ts";

/** The user name of the probes (see `lib/plumi/address.ts`). */
export { PROBE_NAME };

/** Options of {@linkcode Liveness}. */
export interface LivenessOptions {
  /** The user table. */
  readonly directory: Directory;
  /** The node's domain, for the probes' caller address. */
  readonly domain: string;
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
  /** The Nth unanswered look-up in a row is answered `RL3` by the node. Default: 5 (the original's). */
  readonly offlineAfter?: number;
  /** How long a forwarded look-up waits for a sign of life, in ms. Default: 800 (under an agent's 1 s retry). */
  readonly deadlineMs?: number;
  /** How long a window waits in silence before the first probe, in ms. Default: 400. */
  readonly probeAfterMs?: number;
  /** How often open windows are checked (and silent ones probed), in ms. Default: 200. */
  readonly probeEveryMs?: number;
  /** Wall-clock ms, for the registration time of a user brought back. Default: `clock.wallNow`, else `Date.now`. */
  readonly now?: () => number;
  /** Where probes go out (the node's socket). Default: nowhere (none are sent). */
  readonly send?: (to: Endpoint, message: PlumiMessage) => void;
}

/**
 * What the node knows of how one registration answers its look-ups: kept
 * here, not in the directory, and only for users with a window open or
 * look-ups unanswered (a new registration starts afresh).
 */
interface Watch {
  /** The registration watched ({@linkcode Registration.id}). */
  readonly id: number;
  /** Forwarded look-ups whose answer deadline passed with nothing heard from the agent. */
  unanswered: number;
  /** When the look-up now awaiting an answer was forwarded (monotonic ms), or -1 when none is. */
  awaitingSince: number;
  /** The last look-up forwarded while one awaits an answer: sent again while the agent is silent. */
  awaited: LookupRequest | undefined;
  /** When the last unanswered look-up was counted (monotonic ms); anything heard later clears the count. */
  missedAt: number;
}

/** Most registrations waiting for a move probe at once; past it, moves are refused. */
const MAX_MOVE_WAITERS = 10_000;
/** Most registrations of one user waiting for a move probe. */
const MOVE_WAITERS_PER_USER = 4;

/** Watches the agents of the domain's online users; see the module doc. */
export class Liveness {
  readonly clock: Clock;
  readonly #directory: Directory;
  readonly #domain: string;
  /** Failed windows in a row before the next look-up is answered RL3. */
  readonly #threshold: number;
  readonly #deadlineMs: number;
  readonly #probeAfterMs: number;
  readonly #probeEveryMs: number;
  readonly #wallNow: () => number;
  /** Users with a window open or look-ups unanswered, by name. */
  readonly #watches = new Map<string, Watch>();
  /** Past this many watches, those of registrations that ended are dropped. */
  #pruneAt = 1024;
  /** Users with a window open, by name. */
  readonly #windows = new Map<string, Watch>();
  /** Move probes waiting on a window, by user name. */
  readonly #moves = new Map<string, Array<(alive: boolean) => void>>();
  #moveWaiters = 0;
  #timer: TimerHandle | undefined;
  readonly #send: ((to: Endpoint, message: PlumiMessage) => void) | undefined;
  #log = getLogger(["lumi", "node", "liveness"]);
  /** Probes sent, for the console's `stats`. */
  probes = 0;
  /** Windows that failed (deadline passed in silence). */
  misses = 0;

  constructor(options: LivenessOptions) {
    this.clock = options.clock ?? systemClock;
    this.#directory = options.directory;
    this.#domain = options.domain;
    this.#threshold = Math.max(1, (options.offlineAfter ?? 5) - 1);
    this.#deadlineMs = options.deadlineMs ?? 800;
    this.#probeAfterMs = options.probeAfterMs ?? 400;
    this.#probeEveryMs = options.probeEveryMs ?? 200;
    this.#wallNow = options.now ?? wallTime(this.clock);
    this.#send = options.send;
  }

  /**
   * Note a datagram from `from` at `now` (this clock). Brings back users who
   * lapsed there. Returns whether an online user is registered at `from`.
   */
  heard(from: Endpoint, now: number): boolean {
    const heard = this.#directory.heard(from, now);
    if ((heard & Heard.Lapsed) === 0) return (heard & Heard.Online) !== 0;
    for (const name of this.#directory.lapsedAt(from)) {
      this.#directory.register(name, from, this.#wallNow());
      this.#log.info("{name} is back online: its agent at {ip}:{port} spoke again", {
        name,
        ...from,
      });
    }
    return (this.#directory.heard(from, now) & Heard.Online) !== 0;
  }

  /** Look-ups of `name`'s current registration unanswered in a row (for the console and tests). */
  unanswered(name: string): number {
    const watch = this.#watches.get(name);
    return watch !== undefined && watch.id === this.#directory.get(name)?.id ? watch.unanswered : 0;
  }

  /** The watch of `name`'s registration `id`: a fresh one if there is none for it yet. */
  #watch(name: string, id: number): Watch {
    const found = this.#watches.get(name);
    if (found !== undefined && found.id === id) return found;
    const watch: Watch = {
      id,
      unanswered: 0,
      awaitingSince: -1,
      awaited: undefined,
      missedAt: -Infinity,
    };
    this.#watches.set(name, watch);
    this.#windows.delete(name);
    if (this.#watches.size > this.#pruneAt) this.#prune();
    return watch;
  }

  /** Drop the watches of registrations that ended (amortised: when their number doubled). */
  #prune(): void {
    for (const [name, watch] of this.#watches) {
      if (this.#directory.get(name)?.id !== watch.id) {
        this.#watches.delete(name);
        this.#windows.delete(name);
      }
    }
    this.#pruneAt = Math.max(1024, 2 * this.#watches.size);
  }

  /**
   * A look-up for `name` is about to be forwarded to its agent: may it be
   * (true), or has the agent failed enough windows that the node answers
   * `RL3` itself and takes the user offline (false)?
   */
  forward(name: string, registration: Registration, lookup?: LookupRequest): boolean {
    if (registration.session !== undefined) return true; // judged by its heartbeats
    const now = this.clock.now();
    const watch = this.#watch(name, registration.id);
    const since = watch.awaitingSince;
    watch.awaited = lookup;
    if (since >= 0) {
      if (registration.heardAt > since) {
        // Answered: a fresh window for this look-up (it stays in the map).
        watch.unanswered = 0;
        this.#directory.misses?.answered(name, registration.id);
        watch.awaitingSince = now;
        if (this.#moveWaiters > 0) this.#settleMoves(name, true);
        return true;
      }
      if (now - since < this.#deadlineMs) return true; // one is awaiting: this adds nothing
      this.#miss(name, watch, now);
      if (this.#moveWaiters > 0) this.#settleMoves(name, false);
    }
    if (watch.unanswered > 0 && registration.heardAt > watch.missedAt) {
      watch.unanswered = 0;
      this.#directory.misses?.answered(name, registration.id);
    }
    // In a cluster, the misses of every node count (directory.ts, SharedMisses).
    const shared = this.#directory.misses?.count(name, registration.id) ?? 0;
    if (Math.max(watch.unanswered, shared) >= this.#threshold) {
      this.#directory.lapse(name, registration.id);
      this.#windows.delete(name);
      this.#watches.delete(name);
      this.#log.info("{name} is offline: {count} forwarded look-ups in a row went unanswered", {
        name,
        count: Math.max(watch.unanswered, shared),
      });
      return false;
    }
    this.#open(name, watch, now);
    return true;
  }

  /**
   * Someone else wants to register as `name`, online at `registration`:
   * the agent there is probed at once, and `done(true)` is called if it
   * shows a sign of life within the deadline (then the move is refused),
   * `done(false)` if it stays silent.
   * Returns false (and never calls `done`) when too many are waiting.
   */
  probeMove(name: string, registration: Registration, done: (alive: boolean) => void): boolean {
    const now = this.clock.now();
    const waiting = this.#moves.get(name);
    if (this.#moveWaiters >= MAX_MOVE_WAITERS || (waiting?.length ?? 0) >= MOVE_WAITERS_PER_USER) {
      return false;
    }
    if (waiting) waiting.push(done);
    else this.#moves.set(name, [done]);
    this.#moveWaiters++;
    if (waiting) return true; // a probe is out already
    // A window of its own: what was heard before this moment does not count.
    const watch = this.#watch(name, registration.id);
    this.#open(name, watch, now);
    watch.awaited = undefined;
    this.#probe(name, registration.endpoint, watch);
    return true;
  }

  /** Stop the timer (the server is closing). Waiting moves are told the agent is alive: refused. */
  close(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const name of [...this.#moves.keys()]) this.#settleMoves(name, true);
    this.#windows.clear();
  }

  #open(name: string, watch: Watch, now: number): void {
    watch.awaitingSince = now;
    this.#windows.set(name, watch);
    if (this.#timer === undefined) {
      this.#timer = this.clock.setTimeout(() => this.#tick(), this.#probeEveryMs);
    }
  }

  #miss(name: string, watch: Watch, now: number): void {
    watch.unanswered++;
    this.#directory.misses?.missed(name, watch.id);
    watch.missedAt = now;
    watch.awaitingSince = -1;
    watch.awaited = undefined;
    this.misses++;
    this.#log.debug("look-up for {name} unanswered ({count} of {threshold})", {
      name,
      count: watch.unanswered,
      threshold: this.#threshold,
    });
  }

  /**
   * Send the agent a look-up: the one awaiting its answer again (so that the
   * answer reaches the caller too), or, when none does, one of the node's own.
   */
  #probe(name: string, endpoint: Endpoint, watch: Watch): void {
    if (!this.#send) return;
    this.probes++;
    try {
      this.#send(
        endpoint,
        watch.awaited ?? {
          kind: "lookup",
          from: `${PROBE_NAME}@${this.#domain}`,
          to: `${name}@${this.#domain}`,
        },
      );
    } catch (error) {
      this.#log.error("Cannot send a probe to {name}: {reason}", {
        name,
        reason: error instanceof Error ? (error.stack ?? String(error)) : String(error),
      });
    }
  }

  #settleMoves(name: string, alive: boolean): void {
    const waiting = this.#moves.get(name);
    if (!waiting) return;
    this.#moves.delete(name);
    this.#moveWaiters -= waiting.length;
    for (const done of waiting) done(alive);
  }

  #tick(): void {
    this.#timer = undefined;
    try {
      this.#sweep();
    } catch (error) {
      // A timer's exception would end the process: log it, and keep watching.
      this.#log.error("Internal error checking look-up deadlines: {reason}", {
        reason: error instanceof Error ? (error.stack ?? String(error)) : String(error),
      });
    }
    if (this.#windows.size > 0 && this.#timer === undefined) {
      this.#timer = this.clock.setTimeout(() => this.#tick(), this.#probeEveryMs);
    }
  }

  #sweep(): void {
    const now = this.clock.now();
    for (const [name, watch] of this.#windows) {
      const registration = this.#directory.get(name);
      if (!registration || registration.id !== watch.id) {
        // Registered again, deregistered or removed meanwhile: nothing to wait for.
        this.#windows.delete(name);
        this.#watches.delete(name);
        this.#settleMoves(name, false);
        continue;
      }
      const since = watch.awaitingSince;
      if (since < 0 || registration.heardAt > since) {
        if (since >= 0) {
          watch.unanswered = 0;
          this.#directory.misses?.answered(name, registration.id);
        }
        watch.awaitingSince = -1;
        watch.awaited = undefined;
        this.#windows.delete(name);
        if (watch.unanswered === 0) this.#watches.delete(name);
        this.#settleMoves(name, true);
        continue;
      }
      if (now - since >= this.#deadlineMs) {
        this.#miss(name, watch, now);
        this.#windows.delete(name);
        this.#settleMoves(name, false);
      } else if (now - since >= this.#probeAfterMs) {
        this.#probe(name, registration.endpoint, watch);
      }
    }
  }
}
