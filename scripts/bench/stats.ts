/**
 * Latency histograms and summaries for the benchmarks. A histogram has
 * logarithmic buckets 1 % wide from 0.1 µs to about 100 s, so it records
 * millions of samples in a few kilobytes, merges across rounds and processes,
 * and travels as JSON from the load generator.
 *
 * @module
 */

const MIN_US = 0.1;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 1;

/** Latency percentiles of a run, in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** A latency histogram (values in microseconds). */
export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #max = 0;

  /** Number of samples. */
  get count(): number {
    return this.#count;
  }

  /** Record one latency, in microseconds. */
  record(us: number): void {
    const i = us <= MIN_US
      ? 0
      : Math.min(BUCKETS - 1, Math.floor(Math.log(us / MIN_US) / LOG_GROWTH));
    this.#counts[i]!++;
    this.#count++;
    if (us > this.#max) this.#max = us;
  }

  /** Add every sample of `other`. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#max = Math.max(this.#max, other.#max);
  }

  /** The latency below which a fraction `q` (0–1) of the samples lie; NaN when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, MIN_US * GROWTH ** (i + 0.5));
    }
    return this.#max;
  }

  /** p50, p99, p99.9 and the maximum. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.#max,
    };
  }

  /** A compact form for JSON: `[bucket, count]` pairs and the maximum. */
  toJSON(): { buckets: [number, number][]; max: number } {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.#counts[i]) buckets.push([i, this.#counts[i]!]);
    return { buckets, max: this.#max };
  }

  /** Rebuild a histogram from {@linkcode Histogram.toJSON}. */
  static fromJSON(json: { buckets: [number, number][]; max: number }): Histogram {
    const h = new Histogram();
    for (const [i, n] of json.buckets) {
      h.#counts[i] = (h.#counts[i] ?? 0) + n;
      h.#count += n;
    }
    h.#max = json.max;
    return h;
  }
}

/** The median of some numbers (NaN when there are none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Format a rate: `48,300`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "–";
  return Math.round(perSecond).toLocaleString("en-US");
}

/** Format a latency in µs: `38 µs`, `1.20 ms`. */
export function formatLatency(us: number): string {
  if (!Number.isFinite(us)) return "–";
  if (us < 10) return `${us.toFixed(1)} µs`;
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 100_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${Math.round(us / 1000)} ms`;
}

/** Format a ratio as a percentage: `0.473` → `47 %`. */
export function formatPercent(ratio: number): string {
  return Number.isFinite(ratio) ? `${Math.round(ratio * 100)} %` : "–";
}

/** Format bytes: `1.3 KB`, `212 MB` (powers of 1000). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Format a duration in ms: `412 ms`, `2.31 s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
