/**
 * Admission of incoming PMI connections, so that a peer opening connections
 * by the thousand cannot exhaust the agent or lock real callers out: a budget
 * of handshakes in progress of its own (in all, and per source IP). A
 * connection from an IP that has its share already takes the place of that
 * IP's oldest handshake; when the whole budget is taken, the oldest handshake
 * of the IP holding most of it is cut to make room. So a stranger can only
 * ever push out its own connections (or, spread over many IPs, the oldest
 * ones), and a caller that finishes its handshake promptly always gets in.
 * Refusals are reported without flooding the user: the first one of a burst
 * is printed, the rest are counted and summed up once the burst is over.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";

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

interface Slot {
  readonly ip: string;
  readonly evict: (() => void) | undefined;
  released: boolean;
}

/** Counts handshakes in progress and reports refused connections in bursts. */
export class Admission {
  readonly #o: AdmissionOptions;
  readonly #perIp = new Map<string, number>();
  /** Slots taken, oldest first. */
  readonly #slots = new Set<Slot>();
  #pending = 0;
  #evicted = 0;
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

  /** Handshakes cut so far to make room for newer ones. */
  get evicted(): number {
    return this.#evicted;
  }

  /**
   * Take a handshake slot for a connection from `ip`: a function that gives
   * it back (call it once; later calls do nothing), or the reason the
   * connection must be refused (`ip` has its share). `maxFromIp` overrides
   * the per-IP limit for this connection. With `evict`, a full share cuts
   * the oldest slot of `ip`, and a full budget the oldest slot of the IP that
   * holds most: the slot is freed and its `evict` called. Without it, the
   * connection is refused instead.
   */
  admit(
    ip: string,
    maxFromIp: number = this.#o.maxPendingPerIp,
    evict?: () => void,
  ): (() => void) | string {
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= maxFromIp) {
      const victim = evict ? this.#oldestOf(ip) : undefined;
      if (!victim) return `${fromIp} connections from ${ip} are being set up already`;
      this.#cut(victim);
    } else if (this.#pending >= this.#o.maxPending) {
      const victim = evict ? this.#victim() : undefined;
      if (!victim) return `${this.#pending} connections are being set up already`;
      this.#cut(victim);
    }
    const slot: Slot = { ip, evict, released: false };
    this.#slots.add(slot);
    this.#pending++;
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    return () => this.#free(slot);
  }

  #cut(victim: Slot): void {
    this.#free(victim);
    this.#evicted++;
    victim.evict?.();
  }

  /** The oldest evictable slot of `ip`. */
  #oldestOf(ip: string): Slot | undefined {
    for (const slot of this.#slots) if (slot.ip === ip && slot.evict) return slot;
    return undefined;
  }

  /** The oldest evictable slot of the IP holding most slots. */
  #victim(): Slot | undefined {
    let most = 0;
    let victim: Slot | undefined;
    const seen = new Set<string>();
    for (const slot of this.#slots) {
      if (!slot.evict || seen.has(slot.ip)) continue;
      seen.add(slot.ip);
      const count = this.#perIp.get(slot.ip) ?? 0;
      if (count > most) {
        most = count;
        victim = slot;
      }
    }
    return victim;
  }

  #free(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    this.#slots.delete(slot);
    this.#pending--;
    const left = (this.#perIp.get(slot.ip) ?? 1) - 1;
    if (left <= 0) this.#perIp.delete(slot.ip);
    else this.#perIp.set(slot.ip, left);
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
