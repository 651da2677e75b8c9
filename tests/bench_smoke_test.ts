/**
 * Every benchmark of `deno task bench`, in smoke mode (about a second each),
 * so that none of them can rot. The figures must be sane — answered with the
 * right packets, positive rates, ordered percentiles — but their size is
 * never asserted: speed is `deno task bench`'s business, not the test suite's.
 */

import { ok } from "#assert";
import { BENCHMARKS } from "../scripts/bench.ts";
import type { BenchContext } from "../scripts/bench/harness.ts";
import type { CaseFigures } from "../scripts/bench/node_throughput.ts";
import { EXPECTED } from "../scripts/bench/node_throughput.ts";
import type { ScaleFigures } from "../scripts/bench/scale.ts";
import type { ChatFigures } from "../scripts/bench/chat.ts";
import type { FederationFigures } from "../scripts/bench/federation.ts";
import type { OnlineFigures } from "../scripts/bench/online.ts";
import type { LatencySummary } from "../scripts/bench/stats.ts";
import { type BenchResult, renderMarkdown, renderText } from "../scripts/bench/table.ts";

const context: BenchContext = {
  smoke: true,
  durationMs: 30,
  warmupMs: 10,
  rounds: 1,
  keep: false,
  progress: () => {},
};

function assertLatency(summary: LatencySummary, what: string): void {
  ok(summary.count > 0, `${what}: no latency samples`);
  ok(summary.p50 > 0, `${what}: p50 ${summary.p50}`);
  ok(
    summary.p50 <= summary.p99 && summary.p99 <= summary.p999,
    `${what}: percentiles out of order`,
  );
}

function assertRate(rate: number, what: string): void {
  ok(Number.isFinite(rate) && rate > 0, `${what}: rate ${rate}`);
}

/** Only `code` came back (a few late answers of an earlier run aside, none). */
function assertOnly(codes: Record<string, number>, code: string, what: string): void {
  ok((codes[code] ?? 0) > 0, `${what}: no ${code} answers (${JSON.stringify(codes)})`);
  for (const other of Object.keys(codes)) {
    ok(other === code, `${what}: answered ${other} (${JSON.stringify(codes)})`);
  }
}

function assertReport(result: BenchResult): void {
  ok(result.tables.length > 0, "no table");
  for (const table of result.tables) {
    ok(table.rows.length > 0, `${table.title}: no rows`);
    for (const row of table.rows) {
      ok(row.length === table.columns.length, `${table.title}: ragged row`);
    }
    ok(renderText(table).includes(table.title));
    ok(renderMarkdown(table).includes("|"));
  }
  for (const target of result.targets) {
    ok(typeof target.met === "boolean" && target.measured !== "");
  }
}

Deno.test("bench node: every request and concurrency is answered, ceiling and node alike", async () => {
  const result = await BENCHMARKS.node(context);
  assertReport(result);
  const cases = result.data["cases"] as CaseFigures[];
  ok(cases.length === 9, `expected 3 requests × 3 concurrencies, got ${cases.length}`);
  for (const c of cases) {
    for (const [subject, figures] of Object.entries(c.subjects)) {
      const what = `${c.request}, ${c.agents} agents, ${subject}`;
      assertRate(figures.rate, what);
      assertLatency(figures.latency, what);
      // The bare responder answers every look-up RL2; the node answers as the protocol says.
      assertOnly(
        figures.codes,
        subject === "ceiling" && c.request !== "register" ? "RL2" : EXPECTED[c.request],
        what,
      );
    }
  }
  ok(result.targets.length === 4);
});

Deno.test("bench scale: start-up, memory and look-ups are measured for each size", async () => {
  const result = await BENCHMARKS.scale(context);
  assertReport(result);
  const all = [
    result.data["baseline"],
    ...(result.data["sizes"] as ScaleFigures[]),
  ] as ScaleFigures[];
  ok(all.length === 2);
  for (const f of all) {
    const what = `${f.users} users`;
    ok(f.startMs > 0, `${what}: start-up`);
    ok(f.rssStartBytes > 1_000_000 && f.rssRegisteredBytes > 1_000_000, `${what}: RSS`);
    ok(f.registered === f.users + 64, `${what}: ${f.registered} registered`);
    assertRate(f.lookupRate, what);
    assertLatency(f.lookup, what);
    assertOnly(f.codes, "RL0", what);
  }
});

Deno.test("bench chat: two real agents and the bare PMI path both carry every line", async () => {
  const result = await BENCHMARKS.chat(context);
  assertReport(result);
  const { agents, baseline, failure } = result.data as {
    agents?: ChatFigures;
    baseline: ChatFigures;
    failure?: string;
  };
  ok(agents, `the agents could not be measured: ${failure}`);
  for (const [what, f] of [["agents", agents], ["baseline", baseline]] as [string, ChatFigures][]) {
    assertRate(f.linesPerSecond, what);
    assertLatency(f.latency, what);
  }
});

Deno.test("bench federation: cross-domain and same-domain look-ups are answered RL0", async () => {
  const result = await BENCHMARKS.federation(context);
  assertReport(result);
  const figures = result.data["figures"] as FederationFigures[];
  ok(figures.length === 4);
  for (const f of figures) {
    const what = `${f.kind}, ${f.agents} agents`;
    assertRate(f.rate, what);
    assertLatency(f.latency, what);
    assertOnly(f.codes, "RL0", what);
  }
});

Deno.test("bench online: look-ups are answered alone and under the PO flood, and pages come back", async () => {
  const result = await BENCHMARKS.online(context);
  assertReport(result);
  const figures = result.data["figures"] as OnlineFigures[];
  ok(figures.length === 2);
  for (const f of figures) {
    const what = `${f.online} online`;
    assertRate(f.alone.rate, `${what}, alone`);
    assertRate(f.flooded.rate, `${what}, flooded`);
    assertLatency(f.alone.latency, `${what}, alone`);
    assertLatency(f.flooded.latency, `${what}, flooded`);
    ok(f.pagesAnswered > 0, `${what}: no page answered`);
  }
});
