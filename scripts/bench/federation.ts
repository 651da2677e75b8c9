/**
 * Federation: a look-up across two domains beside one within a domain.
 *
 * Two node processes, `a.test` on 127.0.77.1 and `b.test` on 127.0.77.2, know
 * each other through the `[domains]` map of their INI configuration. Callers
 * `c<i>@a.test` look up either `v<i>@a.test` (same domain: caller → A →
 * callee → A → caller, four packets through A) or `u<i>@b.test` (cross-domain:
 * caller → A → B → callee → B → A → caller, four packets through each node).
 * The callees are simulated agents that answer RL0 at once. Both nodes run as
 * shipped (packet log on).
 *
 * @module
 */

import { bindUdp } from "../../lib/transport/udp.ts";
import { BENCH_LIMITS, type BenchContext, LoadGen, scratchDir, startNode } from "./harness.ts";
import type { RunResult } from "./loadgen.ts";
import {
  formatLatency,
  formatPercent,
  formatRate,
  Histogram,
  type LatencySummary,
  median,
} from "./stats.ts";
import type { BenchResult } from "./table.ts";

const AGENTS = 64;
const IP_A = "127.0.77.1";
const IP_B = "127.0.77.2";

/** Figures of one kind of look-up at one concurrency. */
export interface FederationFigures {
  readonly kind: "same-domain" | "cross-domain";
  readonly agents: number;
  readonly rate: number;
  readonly latency: LatencySummary;
  readonly codes: Record<string, number>;
}

/** A UDP port free on both addresses (bound and released at once). */
function freePort(): number {
  for (let attempt = 0; attempt < 20; attempt++) {
    const a = bindUdp({ ip: IP_A, port: 0 });
    const port = a.local.port;
    try {
      bindUdp({ ip: IP_B, port }).close();
      return port;
    } catch {
      // taken on B: try another
    } finally {
      a.close();
    }
  }
  throw new Error(`no UDP port free on both ${IP_A} and ${IP_B}`);
}

function iniConfig(
  domain: string,
  listen: string,
  other: string,
  otherAt: string,
  users: string[],
) {
  return [
    `domain = ${domain}`,
    `listen = ${listen}`,
    "",
    ...BENCH_LIMITS,
    "",
    "[domains]",
    `${other} = ${otherAt}`,
    "",
    "[users]",
    ...users,
    "",
  ].join("\n");
}

function range(prefix: string): string[] {
  return Array.from({ length: AGENTS }, (_, i) => `${prefix}${i}`);
}

/** Run the benchmark. */
export async function benchFederation(context: BenchContext): Promise<BenchResult> {
  await using dir = await scratchDir("federation", context.keep);
  const port = freePort();
  const atA = `${IP_A}:${port}`, atB = `${IP_B}:${port}`;
  await Deno.mkdir(`${dir.path}/a`);
  await Deno.mkdir(`${dir.path}/b`);
  await Deno.writeTextFile(
    `${dir.path}/a/nodelumi.cfg`,
    iniConfig("a.test", atA, "b.test", atB, [...range("c"), ...range("v")]),
  );
  await Deno.writeTextFile(
    `${dir.path}/b/nodelumi.cfg`,
    iniConfig("b.test", atB, "a.test", atA, range("u")),
  );
  context.progress("federation: starting nodes a.test and b.test and the load generator");
  const [nodeA, nodeB, gen] = await Promise.all([
    startNode(context, `${dir.path}/a`, [], "node-a.test"),
    startNode(context, `${dir.path}/b`, [], "node-b.test"),
    LoadGen.start(),
  ]);
  await using _a = nodeA;
  await using _b = nodeB;
  await using _gen = gen;
  await gen.register({
    server: nodeA.endpoint,
    ranges: [{ prefix: "c", domain: "a.test", count: AGENTS }, {
      prefix: "v",
      domain: "a.test",
      count: AGENTS,
    }],
  });
  await gen.register({
    server: nodeB.endpoint,
    ranges: [{ prefix: "u", domain: "b.test", count: AGENTS }],
  });

  const figures: FederationFigures[] = [];
  for (const agents of [1, 16]) {
    context.progress(`federation: ${agents} agent${agents > 1 ? "s" : ""}`);
    const results: Record<FederationFigures["kind"], RunResult[]> = {
      "same-domain": [],
      "cross-domain": [],
    };
    for (let round = 0; round < context.rounds; round++) {
      const kinds = round % 2
        ? ["cross-domain", "same-domain"] as const
        : ["same-domain", "cross-domain"] as const;
      for (const kind of kinds) {
        const callee = kind === "same-domain"
          ? { prefix: "v", domain: "a.test" }
          : { prefix: "u", domain: "b.test" };
        results[kind].push(
          await gen.run({
            server: nodeA.endpoint,
            scenario: "lookup",
            concurrency: agents,
            caller: { prefix: "c", domain: "a.test" },
            callee: { ...callee, count: AGENTS, pick: "own" },
            warmupMs: context.warmupMs,
            durationMs: context.durationMs,
          }),
        );
      }
    }
    for (const kind of ["same-domain", "cross-domain"] as const) {
      const histogram = new Histogram();
      const codes: Record<string, number> = {};
      for (const r of results[kind]) {
        histogram.merge(Histogram.fromJSON(r.histogram));
        for (const [code, n] of Object.entries(r.codes)) codes[code] = (codes[code] ?? 0) + n;
      }
      figures.push({
        kind,
        agents,
        rate: median(results[kind].map((r) => r.rate)),
        latency: histogram.summary(),
        codes,
      });
    }
  }
  const same = (agents: number) =>
    figures.find((f) => f.kind === "same-domain" && f.agents === agents)!;
  const table = {
    title:
      "Federation: full look-ups (PL → … → callee agent → … → RL0), cross-domain beside same-domain",
    columns: ["look-up", "agents", "look-ups/s", "÷ same-domain", "p50 · p99 · p99.9"],
    rows: figures.map((f) => [
      f.kind === "same-domain" ? "same domain (a.test → a.test)" : "cross-domain (a.test → b.test)",
      String(f.agents),
      formatRate(f.rate),
      f.kind === "same-domain" ? "–" : formatPercent(f.rate / same(f.agents).rate),
      [f.latency.p50, f.latency.p99, f.latency.p999].map(formatLatency).join(" · "),
    ]),
    notes: [
      `Nodes on ${atA} and ${atB}, each with the other in its [domains] map (no DNS).`,
    ],
  };
  return { tables: [table], targets: [], data: { figures } };
}
