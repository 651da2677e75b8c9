/**
 * A bound on how often something happens per key (a domain, a user): at most
 * `limit` times in each fixed window of `windowMs`, on an injected clock.
 * Holds at most `maxKeys` keys; past that the oldest window is forgotten.
 *
 * @module
 */

import type { Clock } from "../clock.ts";

/** Counts per key in fixed windows. */
export class WindowCounter {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #limit: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(clock: Clock, windowMs: number, limit: number, maxKeys = 10_000) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#limit = limit;
    this.#maxKeys = maxKeys;
  }

  /** Count one for `key`; `false` (nothing counted) when its window's share is used up. */
  take(key: string): boolean {
    const now = this.#clock.now();
    let window = this.#windows.get(key);
    if (!window || now - window.start >= this.#windowMs) {
      this.#windows.delete(key);
      if (this.#windows.size >= this.#maxKeys) {
        this.#windows.delete(this.#windows.keys().next().value!);
      }
      window = { start: now, count: 0 };
      this.#windows.set(key, window);
    }
    if (window.count >= this.#limit) return false;
    window.count++;
    return true;
  }
}
