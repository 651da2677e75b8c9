/**
 * Per-source flood protection, in the manner of Kamailio's `pike` module:
 * each source IP may send `limit` datagrams per `windowMs`; past that it is
 * banned for `banMs`, and every datagram it sends meanwhile is dropped
 * unread. A ban is reported once, when it starts — never once per packet.
 *
 * Memory is bounded: at most `maxSources` addresses are tracked; when the
 * table is full, idle entries are swept, and if none is idle, new sources
 * share one overflow bucket (so a spoofed flood from many addresses is
 * limited as a whole instead of growing the table).
 *
 * @module
 */

/** Options of {@linkcode RateLimiter}. */
export interface RateLimitOptions {
  /** Datagrams allowed per window from one IP. Default: 200. */
  readonly limit?: number;
  /** Window length, in ms. Default: 1 000. */
  readonly windowMs?: number;
  /** How long a source that went over the limit is ignored, in ms. Default: 10 000. */
  readonly banMs?: number;
  /** Most sources tracked at once. Default: 65 536. */
  readonly maxSources?: number;
  /** Addresses never limited (e.g. the nodes of the static map). Default: none. */
  readonly exempt?: Iterable<string>;
}

/** The verdict on one datagram. */
export type Verdict = "pass" | "banned" | "ban-starts";

interface Source {
  windowStart: number;
  count: number;
  bannedUntil: number;
}

const OVERFLOW = "\u0000overflow";

/** Counts datagrams per source IP and bans floods. */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #banMs: number;
  readonly #maxSources: number;
  readonly #exempt: Set<string>;
  readonly #sources = new Map<string, Source>();
  /** Bans started so far. */
  bans = 0;
  /** Datagrams dropped because their source was banned. */
  dropped = 0;

  constructor(options: RateLimitOptions = {}) {
    this.#limit = options.limit ?? 200;
    this.#windowMs = options.windowMs ?? 1_000;
    this.#banMs = options.banMs ?? 10_000;
    this.#maxSources = options.maxSources ?? 65_536;
    this.#exempt = new Set(options.exempt ?? []);
    if (!(this.#limit >= 1 && this.#windowMs >= 1 && this.#banMs >= 0)) {
      throw new RangeError("rate limit, window and ban must be positive");
    }
  }

  /** Sources tracked now. */
  get tracked(): number {
    return this.#sources.size;
  }

  /** Is `ip` banned at `now`? */
  isBanned(ip: string, now: number): boolean {
    return (this.#sources.get(ip)?.bannedUntil ?? 0) > now;
  }

  /** Account one datagram from `ip` at time `now` (ms) and say whether to serve it. */
  check(ip: string, now: number): Verdict {
    if (this.#exempt.has(ip)) return "pass";
    let source = this.#sources.get(ip);
    if (!source) {
      if (this.#sources.size >= this.#maxSources) this.#sweep(now);
      const key = this.#sources.size >= this.#maxSources ? OVERFLOW : ip;
      source = this.#sources.get(key);
      if (!source) {
        source = { windowStart: now, count: 0, bannedUntil: 0 };
        this.#sources.set(key, source);
      }
    }
    if (source.bannedUntil > now) {
      this.dropped++;
      return "banned";
    }
    if (now - source.windowStart >= this.#windowMs) {
      source.windowStart = now;
      source.count = 0;
    }
    if (++source.count > this.#limit) {
      source.bannedUntil = now + this.#banMs;
      this.bans++;
      this.dropped++;
      return "ban-starts";
    }
    return "pass";
  }

  /** Forget sources that are neither banned nor active in the current window. */
  #sweep(now: number): void {
    for (const [ip, s] of this.#sources) {
      if (s.bannedUntil <= now && now - s.windowStart >= this.#windowMs) this.#sources.delete(ip);
    }
  }
}
