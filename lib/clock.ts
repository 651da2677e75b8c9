/**
 * Time as a dependency: the node and agent read the time and set timers only
 * through a {@linkcode Clock}, so tests can drive time by hand.
 *
 * @module
 */

/** A timer handle, as returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds, monotonic within a process. */
  now(): number;
  /** Call `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer set with {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Wall-clock milliseconds since the epoch (registration times, heartbeat
   * ages), moving with {@linkcode Clock.now}. Default: `Date.now()`.
   */
  wallNow?(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  wallNow: () => Date.now(),
};

/** The wall-clock reading of `clock` as a function ({@linkcode Clock.wallNow}, else `Date.now`). */
export function wallTime(clock: Clock): () => number {
  return clock.wallNow ? () => clock.wallNow!() : Date.now;
}

/** A repeating timer of {@linkcode every}. */
export interface Repeating {
  /** Stop it: `fn` is not called again. */
  stop(): void;
}

/**
 * Call `fn` every `ms` milliseconds on `clock` until stopped (the first call
 * `ms` from now). A call that throws does not stop the next ones.
 *
 * @example
 * ```ts
 * const sweeper = every(systemClock, 1_000, () => console.log("tick"));
 * sweeper.stop();
 * ```
 */
export function every(clock: Clock, ms: number, fn: () => void): Repeating {
  let stopped = false;
  let handle: TimerHandle;
  const tick = () => {
    try {
      fn();
    } finally {
      if (!stopped) handle = clock.setTimeout(tick, ms);
    }
  };
  handle = clock.setTimeout(tick, ms);
  return {
    stop() {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}

/** A clock that moves only when told to: for unit tests. */
export class ManualClock implements Clock {
  #now = 0;
  #next = 1;
  #timers = new Map<TimerHandle, { at: number; fn: () => void }>();
  readonly #epoch: number;

  /** `epoch`: the wall-clock reading at time 0. Default: 2026-01-01T00:00:00Z. */
  constructor(epoch = Date.UTC(2026, 0, 1)) {
    this.#epoch = epoch;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#epoch + this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = this.#next++ as unknown as TimerHandle;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: [TimerHandle, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }
}
