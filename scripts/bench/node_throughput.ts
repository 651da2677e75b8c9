/**
 * Node throughput and latency over loopback UDP, closed loop, with 1, 16 and
 * 64 simulated agents, for three requests:
 *
 * - **register**: `PR` → `RR0` (users cycle through a pool of 10,000);
 * - **unknown look-up**: `PL` of a user the domain does not have → `RL2`;
 * - **full look-up**: `PL` of a registered user → the node forwards it to the
 *   callee's agent (simulated: answers `RL0…:ip:port` at once) → the node
 *   routes the `RL0` back to the caller. Four packets through the node.
 *
 * Each case runs against the bare responder (the ceiling), the node as
 * shipped (packet log on) and the node with `--no-log`, in alternating
 * rounds so that a noisy machine hurts all three alike; rates are the median
 * of the rounds, latencies come from all rounds together.
 *
 * @module
 */

import {
  type BenchContext,
  LoadGen,
  type RunningNode,
  scratchDir,
  startNode,
  startResponder,
  writeBenchConfig,
} from "./harness.ts";
import type { RunCommand, RunResult } from "./loadgen.ts";
import {
  formatLatency,
  formatPercent,
  formatRate,
  Histogram,
  type LatencySummary,
  median,
} from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

const DOMAIN = "bench.test";
/** Agents (callers `c<i>`) and their callees (`u<i>`). */
const MAX_AGENTS = 64;

/** The three requests measured. */
export type Request = "register" | "unknown" | "full";

const REQUESTS: readonly Request[] = ["register", "unknown", "full"];
const LABEL: Record<Request, string> = {
  register: "register PR→RR",
  unknown: "look-up, unknown PL→RL2",
  full: "look-up, full PL→agent→RL0",
};
/** What each request must be answered with. */
export const EXPECTED: Record<Request, string> = { register: "RR0", unknown: "RL2", full: "RL0" };

/** Who answers. */
export type Subject = "ceiling" | "logOn" | "logOff";
const SUBJECTS: readonly Subject[] = ["ceiling", "logOn", "logOff"];

/** The aggregated figures of one subject in one case. */
export interface SubjectFigures {
  /** Median of the rounds' requests/s. */
  readonly rate: number;
  readonly latency: LatencySummary;
  /** Median CPU of the server process over the rounds, in cores. */
  readonly serverCpu: number;
  /** Median CPU of the load generator, in cores. */
  readonly generatorCpu: number;
  /** Answer codes, all rounds. */
  readonly codes: Record<string, number>;
  readonly lost: number;
  readonly unexpected: number;
}

/** One row: a request at a concurrency, the three subjects. */
export interface CaseFigures {
  readonly request: Request;
  readonly agents: number;
  readonly subjects: Record<Subject, SubjectFigures>;
}

function command(
  request: Request,
  agents: number,
  pool: number,
): Omit<RunCommand, "op" | "server" | "warmupMs" | "durationMs"> {
  const caller = { prefix: "c", domain: DOMAIN };
  switch (request) {
    case "register":
      return {
        scenario: "register",
        concurrency: agents,
        users: { prefix: "r", domain: DOMAIN, count: pool },
      };
    case "unknown":
      return {
        scenario: "lookup",
        concurrency: agents,
        caller,
        callee: { prefix: "nobody", domain: DOMAIN, count: pool, pick: "random" },
      };
    case "full":
      return {
        scenario: "lookup",
        concurrency: agents,
        caller,
        callee: { prefix: "u", domain: DOMAIN, count: MAX_AGENTS, pick: "own" },
      };
  }
}

function aggregate(results: readonly RunResult[], pid: number): SubjectFigures {
  const histogram = new Histogram();
  const codes: Record<string, number> = {};
  for (const r of results) {
    histogram.merge(Histogram.fromJSON(r.histogram));
    for (const [code, n] of Object.entries(r.codes)) codes[code] = (codes[code] ?? 0) + n;
  }
  return {
    rate: median(results.map((r) => r.rate)),
    latency: histogram.summary(),
    serverCpu: median(results.map((r) => r.cpu[pid] ?? NaN)),
    generatorCpu: median(results.map((r) => r.cpuSelf)),
    codes,
    lost: results.reduce((sum, r) => sum + r.lost, 0),
    unexpected: results.reduce((sum, r) => sum + r.unexpected, 0),
  };
}

/** Run the benchmark. */
export async function benchNode(context: BenchContext): Promise<BenchResult> {
  const pool = context.smoke ? 1_000 : 10_000;
  const concurrencies = [1, 16, 64];
  await using dir = await scratchDir("node", context.keep);
  const users = [
    { prefix: "r", count: pool },
    { prefix: "c", count: MAX_AGENTS },
    { prefix: "u", count: MAX_AGENTS },
  ];
  for (const sub of ["log-on", "log-off"]) {
    await Deno.mkdir(`${dir.path}/${sub}`);
    await writeBenchConfig(`${dir.path}/${sub}/nodelumi.cfg`, DOMAIN, users);
  }
  context.progress("node: starting the bare responder, two nodes and the load generator");
  const [ceiling, logOn, logOff, gen] = await Promise.all([
    startResponder(),
    startNode(context, `${dir.path}/log-on`, ["--listen", "127.0.0.1:0"], "node-log-on"),
    startNode(
      context,
      `${dir.path}/log-off`,
      ["--listen", "127.0.0.1:0", "--no-log"],
      "node-log-off",
    ),
    LoadGen.start(),
  ]);
  await using _ceiling = ceiling;
  await using _logOn = logOn;
  await using _logOff = logOff;
  await using _gen = gen;
  const servers: Record<Subject, RunningNode> = { ceiling, logOn, logOff };
  // Callers and callees online at the load generator's address.
  for (const subject of SUBJECTS) {
    await gen.register({
      server: servers[subject].endpoint,
      ranges: [{ prefix: "c", domain: DOMAIN, count: MAX_AGENTS }, {
        prefix: "u",
        domain: DOMAIN,
        count: MAX_AGENTS,
      }],
    });
  }

  const cases: CaseFigures[] = [];
  for (const request of REQUESTS) {
    for (const agents of concurrencies) {
      context.progress(`node: ${LABEL[request]}, ${agents} agent${agents > 1 ? "s" : ""}`);
      const results: Record<Subject, RunResult[]> = { ceiling: [], logOn: [], logOff: [] };
      for (let round = 0; round < context.rounds; round++) {
        // Rotate the order so that no subject always runs first.
        const order = SUBJECTS.map((_, i) => SUBJECTS[(i + round) % SUBJECTS.length]!);
        for (const subject of order) {
          const server = servers[subject];
          results[subject].push(
            await gen.run({
              ...command(request, agents, pool),
              server: server.endpoint,
              warmupMs: context.warmupMs,
              durationMs: context.durationMs,
              pids: [server.child.pid],
            }),
          );
        }
      }
      cases.push({
        request,
        agents,
        subjects: {
          ceiling: aggregate(results.ceiling, ceiling.child.pid),
          logOn: aggregate(results.logOn, logOn.child.pid),
          logOff: aggregate(results.logOff, logOff.child.pid),
        },
      });
    }
  }
  return report(cases);
}

function find(
  cases: readonly CaseFigures[],
  request: Request,
  agents: number,
): CaseFigures | undefined {
  return cases.find((c) => c.request === request && c.agents === agents);
}

function report(cases: readonly CaseFigures[]): BenchResult {
  const ratio = (c: CaseFigures, s: Subject) => c.subjects[s].rate / c.subjects.ceiling.rate;
  const cpu = (c: CaseFigures) =>
    SUBJECTS.map((s) => c.subjects[s].serverCpu.toFixed(2)).join(" · ") +
    ` (gen ${c.subjects.logOn.generatorCpu.toFixed(2)})`;
  const throughput = {
    title: "Node over loopback UDP: throughput, closed loop (requests/s; ceiling = bare responder)",
    columns: [
      "request",
      "agents",
      "ceiling",
      "node, log on",
      "on ÷ ceiling",
      "node, log off",
      "off ÷ ceiling",
      "server CPU ceiling · on · off",
    ],
    rows: cases.map((c) => [
      LABEL[c.request],
      String(c.agents),
      formatRate(c.subjects.ceiling.rate),
      formatRate(c.subjects.logOn.rate),
      formatPercent(ratio(c, "logOn")),
      formatRate(c.subjects.logOff.rate),
      formatPercent(ratio(c, "logOff")),
      cpu(c),
    ]),
    notes: [
      "server CPU: cores used by the responder / node process over the measured window (1.00 = one core); gen: the load generator's.",
    ],
  };
  const triple = (c: CaseFigures, key: keyof LatencySummary) =>
    SUBJECTS.map((s) => formatLatency(c.subjects[s].latency[key])).join(" · ");
  const latency = {
    title: "Node over loopback UDP: latency, ceiling · node log on · node log off",
    columns: ["request", "agents", "p50", "p99", "p99.9"],
    rows: cases.map((c) => [
      LABEL[c.request],
      String(c.agents),
      triple(c, "p50"),
      triple(c, "p99"),
      triple(c, "p999"),
    ]),
  };
  const targets: TargetCheck[] = [];
  // Saturated cases only (16 agents or more): a single agent measures wake-up
  // latency, not capacity. The best median of each subject is its capacity,
  // which keeps one disturbed case of a noisy machine from deciding a target.
  const saturated = cases.filter((c) => c.agents >= 16);
  const peak = (request: Request, subject: Subject) =>
    Math.max(
      ...saturated.filter((c) => c.request === request).map((c) => c.subjects[subject].rate),
    );
  const capacity = (request: Request, label: string, goal: number) => {
    if (!saturated.some((c) => c.request === request)) return;
    const node = peak(request, "logOn"), ceiling = peak(request, "ceiling");
    targets.push({
      target: `${label} ≥ ${Math.round(goal * 100)} % of the bare responder's rate, log on`,
      measured: `${formatPercent(node / ceiling)} (best of 16/64 agents: ${formatRate(node)} vs ${
        formatRate(ceiling)
      } req/s)`,
      met: node / ceiling >= goal,
    });
  };
  capacity("register", "registrations", 0.75);
  capacity("full", "full look-ups", 0.30);
  const single = find(cases, "register", 1);
  if (single) {
    const p50 = single.subjects.logOn.latency.p50;
    targets.push({
      target: "p50 register latency < 100 µs with one agent, log on",
      measured: `${formatLatency(p50)} (ceiling ${
        formatLatency(single.subjects.ceiling.latency.p50)
      })`,
      met: p50 < 100,
    });
  }
  // The generator must not be the limit: under load the responder should use a whole core.
  if (saturated.length > 0) {
    const top = saturated.reduce((a, b) =>
      b.subjects.ceiling.serverCpu > a.subjects.ceiling.serverCpu ? b : a
    );
    const busiest = top.subjects.ceiling.serverCpu;
    const generator = top.subjects.ceiling.generatorCpu;
    targets.push({
      target: "load generator not the bottleneck: bare responder ≥ 0.85 core under load",
      measured: `responder at ${busiest.toFixed(2)} core, generator at ${
        generator.toFixed(2)
      } core`,
      met: busiest >= 0.85,
    });
  }
  return { tables: [throughput, latency], targets, data: { cases } };
}
