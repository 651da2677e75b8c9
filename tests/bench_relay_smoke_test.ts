/**
 * The relay benchmark in smoke mode (about a second), so that it cannot rot:
 * both paths carry every line and the figures are sane; their size is
 * `deno task bench`'s business.
 */

import { ok } from "#assert";
import { BENCHMARKS } from "../scripts/bench.ts";
import type { BenchContext } from "../scripts/bench/harness.ts";
import type { ChatFigures } from "../scripts/bench/chat.ts";

const context: BenchContext = {
  smoke: true,
  durationMs: 30,
  warmupMs: 10,
  rounds: 1,
  keep: false,
  progress: () => {},
};

Deno.test("bench relay: a direct and a relayed chat of the same run both carry every line", async () => {
  const result = await BENCHMARKS.relay(context);
  ok(result.tables.length === 1 && result.tables[0]!.rows.length === 2);
  const { direct, relayed, ratio } = result.data as {
    direct: ChatFigures;
    relayed: ChatFigures;
    ratio: number;
  };
  for (const [what, f] of [["direct", direct], ["relayed", relayed]] as const) {
    ok(Number.isFinite(f.linesPerSecond) && f.linesPerSecond > 0, `${what}: ${f.linesPerSecond}`);
    ok(f.latency.count > 0 && f.latency.p50 <= f.latency.p99, `${what}: latency`);
  }
  ok(Number.isFinite(ratio) && ratio > 0);
});
