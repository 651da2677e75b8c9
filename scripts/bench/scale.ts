/**
 * Scale: what a node costs as its domain grows. For 10,000, 100,000 and
 * 1,000,000 users in `nodelumi.cfg` (INI form, the load generator named exempt), beside a node with 64
 * (each size also has the 64 callers of the load generator):
 *
 * - **start-up**: from spawning `main_node.ts` to its "listening" line;
 * - **memory**: the node process's resident set (VmRSS) after start, and
 *   after every user has registered (`PR` from the load generator), per user;
 * - **look-up latency**: full look-ups (PL → callee agent → RL0) of a random
 *   registered user, one agent, which must not grow with the table;
 * - **restored**: at the largest size, a node started with every user
 *   registered at an address of its own (a state file of original
 *   registrations, as after a restart): the load generator registers
 *   everyone from its one address, which a real domain never does, so this
 *   is the honest per-address cost, and the start-up with the state to read.
 *
 * The node runs as shipped (packet log and state file on).
 *
 * @module
 */

import {
  type BenchContext,
  LoadGen,
  scratchDir,
  sleep,
  startNode,
  writeBenchConfig,
} from "./harness.ts";
import {
  formatBytes,
  formatLatency,
  formatMs,
  formatRate,
  Histogram,
  type LatencySummary,
} from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

const DOMAIN = "bench.test";
const CALLERS = 64;
/** The goals of issue 12 (the directory): bytes per registered user, and start-up, at 1,000,000 users. */
const GOAL_BYTES = 400;
const GOAL_START_MS = 1_500;

/** The figures of one size. */
export interface ScaleFigures {
  /** Users in the configuration besides the 64 callers. */
  readonly users: number;
  readonly startMs: number;
  readonly rssStartBytes: number;
  readonly rssRegisteredBytes: number;
  /** Registrations per second while registering everyone (window of 64 in flight). */
  readonly registerRate: number;
  readonly registered: number;
  /** Registrations sent again because no answer came within 1 s (the node stalled or dropped them). */
  readonly registerResent: number;
  readonly lookup: LatencySummary;
  readonly lookupRate: number;
  readonly codes: Record<string, number>;
  /** Look-ups while one user re-registers every 100 ms, long enough for a state save. */
  readonly lookupLive: LatencySummary;
  /** Look-ups given up after 1 s (answers lost while the node was not reading). */
  readonly lostLive: number;
}

async function measure(context: BenchContext, users: number): Promise<ScaleFigures> {
  await using dir = await scratchDir(`scale-${users}`, context.keep);
  await writeBenchConfig(`${dir.path}/nodelumi.cfg`, DOMAIN, [
    { prefix: "c", count: CALLERS },
    { prefix: "u", count: users },
  ]);
  const [node, gen] = await Promise.all([
    startNode(context, dir.path, ["--listen", "127.0.0.1:0"], `node-scale-${users}`),
    LoadGen.start(),
  ]);
  await using _node = node;
  await using _gen = gen;
  const pid = node.child.pid;
  await sleep(context.smoke ? 50 : 500);
  const atStart = await gen.probe(pid);
  const registration = await gen.register({
    server: node.endpoint,
    ranges: [{ prefix: "c", domain: DOMAIN, count: CALLERS }, {
      prefix: "u",
      domain: DOMAIN,
      count: users,
    }],
    window: 64,
  });
  await sleep(context.smoke ? 50 : 1000);
  const registered = await gen.probe(pid);
  const run = await gen.run({
    server: node.endpoint,
    scenario: "lookup",
    concurrency: 1,
    caller: { prefix: "c", domain: DOMAIN },
    callee: { prefix: "u", domain: DOMAIN, count: users, pick: "random" },
    warmupMs: context.warmupMs,
    durationMs: context.durationMs,
  });
  // A live domain always has registrations coming in, so the node saves its
  // state file every 5 s: run through at least one save.
  const live = await gen.run({
    server: node.endpoint,
    scenario: "lookup",
    concurrency: 1,
    caller: { prefix: "c", domain: DOMAIN },
    callee: { prefix: "u", domain: DOMAIN, count: users, pick: "random" },
    warmupMs: 0,
    durationMs: context.smoke ? context.durationMs : 6_000,
    trickle: { prefix: "u", domain: DOMAIN, count: users, everyMs: 100 },
  });
  return {
    users,
    startMs: node.startMs,
    lookupLive: Histogram.fromJSON(live.histogram).summary(),
    lostLive: live.lost,
    rssStartBytes: atStart.rssBytes,
    rssRegisteredBytes: registered.rssBytes,
    registerRate: (users + CALLERS) / (registration.ms / 1000),
    registered: registration.registered,
    registerResent: registration.resent,
    lookup: Histogram.fromJSON(run.histogram).summary(),
    lookupRate: run.rate,
    codes: run.codes,
  };
}

/** The figures of a node started with every user registered at an address of its own. */
export interface RestoredFigures {
  readonly users: number;
  /** Registrations the node said it restored. */
  readonly restored: number;
  readonly startMs: number;
  readonly rssStartBytes: number;
}

/** The address of the `i`-th user in the state file: one of its own (10.0.0.0/8, then the port). */
function ownAddress(i: number): string {
  const ip = 0x0a000000 + (i % 0xffffff);
  const port = 4000 + Math.floor(i / 0xffffff);
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`;
}

async function measureRestored(context: BenchContext, users: number): Promise<RestoredFigures> {
  await using dir = await scratchDir(`scale-restored-${users}`, context.keep);
  await writeBenchConfig(`${dir.path}/nodelumi.cfg`, DOMAIN, [
    { prefix: "c", count: CALLERS },
    { prefix: "u", count: users },
  ]);
  const file = await Deno.open(`${dir.path}/nodelumi-${DOMAIN}.state`, {
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    const encoder = new TextEncoder();
    const write = async (text: string) => {
      const bytes = encoder.encode(text);
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
    };
    await write(`{"version":1,"online":[`);
    for (let from = 0; from < users; from += 50_000) {
      const slice: string[] = [];
      for (let i = from; i < Math.min(users, from + 50_000); i++) {
        slice.push(JSON.stringify([`u${i}`, ownAddress(i), 1_700_000_000_000]));
      }
      await write((from === 0 ? "" : ",") + slice.join(","));
    }
    await write("]}\n");
  } finally {
    file.close();
  }
  const [node, gen] = await Promise.all([
    startNode(context, dir.path, ["--listen", "127.0.0.1:0"], `node-scale-restored-${users}`),
    LoadGen.start(),
  ]);
  await using _node = node;
  await using _gen = gen;
  const line = node.child.lines.join("\n").match(/(\d+) online restored/);
  await sleep(context.smoke ? 50 : 500);
  const atStart = await gen.probe(node.child.pid);
  return {
    users,
    restored: Number(line?.[1] ?? NaN),
    startMs: node.startMs,
    rssStartBytes: atStart.rssBytes,
  };
}

/** Run the benchmark. */
export async function benchScale(context: BenchContext): Promise<BenchResult> {
  const sizes = context.smoke ? [2_000] : [10_000, 100_000, 1_000_000];
  context.progress("scale: baseline node with 64 users");
  const baseline = await measure(context, 64);
  const figures: ScaleFigures[] = [];
  for (const users of sizes) {
    context.progress(`scale: ${users.toLocaleString("en-US")} users`);
    figures.push(await measure(context, users));
  }
  const largest = sizes.at(-1)!;
  context.progress(
    `scale: ${largest.toLocaleString("en-US")} users restored, each at its own address`,
  );
  const restored = await measureRestored(context, largest);
  return report(baseline, figures, restored);
}

function restoredPerUser(baseline: ScaleFigures, restored: RestoredFigures): number {
  return (restored.rssStartBytes - baseline.rssStartBytes) / (restored.users - baseline.users);
}

function report(
  baseline: ScaleFigures,
  figures: readonly ScaleFigures[],
  restored: RestoredFigures,
): BenchResult {
  const perUser = (f: ScaleFigures, key: "rssStartBytes" | "rssRegisteredBytes") =>
    (f[key] - baseline[key]) / (f.users - baseline.users);
  const table = {
    title: "Scale: users in nodelumi.cfg, besides 64 callers (baseline: a node with 64 users)",
    columns: [
      "users",
      "start-up",
      "RSS at start",
      "per user (offline)",
      "RSS all registered",
      "per registered user",
      "registrations/s",
      "look-up p50 · p99 · p99.9 (1 agent)",
      "p99.9 · max, registrations trickling in",
    ],
    rows: [baseline, ...figures].map((f) => [
      f === baseline ? "64 (baseline)" : f.users.toLocaleString("en-US"),
      formatMs(f.startMs),
      formatBytes(f.rssStartBytes),
      f === baseline ? "–" : `${Math.round(perUser(f, "rssStartBytes"))} B`,
      formatBytes(f.rssRegisteredBytes),
      f === baseline ? "–" : `${Math.round(perUser(f, "rssRegisteredBytes"))} B`,
      formatRate(f.registerRate) + (f.registerResent ? ` (${f.registerResent} resent)` : ""),
      [f.lookup.p50, f.lookup.p99, f.lookup.p999].map(formatLatency).join(" · "),
      [f.lookupLive.p999, f.lookupLive.max].map(formatLatency).join(" · ") +
      (f.lostLive ? ` (${f.lostLive} lost)` : ""),
    ]),
    notes: [
      "per user: (RSS − the baseline's RSS) ÷ (users − 64); registered: after every user registered (PR → RR0) from the load generator, 64 in flight; resent: no answer within 1 s.",
      "All users register from the load generator's one UDP address; look-ups pick a random registered user.",
      "trickling in: one user registers again every 100 ms during 6 s of look-ups, so the node saves its state file (every 5 s when something changed).",
    ],
  };
  const largest = figures.at(-1);
  const targets: TargetCheck[] = [];
  if (largest) {
    const bytes = perUser(largest, "rssRegisteredBytes");
    const n = largest.users.toLocaleString("en-US");
    targets.push({
      target: `memory ≤ ${GOAL_BYTES} bytes per registered user at 1,000,000 users (issue 12)`,
      measured: `${Math.round(bytes)} B per registered user at ${n}`,
      met: bytes <= GOAL_BYTES,
    });
    const own = restoredPerUser(baseline, restored);
    targets.push({
      target: `the same, every user at an address of its own (restored from the state file)`,
      measured: `${Math.round(own)} B per registered user at ${
        restored.users.toLocaleString("en-US")
      } (${restored.restored.toLocaleString("en-US")} restored)`,
      met: own <= GOAL_BYTES && restored.restored === restored.users,
    });
    targets.push({
      target: `start-up < ${formatMs(GOAL_START_MS)} at 1,000,000 users (issue 12)`,
      measured: `${formatMs(largest.startMs)} at ${n} (baseline ${formatMs(baseline.startMs)})`,
      met: largest.startMs < GOAL_START_MS,
    });
    const ratio = largest.lookup.p50 / baseline.lookup.p50;
    targets.push({
      target: "look-up latency flat across sizes (p50 within 1.5× of the 64-user node)",
      measured: `p50 ${formatLatency(largest.lookup.p50)} at ${n} vs ${
        formatLatency(baseline.lookup.p50)
      } (${ratio.toFixed(2)}×)`,
      met: ratio <= 1.5,
    });
    const worst = largest.lookupLive.max, worstBase = baseline.lookupLive.max;
    targets.push({
      target:
        "look-up latency flat across sizes: worst look-up while users register (≤ 3× the 64-user node's, or 10 ms)",
      measured: `max ${formatLatency(worst)} at ${n} vs ${formatLatency(worstBase)}`,
      met: worst <= Math.max(10_000, 3 * worstBase),
    });
  }
  const own = {
    title: "Restored: every user registered at an address of its own, from the state file",
    columns: ["users", "restored", "start-up", "RSS at start", "per registered user"],
    rows: [[
      restored.users.toLocaleString("en-US"),
      restored.restored.toLocaleString("en-US"),
      formatMs(restored.startMs),
      formatBytes(restored.rssStartBytes),
      `${Math.round(restoredPerUser(baseline, restored))} B`,
    ]],
    notes: [
      "per registered user: (RSS 0.5 s after start − the baseline's RSS at start) ÷ (users − 64): the user, its registration and its address, and whatever reading the state file left in the heap.",
      "start-up includes reading the state file (about 40 bytes of JSON per registration).",
    ],
  };
  return { tables: [table, own], targets, data: { baseline, sizes: figures, restored } };
}
