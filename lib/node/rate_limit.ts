/**
 * Per-source flood protection, in the manner of Kamailio's `pike` module:
 * each source IP may send `limit` datagrams per `windowMs`; past that it is
 * banned for `banMs`, and every datagram it sends meanwhile is dropped
 * unread. A ban is reported once, when it starts — never once per packet.
 *
 * No source is exempt unless named (`exempt`), and an exempt source is not
 * unlimited: it has a larger budget per window (`exemptLimit`), is never
 * banned, and what it sends past that budget is dropped until the window
 * ends — so it cannot take the node from everyone else either.
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
  /** Addresses never banned, with the larger budget `exemptLimit` (e.g. a load generator). Default: none. */
  readonly exempt?: Iterable<string>;
  /** Datagrams per window served from an exempt address; the rest of the window's are dropped. Default: 100 × `limit`. */
  readonly exemptLimit?: number;
}

/**
 * The verdict on one datagram: served, dropped from a banned source, dropped
 * as the one that starts a ban, or (exempt sources) dropped past the budget,
 * `throttle-starts` when the previous window was not over it.
 */
export type Verdict = "pass" | "banned" | "ban-starts" | "throttled" | "throttle-starts";

interface Source {
  readonly exempt: boolean;
  windowStart: number;
  count: number;
  bannedUntil: number;
  /** Exempt sources: the previous window went over the budget. */
  wasOver: boolean;
}

const OVERFLOW = "\u0000overflow";

/** Counts datagrams per source IP and bans floods. */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #banMs: number;
  readonly #maxSources: number;
  readonly #exemptLimit: number;
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
    this.#exemptLimit = options.exemptLimit ?? 100 * this.#limit;
    if (
      !(this.#limit >= 1 && this.#windowMs >= 1 && this.#banMs >= 0 && this.#exemptLimit >= 1)
    ) {
      throw new RangeError("rate limit, exempt limit, window and ban must be positive");
    }
    // Exempt sources have entries of their own from the start, never swept nor shared.
    for (const ip of options.exempt ?? []) {
      this.#sources.set(ip, {
        exempt: true,
        windowStart: -Infinity,
        count: 0,
        bannedUntil: 0,
        wasOver: false,
      });
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
    let source = this.#sources.get(ip);
    if (!source) {
      if (this.#sources.size >= this.#maxSources) this.#sweep(now);
      const key = this.#sources.size >= this.#maxSources ? OVERFLOW : ip;
      source = this.#sources.get(key);
      if (!source) {
        source = { exempt: false, windowStart: now, count: 0, bannedUntil: 0, wasOver: false };
        this.#sources.set(key, source);
      }
    }
    if (source.bannedUntil > now) {
      this.dropped++;
      return "banned";
    }
    if (now - source.windowStart >= this.#windowMs) {
      if (source.exempt) source.wasOver = source.count > this.#exemptLimit;
      source.windowStart = now;
      source.count = 0;
    }
    if (source.exempt) {
      if (++source.count <= this.#exemptLimit) return "pass";
      this.dropped++;
      return source.count === this.#exemptLimit + 1 && !source.wasOver
        ? "throttle-starts"
        : "throttled";
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
      if (!s.exempt && s.bannedUntil <= now && now - s.windowStart >= this.#windowMs) {
        this.#sources.delete(ip);
      }
    }
  }
}
