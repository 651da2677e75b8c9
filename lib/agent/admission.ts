/**
 * Admission of incoming PMI connections, so that a peer opening connections
 * by the thousand cannot exhaust the agent: at most so many handshakes in
 * progress at once (in all, and per source IP); a connection past that is
 * closed at once. Refusals are reported without flooding the user: the first
 * one of a burst is printed, the rest are counted and summed up once the
 * burst is over.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Most handshakes in progress at once. */
  readonly maxPending: number;
  /** Most handshakes in progress at once from one IP address. */
  readonly maxPendingPerIp: number;
  readonly clock: Clock;
  /** After a refusal is printed, further ones within this many ms are only counted. */
  readonly reportMs: number;
  /** Print a line. */
  readonly print: (text: string) => void;
  /** The summary line for `count` refusals that were not printed one by one. */
  readonly summary: (count: number) => string;
}

/** Counts handshakes in progress and reports refused connections in bursts. */
export class Admission {
  readonly #o: AdmissionOptions;
  readonly #perIp = new Map<string, number>();
  #pending = 0;
  #quietUntil = -Infinity;
  #suppressed = 0;
  #timer: TimerHandle | undefined;

  constructor(options: AdmissionOptions) {
    this.#o = options;
  }

  /** Handshakes in progress. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Take a handshake slot for a connection from `ip`: a function that gives
   * it back (call it once), or the reason the connection must be refused.
   * `maxFromIp` overrides the per-IP limit for this connection.
   */
  admit(ip: string, maxFromIp: number = this.#o.maxPendingPerIp): (() => void) | string {
    if (this.#pending >= this.#o.maxPending) {
      return `${this.#pending} connections are being set up already`;
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= maxFromIp) {
      return `${fromIp} connections from ${ip} are being set up already`;
    }
    this.#pending++;
    this.#perIp.set(ip, fromIp + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pending--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    };
  }

  /** Report a refused connection: printed, or counted when another was printed just before. */
  refused(text: string): void {
    const now = this.#o.clock.now();
    if (now >= this.#quietUntil && this.#suppressed === 0) {
      this.#o.print(text);
      this.#quietUntil = now + this.#o.reportMs;
      return;
    }
    this.#suppressed++;
    this.#timer ??= this.#o.clock.setTimeout(
      () => this.#flush(),
      Math.max(0, this.#quietUntil - now),
    );
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#suppressed === 0) return;
    this.#o.print(this.#o.summary(this.#suppressed));
    this.#suppressed = 0;
    this.#quietUntil = this.#o.clock.now() + this.#o.reportMs;
  }

  /** Print what is still counted and stop the timer. */
  close(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#flush();
  }
}
