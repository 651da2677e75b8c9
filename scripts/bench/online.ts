/**
 * Who is online under load: does a flood of `PO` pages slow the node down for
 * everyone else, and does a page cost more as the domain grows?
 *
 * For a small domain (1,000 users online) and a large one (200,000 online),
 * four other clients send unknown look-ups (`PL` → `RL2`, closed loop), first
 * alone (the baseline), then while ten extended sessions each ask for 145
 * `PO` pages a second (1,450/s in all, random pages by number and by cursor:
 * what made the node drop 5 of 6 other requests when every page built the
 * whole list). Rounds alternate between the two. Both nodes run as shipped
 * (packet log on) but without a state file, and with rate limiting off: the
 * ten sessions come from this one address.
 *
 * @module
 */

import { TestAgent } from "../../lib/node/test_agent.ts";
import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { type BenchContext, LoadGen, type RunningNode, scratchDir, startNode } from "./harness.ts";
import type { RunResult } from "./loadgen.ts";
import { formatLatency, formatRate, Histogram, type LatencySummary, median } from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

const DOMAIN = "bench.test";
const SESSIONS = 10;
const PAGES_PER_SECOND = 145;
const CLIENTS = 4;

/** What one domain size measured. */
export interface OnlineFigures {
  /** Users online (besides the callers and the sessions). */
  readonly online: number;
  /** Look-ups alone: median rate of the rounds, latency of all rounds. */
  readonly alone: {
    readonly rate: number;
    readonly latency: LatencySummary;
    readonly lost: number;
  };
  /** Look-ups while the sessions ask for pages. */
  readonly flooded: {
    readonly rate: number;
    readonly latency: LatencySummary;
    readonly lost: number;
  };
  /** Pages asked for and answered (`RO0`) over the flooded runs. */
  readonly pagesSent: number;
  readonly pagesAnswered: number;
  /** Answer time of the pages (send to answer, in order per session). */
  readonly pageLatency: LatencySummary;
}

async function writeConfig(path: string, online: number): Promise<void> {
  const lines = [
    `domain = ${DOMAIN}`,
    "[limits]",
    "rate-limit = 0",
    "[users]",
  ];
  for (let i = 0; i < SESSIONS; i++) lines.push(`s${i}`);
  for (let i = 0; i < 64; i++) lines.push(`c${i}`);
  for (let i = 0; i < online; i++) lines.push(`u${i}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An extended session asking for pages, and what it got back. */
class Session implements AsyncDisposable {
  readonly #socket: DatagramSocket;
  readonly #name: string;
  readonly #node: Endpoint;
  readonly #agent: TestAgent;
  readonly #sentAt: number[] = [];
  readonly #pump: Promise<void>;
  #onReply: ((text: string) => void) | undefined;
  sent = 0;
  answered = 0;
  readonly latency = new Histogram();

  constructor(name: string, node: Endpoint) {
    const socket = bindUdp({ ip: "127.0.0.1", port: 0 });
    this.#socket = socket;
    this.#name = name;
    this.#node = node;
    this.#agent = new TestAgent(`${name}@${DOMAIN}`);
    this.#pump = (async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) return;
        const text = decoder.decode(datagram.bytes);
        if (this.#onReply) {
          this.#onReply(text);
          continue;
        }
        const sentAt = this.#sentAt.shift();
        if (!text.startsWith("RO0")) continue;
        this.answered++;
        if (sentAt !== undefined) this.latency.record((performance.now() - sentAt) * 1000);
      }
    })();
  }

  /** Register with `v=2` (no password): the session, whose key seals each `PO`. */
  async login(): Promise<void> {
    const head = `${this.#agent.hello()};x=`;
    const reply = new Promise<string>((resolve) => this.#onReply = resolve);
    await this.#socket.send(encoder.encode(head.padEnd(100, "-")), this.#node);
    const text = await reply;
    this.#onReply = undefined;
    if (!text.startsWith("RR0")) throw new Error(`${this.#name}: login answered ${text}`);
    this.#agent.keep(text);
  }

  /** Ask for one page: by number (`p=`) below `pages`, or by cursor after user `u<after>`. */
  async ask(page: { number: number } | { after: number }): Promise<void> {
    const which = "number" in page ? `p=${page.number}` : `c=u${page.after}`;
    this.#sentAt.push(performance.now());
    this.sent++;
    await this.#socket.send(
      encoder.encode(this.#agent.seal(`PO${this.#name}@${DOMAIN};${which}`)),
      this.#node,
    );
  }

  /** Forget pages still awaited (between runs). */
  reset(): void {
    this.#sentAt.length = 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#pump;
  }
}

/** Ask for pages at `PAGES_PER_SECOND` per session until `signal` aborts. */
async function flood(sessions: readonly Session[], online: number, signal: AbortSignal) {
  const started = performance.now();
  let asked = 0;
  let seed = 1;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  // Pages by number reach past the last one (answered with the last): the worst case is any page.
  const pages = Math.max(1, Math.ceil(online / 20));
  while (!signal.aborted) {
    const due = Math.floor((performance.now() - started) / 1000 * PAGES_PER_SECOND);
    for (; asked < due; asked++) {
      for (const [i, session] of sessions.entries()) {
        await session.ask(
          (asked + i) % 2 === 0
            ? { number: 1 + Math.floor(random() * pages) }
            : { after: Math.floor(random() * online) },
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function aggregate(results: readonly RunResult[]) {
  const histogram = new Histogram();
  for (const r of results) histogram.merge(Histogram.fromJSON(r.histogram));
  return {
    rate: median(results.map((r) => r.rate)),
    latency: histogram.summary(),
    lost: results.reduce((sum, r) => sum + r.lost, 0),
  };
}

async function measure(context: BenchContext, gen: LoadGen, online: number) {
  await using dir = await scratchDir(`online-${online}`, context.keep);
  await writeConfig(`${dir.path}/nodelumi.cfg`, online);
  context.progress(`online: a node with ${online} users, registering them`);
  await using node: RunningNode = await startNode(
    context,
    dir.path,
    ["--listen", "127.0.0.1:0", "--no-state"],
    `node-online-${online}`,
  );
  const [ip, port] = node.endpoint.split(":");
  const at: Endpoint = { ip: ip!, port: Number(port) };
  await gen.register({
    server: node.endpoint,
    ranges: [
      { prefix: "u", domain: DOMAIN, count: online },
      { prefix: "c", domain: DOMAIN, count: 64 },
    ],
  });
  const sessions = Array.from({ length: SESSIONS }, (_, i) => new Session(`s${i}`, at));
  try {
    for (const session of sessions) await session.login();
    const alone: RunResult[] = [];
    const flooded: RunResult[] = [];
    const run = () =>
      gen.run({
        server: node.endpoint,
        scenario: "lookup",
        concurrency: CLIENTS,
        caller: { prefix: "c", domain: DOMAIN },
        callee: { prefix: "nobody", domain: DOMAIN, count: 1000, pick: "random" },
        warmupMs: context.warmupMs,
        durationMs: context.durationMs,
        pids: [node.child.pid],
      });
    for (let round = 0; round < context.rounds; round++) {
      context.progress(`online: ${online} online, round ${round + 1}, look-ups alone`);
      alone.push(await run());
      context.progress(`online: ${online} online, round ${round + 1}, with the PO flood`);
      const stop = new AbortController();
      const flooding = flood(sessions, online, stop.signal);
      try {
        flooded.push(await run());
      } finally {
        stop.abort();
        await flooding;
      }
      // Answers still on their way belong to no run.
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const session of sessions) session.reset();
    }
    const latency = new Histogram();
    for (const session of sessions) latency.merge(session.latency);
    return {
      online,
      alone: aggregate(alone),
      flooded: aggregate(flooded),
      pagesSent: sessions.reduce((sum, s) => sum + s.sent, 0),
      pagesAnswered: sessions.reduce((sum, s) => sum + s.answered, 0),
      pageLatency: latency.summary(),
    } satisfies OnlineFigures;
  } finally {
    for (const session of sessions) await session[Symbol.asyncDispose]();
  }
}

/** Run the benchmark. */
export async function benchOnline(context: BenchContext): Promise<BenchResult> {
  const sizes = context.smoke ? [100, 2_000] : [1_000, 200_000];
  await using gen = await LoadGen.start();
  const figures: OnlineFigures[] = [];
  for (const online of sizes) figures.push(await measure(context, gen, online));
  const rows = figures.map((f) => [
    formatRate(f.online),
    formatRate(f.alone.rate),
    `${formatLatency(f.alone.latency.p50)} · ${formatLatency(f.alone.latency.p99)}`,
    formatRate(f.flooded.rate),
    `${formatLatency(f.flooded.latency.p50)} · ${formatLatency(f.flooded.latency.p99)}`,
    String(f.flooded.lost),
    `${f.pagesAnswered} / ${f.pagesSent}`,
    `${formatLatency(f.pageLatency.p50)} · ${formatLatency(f.pageLatency.p99)}`,
  ]);
  const table = {
    title:
      `Who is online: ${CLIENTS} clients' look-ups (PL→RL2) alone and while ${SESSIONS} sessions ask ${PAGES_PER_SECOND} PO pages/s each`,
    columns: [
      "online",
      "alone req/s",
      "alone p50 · p99",
      "with PO req/s",
      "with PO p50 · p99",
      "lost",
      "pages answered / asked",
      "page p50 · p99",
    ],
    rows,
    notes: [
      "alone: the baseline, the same node in the same run, in alternating rounds; lost: look-ups unanswered within 1 s (flooded runs).",
      "Pages by number (random, up to past the last) and by cursor (after a random user), half each.",
    ],
  };
  const large = figures.at(-1)!;
  const targets: TargetCheck[] = [{
    target: `with ${
      formatRate(large.online)
    } online and ${SESSIONS}×${PAGES_PER_SECOND} PO/s, other clients' p99 < 5 ms`,
    measured: `${formatLatency(large.flooded.latency.p99)} (alone ${
      formatLatency(large.alone.latency.p99)
    }; ${large.flooded.lost} lost, ${large.pagesAnswered} of ${large.pagesSent} pages answered)`,
    met: large.flooded.latency.p99 < 5_000 && large.flooded.lost === 0,
  }];
  return { tables: [table], targets, data: { figures } };
}
