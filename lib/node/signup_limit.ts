/**
 * How many accounts one source may create: at most `perHour` sign-ups per
 * source IP in any hour (a sliding window), so that an open node does not
 * hand one address tens of thousands of accounts an hour. The table of
 * sources is bounded; past it the source that signed up longest ago is
 * forgotten first.
 *
 * @module
 */

/** Options of {@linkcode SignupLimit}. */
export interface SignupLimitOptions {
  /** Sign-ups per source IP per hour; 0 for no bound. Default: 10. */
  readonly perHour?: number;
  /** Most sources remembered. Default: 10 000. */
  readonly maxSources?: number;
  /** Clock in ms. Default: `Date.now`. */
  readonly now?: () => number;
}

const HOUR_MS = 3_600_000;

/** Counts sign-ups per source IP over the last hour. */
export class SignupLimit {
  #perHour: number;
  readonly #maxSources: number;
  readonly #now: () => number;
  /** Per IP, the times of its sign-ups within the last hour, oldest first; IPs by last sign-up. */
  readonly #sources = new Map<string, number[]>();
  /** Sign-ups refused, for the console's `stats`. */
  refused = 0;

  constructor(options: SignupLimitOptions = {}) {
    this.#perHour = options.perHour ?? 10;
    this.#maxSources = options.maxSources ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (!(Number.isInteger(this.#perHour) && this.#perHour >= 0)) {
      throw new RangeError(`perHour must be a whole number ≥ 0, not ${this.#perHour}`);
    }
  }

  /** Sign-ups a source may make in any hour from now on (0: no limit); the hour's history stays. */
  set perHour(value: number) {
    if (!(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(`perHour must be a whole number ≥ 0, not ${value}`);
    }
    this.#perHour = value;
  }

  /** May `ip` create one more account now? A refusal is counted. */
  allows(ip: string): boolean {
    if (this.#perHour === 0) return true;
    const times = this.#recent(ip);
    if (times.length < this.#perHour) return true;
    this.refused++;
    return false;
  }

  /** `ip` has just created an account. */
  record(ip: string): void {
    if (this.#perHour === 0) return;
    const times = this.#recent(ip);
    times.push(this.#now());
    this.#sources.delete(ip);
    if (this.#sources.size >= this.#maxSources) {
      this.#sources.delete(this.#sources.keys().next().value!);
    }
    this.#sources.set(ip, times);
  }

  /** The sign-ups of `ip` within the last hour (older ones dropped). */
  #recent(ip: string): number[] {
    const times = this.#sources.get(ip);
    if (!times) return [];
    const since = this.#now() - HOUR_MS;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.#sources.delete(ip);
    return times;
  }
}
