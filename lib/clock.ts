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
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

/** A clock that moves only when told to: for unit tests. */
export class ManualClock implements Clock {
  #now = 0;
  #next = 1;
  #timers = new Map<TimerHandle, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = this.#next++ as unknown as TimerHandle;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
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
