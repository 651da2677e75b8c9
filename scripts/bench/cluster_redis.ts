/**
 * A Redis-backed node beside the embedded one, in the same run (`--only
 * redis`): registration (`PR`→`RR0`) and full look-up (`PL`→agent→`RL0`)
 * rates and latencies over loopback UDP, closed loop, 16 agents, for
 *
 * - **embedded**: the node as shipped (in-memory directory);
 * - **redis**: the same node with `[cluster] redis =` (a real `redis-server`
 *   started for the run, append-only file off);
 * - **two nodes**: look-ups through a second Redis-backed node, of users
 *   registered at the first (each answer is the other node's registration,
 *   learnt through Redis).
 * - **both at once**: the two Redis-backed nodes loaded at the same time,
 *   by two load generators of half the agents each (own users at each
 *   node); the rate is their sum, the latency their merged histogram: the
 *   domain's rate on two nodes, against one node's with all the agents.
 *
 * In alternating rounds, medians reported. Say what the machine had: its
 * core count is printed with the table.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { openRedisDirectory } from "../../lib/node/redis_directory.ts";
import { startRedis } from "../../tests/support/redis_server.ts";
import {
  BENCH_LIMITS,
  type BenchContext,
  LoadGen,
  type RunningNode,
  scratchDir,
  startNode,
} from "./harness.ts";
import type { RunCommand, RunResult } from "./loadgen.ts";
import { formatLatency, formatPercent, formatRate, Histogram, median } from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

const DOMAIN = "bench.test";
const AGENTS = 16;
type Subject = "embedded" | "redis" | "twoNodes" | "both";
const SUBJECTS: readonly Subject[] = ["embedded", "redis", "twoNodes", "both"];
const LABEL: Record<Subject, string> = {
  embedded: "embedded node",
  redis: "Redis-backed node",
  twoNodes: "second Redis-backed node",
  both: "two Redis-backed nodes at once",
};
type Request = "register" | "full";
/** Medians of one subject: rate, latency, and CPU µs per request of the node asked, the other node and redis-server. */
interface Figure {
  rate: number;
  p50: number;
  p99: number;
  cpu?: number[];
}

async function config(path: string, pool: number, redis?: string): Promise<void> {
  const lines = [`domain = ${DOMAIN}`, "state = off", ...BENCH_LIMITS];
  if (redis) lines.push("[cluster]", `redis = ${redis}`);
  lines.push("[users]");
  for (let i = 0; i < pool; i++) lines.push(`r${i}`, `s${i}`);
  for (let i = 0; i < AGENTS; i++) lines.push(`c${i}`, `u${i}`, `d${i}`, `w${i}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

/** Users of the first load generator (`r`, `c`, `u`) or of the second (`s`, `d`, `w`). */
const PREFIXES = [["r", "c", "u"], ["s", "d", "w"]] as const;

function command(
  request: Request,
  pool: number,
  agents = AGENTS,
  set: 0 | 1 = 0,
): Omit<RunCommand, "op" | "server" | "warmupMs" | "durationMs"> {
  const [pooled, caller, callee] = PREFIXES[set];
  return request === "register"
    ? {
      scenario: "register",
      concurrency: agents,
      users: { prefix: pooled, domain: DOMAIN, count: pool },
    }
    : {
      scenario: "lookup",
      concurrency: agents,
      caller: { prefix: caller, domain: DOMAIN },
      callee: { prefix: callee, domain: DOMAIN, count: agents, pick: "own" },
    };
}

/** Run the benchmark. */
export async function benchClusterRedis(context: BenchContext): Promise<BenchResult> {
  const pool = context.smoke ? 500 : 5_000;
  await using dir = await scratchDir("redis", context.keep);
  await using redis = await startRedis();
  for (const sub of ["embedded", "redis-a", "redis-b"]) {
    await Deno.mkdir(`${dir.path}/${sub}`);
    await config(
      `${dir.path}/${sub}/nodelumi.cfg`,
      pool,
      sub === "embedded" ? undefined : redis.url,
    );
  }
  context.progress("redis: starting a node, two Redis-backed nodes and the load generator");
  const listen = ["--listen", "127.0.0.1:0", "--no-log"];
  const [embedded, a, b, gen, gen2] = await Promise.all([
    startNode(context, `${dir.path}/embedded`, listen, "node-embedded"),
    startNode(context, `${dir.path}/redis-a`, listen, "node-redis-a"),
    startNode(context, `${dir.path}/redis-b`, listen, "node-redis-b"),
    LoadGen.start(),
    LoadGen.start(),
  ]);
  await using _gen2 = gen2;
  await using _embedded = embedded;
  await using _a = a;
  await using _b = b;
  await using _gen = gen;
  const ranges = ["c", "u"].map((prefix) => ({ prefix, domain: DOMAIN, count: AGENTS }));
  await gen.register({ server: embedded.endpoint, ranges });
  await gen.register({ server: a.endpoint, ranges });
  const half = AGENTS / 2;
  await gen2.register({
    server: b.endpoint,
    ranges: ["d", "w"].map((prefix) => ({ prefix, domain: DOMAIN, count: half })),
  });
  // The second node learns of them through Redis; registering meanwhile is what is measured.
  const servers: Record<Exclude<Subject, "both">, RunningNode> = {
    embedded,
    redis: a,
    twoNodes: b,
  };
  const figures: Record<string, Figure> = {};
  for (const request of ["register", "full"] as const) {
    const results: Record<Subject, RunResult[]> = {
      embedded: [],
      redis: [],
      twoNodes: [],
      both: [],
    };
    for (let round = 0; round < context.rounds; round++) {
      for (const subject of SUBJECTS) {
        if (request === "register" && subject === "twoNodes") continue;
        context.progress(`redis: ${request}, ${LABEL[subject]}, round ${round + 1}`);
        if (subject === "both") {
          const timing = { warmupMs: context.warmupMs, durationMs: context.durationMs };
          const [one, two] = await Promise.all([
            gen.run({ ...command(request, pool, half, 0), server: a.endpoint, ...timing }),
            gen2.run({ ...command(request, pool, half, 1), server: b.endpoint, ...timing }),
          ]);
          const histogram = Histogram.fromJSON(one.histogram);
          histogram.merge(Histogram.fromJSON(two.histogram));
          results.both.push({ ...one, rate: one.rate + two.rate, histogram: histogram.toJSON() });
          continue;
        }
        const server = servers[subject];
        results[subject].push(
          await gen.run({
            ...command(request, pool),
            server: server.endpoint,
            warmupMs: context.warmupMs,
            durationMs: context.durationMs,
            pids: subject === "embedded"
              ? [server.child.pid]
              : [server.child.pid, (server === a ? b : a).child.pid, redis.pid],
          }),
        );
      }
    }
    for (const subject of SUBJECTS) {
      if (results[subject].length === 0) continue;
      const histogram = new Histogram();
      for (const r of results[subject]) histogram.merge(Histogram.fromJSON(r.histogram));
      const summary = histogram.summary();
      // CPU per request (µs) of the node asked, the other node, and redis-server.
      const pids = subject === "embedded"
        ? [embedded.child.pid]
        : subject === "twoNodes"
        ? [b.child.pid, a.child.pid, redis.pid]
        : [a.child.pid, b.child.pid, redis.pid];
      const perRequest = (i: number) =>
        median(results[subject].map((r) => {
          const cpu = pids[i] === undefined ? undefined : r.cpu[String(pids[i])];
          return cpu === undefined ? NaN : (cpu / r.rate) * 1e6;
        }));
      figures[`${request}:${subject}`] = {
        rate: median(results[subject].map((r) => r.rate)),
        p50: summary.p50,
        p99: summary.p99,
        cpu: [perRequest(0), perRequest(1), perRequest(2)],
      };
    }
  }
  context.progress("redis: event-loop time of the Redis work, in this process");
  const stalls = await eventLoopStalls(redis.url, context.smoke ? 50 : 1_000);
  return report(figures, stalls);
}

/** p50, p99 and max of `values` (ms). */
function spread(values: number[]): [number, number, number] {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return [at(0.5), at(0.99), sorted.at(-1) ?? 0];
}

/**
 * How long a packet can wait behind the Redis work in a node's event loop,
 * measured without the other processes' scheduling: two clustered
 * directories in this process over the same Redis, 20 registrations every
 * 2 ms (10,000/s) at the first; the synchronous time of each batch written
 * (`flush` up to its first await), and the gaps between `setImmediate`
 * turns of the loop (the second applying every batch too), against the
 * same probe with nothing to do.
 */
async function eventLoopStalls(url: string, batches: number) {
  const users = Array.from({ length: 4_096 }, (_, i) => `t${i}`);
  const open = () => openRedisDirectory({ redis: url, domain: "stall.test", configured: users });
  await using a = await open();
  await using b = await open();
  const gaps = async (during: Promise<void>) => {
    const found: number[] = [];
    let done = false;
    during.finally(() => done = true);
    let last = performance.now();
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      const now = performance.now();
      found.push(now - last);
      last = now;
    }
    return found;
  };
  const idle = await gaps(new Promise((resolve) => setTimeout(resolve, 500)));
  const writes: number[] = [];
  const load = (async () => {
    for (let i = 0; i < batches; i++) {
      for (let j = 0; j < 20; j++) {
        a.register(users[(i * 20 + j) % users.length]!, { ip: "127.0.0.1", port: 1_000 + j }, i);
      }
      const t = performance.now();
      const flushed = a.flush();
      // The first tenth warms the code up (compiled by then), not measured.
      if (i >= batches / 10) writes.push(performance.now() - t);
      await flushed;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const busy = await gaps(load);
  return {
    write: spread(writes),
    idle: spread(idle),
    busy: spread(busy),
    applied: b.stats.applied,
  };
}

function report(
  figures: Record<string, Figure>,
  stalls: Awaited<ReturnType<typeof eventLoopStalls>>,
): BenchResult {
  const cores = navigator.hardwareConcurrency;
  const rows: string[][] = [];
  const targets: TargetCheck[] = [];
  for (const request of ["register", "full"] as const) {
    const base = figures[`${request}:embedded`]!;
    for (const subject of SUBJECTS) {
      const f = figures[`${request}:${subject}`];
      if (!f) continue;
      rows.push([
        request === "register" ? "register PR→RR" : "look-up PL→agent→RL0",
        LABEL[subject],
        formatRate(f.rate),
        formatPercent(f.rate / base.rate),
        formatLatency(f.p50),
        formatLatency(f.p99),
        formatLatency(Math.max(0, f.p99 - base.p99)),
      ]);
    }
    const r = figures[`${request}:redis`]!;
    targets.push({
      target: `Redis-backed ${request} rate ≥ half the embedded node's`,
      measured: formatPercent(r.rate / base.rate),
      met: r.rate >= base.rate / 2,
    });
    targets.push({
      target: `p99 added by Redis (${request}) < 1 ms`,
      measured: formatLatency(Math.max(0, r.p99 - base.p99)),
      met: r.p99 - base.p99 < 1_000,
    });
  }
  const cpuRows: string[][] = [];
  for (const request of ["register", "full"] as const) {
    for (const subject of ["embedded", "redis", "twoNodes"] as const) {
      const cpu = figures[`${request}:${subject}`]?.cpu;
      if (!cpu) continue;
      const us = (n: number | undefined) =>
        n === undefined || !Number.isFinite(n) ? "–" : `${n.toFixed(1)} µs`;
      cpuRows.push([
        request === "register" ? "register PR→RR" : "look-up PL→agent→RL0",
        LABEL[subject],
        us(cpu[0]),
        subject === "embedded" ? "–" : us(cpu[1]),
        subject === "embedded" ? "–" : us(cpu[2]),
      ]);
    }
  }
  return {
    tables: [{
      title:
        `Embedded node vs Redis-backed nodes, ${AGENTS} agents, loopback (${cores} cores, shared by the nodes, Redis and the load generator)`,
      columns: ["request", "subject", "rate/s", "÷ embedded", "p50", "p99", "p99 added"],
      rows,
      notes: [
        "second Redis-backed node: look-ups of users registered at the first, answered from what it learnt through Redis.",
        "two Redis-backed nodes at once: both loaded together by two generators of half the agents each; rate summed (the domain's), ÷ against one node with all the agents.",
        "On this machine every process shares the same cores; with more cores each node has its own and the domain's rate adds up per node (see docs/SCALING.md).",
      ],
    }, {
      title: "CPU time per request (medians; /proc ticks of 10 ms over each run)",
      columns: ["request", "node asked", "that node", "the other node", "redis-server"],
      rows: cpuRows,
      notes: [
        "What Redis adds to a packet on a machine with cores to spare is the asked node's extra CPU per request over the embedded node's; on this machine the other node and redis-server also compete for the same cores.",
      ],
    }, {
      title:
        "Event-loop time of the Redis work (in one process: two clustered directories, 10,000 registrations/s)",
      columns: ["what", "p50", "p99", "max"],
      rows: [
        [
          "one batch of 20 written (synchronous part)",
          ...stalls.write.map((ms) => formatLatency(ms * 1_000)),
        ],
        ["gap between loop turns, idle", ...stalls.idle.map((ms) => formatLatency(ms * 1_000))],
        [
          "gap between loop turns, writing and applying",
          ...stalls.busy.map((ms) => formatLatency(ms * 1_000)),
        ],
      ],
      notes: [
        `A packet waits behind Redis work at most this long when the node has a core of its own (records applied by the second directory: ${stalls.applied}).`,
      ],
    }],
    targets,
    data: { cores, figures },
  };
}
