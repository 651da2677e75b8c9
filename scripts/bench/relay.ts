/**
 * Relay: the line rate of a chat through the node's relay (`[relay]`)
 * beside a direct chat between the same agents, in the same run.
 *
 * One real node with its relay on, and real `main_agent.ts` processes (the
 * `agent` task's flags): Alice calls Bob directly and a burst of lines is
 * timed from Alice's stdin to Bob's stdout; then Carol (`--relay always`)
 * calls Bob through the relay and the same burst is timed. The target: the
 * relayed rate is at least half the direct one.
 *
 * @module
 */

import { taskFlags } from "../../tests/support/task_flags.ts";
import { Arrivals, type ChatFigures, drive, writeLineBurst } from "./chat.ts";
import {
  type BenchContext,
  type Child,
  projectRoot,
  scratchDir,
  spawnDeno,
  startNode,
} from "./harness.ts";
import { formatLatency, formatRate } from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

/** Lines the agents' terminals dropped (their output is bounded), over the run. */
let droppedLines = 0;

/**
 * Count `<nick>: ` lines on a child's stdout as they arrive, and the lines
 * its terminal dropped (the marker `[N lines of output dropped: …]`): they
 * reached the agent, which is what is timed.
 */
function countArrivals(child: Child, nick: string, arrivals: Arrivals): void {
  const decoder = new TextDecoder();
  const prefix = `${nick}: `;
  let pending = "";
  child.raw = true;
  child.onChunk = (chunk) => {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    let n = 0;
    for (const line of lines) {
      if (line.startsWith(prefix)) n++;
      const dropped = line.match(/^\[(\d+) lines? of output dropped/);
      if (dropped) {
        n += Number(dropped[1]);
        droppedLines += Number(dropped[1]);
      }
    }
    arrivals.add(n);
  };
}

/** Time one chat: `caller` calls Bob and sends `burst` lines after `pings` single ones. */
async function timedChat(
  caller: Child,
  callerNick: string,
  bob: Child,
  pings: number,
  burst: number,
): Promise<ChatFigures> {
  const from = bob.lines.length;
  await caller.write("bob@bench.test\n");
  await caller.waitFor(/^Connected to Bob/, { timeoutMs: 30_000 });
  await bob.waitFor(new RegExp(`^Incoming call from ${callerNick}`), { from, timeoutMs: 30_000 });
  const arrivals = new Arrivals();
  countArrivals(bob, callerNick, arrivals);
  const figures = await drive(
    (text) => caller.write(`${text}\n`),
    (from, count) => writeLineBurst((bytes) => caller.write(bytes), from, count),
    arrivals,
    pings,
    burst,
  );
  bob.onChunk = undefined;
  bob.raw = false;
  const end = bob.lines.length;
  await caller.write("/exit\n");
  await bob.waitFor(new RegExp(`^Conversation with ${callerNick} ended`), {
    from: end,
    timeoutMs: 30_000,
  });
  return figures;
}

/** Run the benchmark. */
export async function benchRelay(context: BenchContext): Promise<BenchResult> {
  const pings = context.smoke ? 20 : 200;
  const burst = context.smoke ? 2_000 : 20_000;
  await using dir = await scratchDir("relay", context.keep);
  for (const sub of ["node", "alice", "bob", "carol"]) await Deno.mkdir(`${dir.path}/${sub}`);
  await Deno.writeTextFile(
    `${dir.path}/node/nodelumi.cfg`,
    [
      "domain = bench.test",
      "[relay]",
      "enabled = yes",
      "listen = 127.0.0.1:0",
      `max-bytes = ${2 ** 40}`,
      "[users]",
      "alice",
      "bob",
      "carol",
      "",
    ].join("\n"),
  );
  await using node = await startNode(context, `${dir.path}/node`, [
    "--listen",
    "127.0.0.1:0",
    "--no-log",
    "--no-state",
  ]);
  const flags = await taskFlags("agent");
  const agent = (name: string, nick: string, extra: string[] = []) =>
    spawnDeno(
      name,
      flags,
      `${projectRoot}main_agent.ts`,
      ["--address", `${name}@bench.test`, "--nick", nick, "--node", node.endpoint, ...extra],
      { cwd: `${dir.path}/${name}`, stdin: true },
    );
  await using bob = agent("bob", "Bob");
  await using alice = agent("alice", "Alice");
  await using carol = agent("carol", "Carol", ["--relay", "always"]);
  await Promise.all([bob, alice, carol].map((a) => a.waitFor(/^Registered /)));
  // Alternating rounds, the best of each path: the callee warms up during the first round.
  const rounds = context.smoke ? 1 : 2;
  let direct: ChatFigures | undefined;
  let relayed: ChatFigures | undefined;
  const best = (a: ChatFigures | undefined, b: ChatFigures) =>
    a && a.linesPerSecond >= b.linesPerSecond ? a : b;
  for (let round = 1; round <= rounds; round++) {
    context.progress(`relay: round ${round}, Alice and Bob, direct`);
    direct = best(direct, await timedChat(alice, "Alice", bob, pings, burst));
    context.progress(`relay: round ${round}, Carol and Bob, through the node's relay`);
    relayed = best(relayed, await timedChat(carol, "Carol", bob, pings, burst));
  }
  if (!direct || !relayed) throw new Error("relay: no round ran");
  const row = (label: string, f: ChatFigures) => [
    label,
    formatRate(f.linesPerSecond),
    [f.latency.p50, f.latency.p99, f.latency.p999].map(formatLatency).join(" · "),
  ];
  const ratio = relayed.linesPerSecond / direct.linesPerSecond;
  const table = {
    title: `Chat through the relay vs direct: ${
      burst.toLocaleString("en-US")
    } lines in a burst; latency one line at a time`,
    columns: ["path", "lines/s", "latency p50 · p99 · p99.9"],
    rows: [
      row("direct: agent → TCP → agent", direct),
      row("relayed: agent → TCP → node's relay → TCP → agent", relayed),
    ],
    notes: [
      ...(droppedLines > 0
        ? [`${droppedLines} lines reached Bob but his terminal output dropped them (counted).`]
        : []),
      `Same node, same callee, same run; the best of ${rounds} alternating round(s) each; relayed / direct = ${
        ratio.toFixed(2)
      }.`,
    ],
  };
  const targets: TargetCheck[] = [{
    target: "chat through the relay ≥ half the direct line rate",
    measured: `${formatRate(relayed.linesPerSecond)} vs ${
      formatRate(direct.linesPerSecond)
    } lines/s (${ratio.toFixed(2)})`,
    met: ratio >= 0.5,
  }];
  return { tables: [table], targets, data: { direct, relayed, ratio } };
}
