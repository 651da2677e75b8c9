/**
 * Chat: PMI lines per second and line latency between two agents over
 * loopback, beside the bare PMI path.
 *
 * - **agents**: two real `main_agent.ts` processes (the `agent` task's
 *   flags) registered at a real node; Alice calls Bob, then lines are piped
 *   into Alice's stdin and counted as `Alice: …` lines on Bob's stdout. The
 *   path is stdin → agent → PMI over TCP → agent → stdout, as a person's.
 * - **baseline**: `lib/pmi` frames over a real loopback TCP pair, through
 *   `lib/transport/tcp.ts`, one write per line as the agent does, decoded by
 *   `PmiDecoder`, sender and receiver in this one process: the cost of PMI
 *   and TCP alone, without stdin, the terminal or the agent's logic.
 *
 * - **encrypted**: the agents as above, their conversation end-to-end
 *   encrypted (the default between two LUMI agents), beside the same two
 *   agents run with `--no-encryption` in the same run; and the encrypted
 *   handshake (`Noise_XX_25519_ChaChaPoly_SHA256` after the nicknames, as
 *   `lib/agent/chat/secure.ts` does it) over a loopback TCP pair, timed from
 *   the first `N` written to the last `H` read.
 *
 * Throughput: a burst of lines, timed from the first write to the last line
 * seen. Latency: one line at a time, each written when the previous has
 * arrived.
 *
 * @module
 */

import { encodeLine, encodeNick, PmiDecoder, type PmiFrame } from "../../lib/pmi/mod.ts";
import {
  ChannelHandshake,
  conversationPrologue,
  encodePieces,
  HANDSHAKE_FRAME,
  newIdentity,
  PieceJoiner,
} from "../../lib/crypto/mod.ts";
import { connectTcp, listenTcp, type StreamConn } from "../../lib/transport/tcp.ts";
import { taskFlags } from "../../tests/support/task_flags.ts";
import {
  type BenchContext,
  type Child,
  projectRoot,
  scratchDir,
  spawnDeno,
  startNode,
} from "./harness.ts";
import { formatLatency, formatRate, Histogram, type LatencySummary } from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

/** Figures of one chat path. */
export interface ChatFigures {
  readonly lines: number;
  readonly linesPerSecond: number;
  readonly latency: LatencySummary;
  /** Lines the receiving agent could not print (this process read its output too slowly). */
  readonly dropped?: number;
}

/** Counts lines that arrive, and wakes whoever waits for the n-th. */
export class Arrivals {
  count = 0;
  #waiters: { target: number; resolve: () => void }[] = [];

  add(n: number): void {
    this.count += n;
    if (this.#waiters.length === 0) return;
    const due = this.#waiters.filter((w) => w.target <= this.count);
    this.#waiters = this.#waiters.filter((w) => w.target > this.count);
    for (const w of due) w.resolve();
  }

  /** Resolve once `target` lines have arrived; reject after `timeoutMs`. */
  until(target: number, timeoutMs = 60_000): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`chat: ${this.count} of ${target} lines arrived in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

export function lineText(i: number): string {
  return `message ${i}: the quick brown fox jumps over the lazy dog`;
}

/** Send `pings` lines one at a time, then `burst` lines at once. */
export async function drive(
  send: (text: string) => Promise<void>,
  sendMany: (from: number, count: number) => Promise<void>,
  arrivals: Arrivals,
  pings: number,
  burst: number,
): Promise<ChatFigures> {
  const histogram = new Histogram();
  for (let i = 0; i < pings; i++) {
    const start = performance.now();
    await send(lineText(i));
    await arrivals.until(arrivals.count + 1, 10_000);
    histogram.record((performance.now() - start) * 1000);
  }
  const before = arrivals.count;
  const start = performance.now();
  await sendMany(pings, burst);
  await arrivals.until(before + burst);
  const seconds = (performance.now() - start) / 1000;
  return { lines: burst, linesPerSecond: burst / seconds, latency: histogram.summary() };
}

/** lib/pmi over a loopback TCP pair, in this process. */
export async function pmiBaseline(pings: number, burst: number): Promise<ChatFigures> {
  const listener = listenTcp({ ip: "127.0.0.1", port: 0 });
  const accepted = listener[Symbol.asyncIterator]().next();
  const sender = await connectTcp(listener.local);
  const receiver = (await accepted).value as StreamConn;
  listener.close();
  const arrivals = new Arrivals();
  const reading = (async () => {
    const decoder = new PmiDecoder();
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const n = await receiver.read(buffer).catch(() => null);
      if (n === null) break;
      const { frames, error } = decoder.push(buffer.subarray(0, n));
      if (error) throw error;
      arrivals.add(frames.length);
    }
  })();
  const write = async (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) offset += await sender.write(bytes.subarray(offset));
  };
  try {
    return await drive(
      (text) => write(encodeLine(text)),
      async (from, count) => {
        for (let i = from; i < from + count; i++) await write(encodeLine(lineText(i)));
      },
      arrivals,
      pings,
      burst,
    );
  } finally {
    sender.close();
    await reading.catch(() => {});
    receiver.close();
  }
}

/**
 * Counts `<nick>: ` lines in a child's stdout. Lines the agent received but
 * could not print because this process read its output too slowly (its
 * `[N lines of output dropped…]` marker) count as arrived too: they crossed
 * the path being measured; `dropped` says how many there were.
 */
function countChatLines(
  child: Child,
  nick: string,
  arrivals: Arrivals,
  dropped: { count: number },
): void {
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
      else {
        const marker = line.match(/^\[(\d+) lines? of output dropped/);
        if (marker) {
          n += Number(marker[1]);
          dropped.count += Number(marker[1]);
        }
      }
    }
    arrivals.add(n);
  };
}

/** Frames from one stream, in order. */
class FrameStream {
  readonly #conn: StreamConn;
  readonly #decoder = new PmiDecoder({ extensionTypes: "HE" });
  readonly #frames: PmiFrame[] = [];
  readonly #buffer = new Uint8Array(4096);
  constructor(conn: StreamConn) {
    this.#conn = conn;
  }
  async next(): Promise<PmiFrame> {
    while (this.#frames.length === 0) {
      const n = await this.#conn.read(this.#buffer);
      if (n === null) throw new Error("handshake bench: the stream ended");
      const { frames, error } = this.#decoder.push(this.#buffer.subarray(0, n));
      if (error) throw error;
      this.#frames.push(...frames);
    }
    return this.#frames.shift()!;
  }
  async message(): Promise<Uint8Array> {
    const joiner = new PieceJoiner(4096);
    for (;;) {
      const frame = await this.next();
      if (frame.kind !== "extension") throw new Error("handshake bench: not an H frame");
      const step = joiner.push(frame.info);
      if (step.kind === "message") return step.message;
      if (step.kind === "error") throw new Error(step.reason);
    }
  }
}

async function writeAll(conn: StreamConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/**
 * `count` encrypted-conversation handshakes over one loopback TCP pair each:
 * nicknames, then the three Noise messages, both sides in this process.
 */
export async function handshakeLatency(count: number): Promise<LatencySummary> {
  const histogram = new Histogram();
  const ana = newIdentity(), bo = newIdentity();
  const listener = listenTcp({ ip: "127.0.0.1", port: 0 });
  const accepted = listener[Symbol.asyncIterator]();
  try {
    for (let i = 0; i < count; i++) {
      const next = accepted.next();
      const callerConn = await connectTcp(listener.local);
      const calleeConn = (await next).value as StreamConn;
      const start = performance.now();
      const caller = new FrameStream(callerConn), callee = new FrameStream(calleeConn);
      const prologue = conversationPrologue("Ana", "Bo");
      const calling = (async () => {
        await writeAll(callerConn, encodeNick("Ana"));
        await caller.next();
        const hs = new ChannelHandshake({
          initiator: true,
          identity: ana,
          address: "ana@b.test",
          prologue,
        });
        await writeAll(callerConn, encodePieces(HANDSHAKE_FRAME, await hs.start()));
        const step = await hs.receive(await caller.message());
        if (step.kind !== "established") throw new Error("handshake bench: caller failed");
        await writeAll(callerConn, encodePieces(HANDSHAKE_FRAME, step.send!));
      })();
      const answering = (async () => {
        await callee.next();
        await writeAll(calleeConn, encodeNick("Bo"));
        const hs = new ChannelHandshake({
          initiator: false,
          identity: bo,
          address: "bo@b.test",
          prologue,
        });
        const answer = await hs.receive(await callee.message());
        if (answer.kind !== "send") throw new Error("handshake bench: callee failed");
        await writeAll(calleeConn, encodePieces(HANDSHAKE_FRAME, answer.send));
        const done = await hs.receive(await callee.message());
        if (done.kind !== "established") throw new Error("handshake bench: callee failed");
      })();
      await Promise.all([calling, answering]);
      histogram.record((performance.now() - start) * 1000);
      callerConn.close();
      calleeConn.close();
    }
  } finally {
    listener.close();
  }
  return histogram.summary();
}

/** Two real agents through a real node, encrypted unless `clear`. */
export async function agentsChat(
  context: BenchContext,
  pings: number,
  burst: number,
  clear = false,
): Promise<ChatFigures> {
  await using dir = await scratchDir("chat", context.keep);
  for (const sub of ["node", "alice", "bob"]) await Deno.mkdir(`${dir.path}/${sub}`);
  await Deno.writeTextFile(`${dir.path}/node/nodelumi.cfg`, "bench.test alice bob\n");
  await using node = await startNode(context, `${dir.path}/node`, [
    "--listen",
    "127.0.0.1:0",
    "--no-log",
  ]);
  const flags = await taskFlags("agent");
  const agent = (name: string, nick: string) =>
    spawnDeno(
      name,
      flags,
      `${projectRoot}main_agent.ts`,
      [
        "--address",
        `${name}@bench.test`,
        "--nick",
        nick,
        "--node",
        node.endpoint,
        ...(clear ? ["--no-encryption"] : []),
      ],
      { cwd: `${dir.path}/${name}`, stdin: true },
    );
  await using bob = agent("bob", "Bob");
  await using alice = agent("alice", "Alice");
  await Promise.all([bob.waitFor(/^Registered /), alice.waitFor(/^Registered /)]);
  await alice.write("bob@bench.test\n");
  await Promise.all([alice.waitFor(/^Connected to Bob/), bob.waitFor(/^Incoming call from Alice/)]);
  const arrivals = new Arrivals();
  const dropped = { count: 0 };
  countChatLines(bob, "Alice", arrivals, dropped);
  let nudge: ReturnType<typeof setInterval> | undefined;
  const figures = await drive(
    (text) => alice.write(`${text}\n`),
    async (from, count) => {
      await writeLineBurst((bytes) => alice.write(bytes), from, count);
      // Bob prints the marker of lines he could not print only with his next output: make
      // him print something (his /list) now and then until every line is accounted for.
      nudge = setInterval(() => void bob.write("/list\n").catch(() => {}), 500);
    },
    arrivals,
    pings,
    burst,
  ).finally(() => clearInterval(nudge));
  return { ...figures, dropped: dropped.count };
}

/** Run the benchmark. */
export async function benchChat(context: BenchContext): Promise<BenchResult> {
  const pings = context.smoke ? 20 : 2_000;
  const burst = context.smoke ? 2_000 : 200_000;
  context.progress("chat: lib/pmi over a loopback TCP pair (baseline)");
  const baseline = await pmiBaseline(pings, burst);
  const measure = async (clear: boolean): Promise<ChatFigures | undefined> => {
    try {
      return await agentsChat(context, pings, burst, clear);
    } catch (error) {
      const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
      failure = `${failure ? `${failure}; ` : ""}${clear ? "in clear" : "encrypted"}: ${why}`;
      return undefined;
    }
  };
  let failure: string | undefined;
  context.progress("chat: two agents through a node, in clear");
  const agents = await measure(true);
  context.progress("chat: two agents through a node, encrypted");
  const encrypted = await measure(false);
  context.progress("chat: encrypted handshakes over loopback TCP");
  const handshake = await handshakeLatency(context.smoke ? 20 : 500);
  const row = (label: string, f: ChatFigures | undefined) => [
    label,
    f ? formatRate(f.linesPerSecond) : "–",
    f ? [f.latency.p50, f.latency.p99, f.latency.p999].map(formatLatency).join(" · ") : "–",
  ];
  const table = {
    title: `Chat over loopback: ${
      burst.toLocaleString("en-US")
    } lines in a burst; latency one line at a time`,
    columns: ["path", "lines/s", "latency p50 · p99 · p99.9"],
    rows: [
      row("two agents, in clear: stdin → agent → TCP → agent → stdout", agents),
      row("two agents, end-to-end encrypted (the default)", encrypted),
      row("baseline: lib/pmi over a TCP pair, one process", baseline),
    ],
    notes: [
      ...(failure
        ? [`The agents could not be measured (${failure}); the target is judged on the baseline.`]
        : []),
      `Lines are ${
        lineText(0).length
      } characters; the agents' latency includes the pipes to and from this process.`,
      ...([["in clear", agents], ["encrypted", encrypted]] as [string, ChatFigures | undefined][])
        .flatMap(([what, f]) =>
          f?.dropped
            ? [
              `${what}: ${f.dropped} lines reached Bob but were not printed (this process read his output too slowly); counted as arrived.`,
            ]
            : []
        ),
      `Encrypted handshake (nicknames + Noise XX over loopback TCP, one process): p50 ${
        formatLatency(handshake.p50)
      }, p99 ${formatLatency(handshake.p99)}.`,
    ],
  };
  const judged = agents ?? baseline;
  const targets: TargetCheck[] = [{
    target: "chat > 50,000 lines/s",
    measured: `${formatRate(judged.linesPerSecond)} lines/s ${
      agents ? "between two agents" : "lib/pmi path only"
    } (baseline ${formatRate(baseline.linesPerSecond)})`,
    met: judged.linesPerSecond > 50_000,
  }, {
    target: "encrypted chat ≥ half the clear rate",
    measured: encrypted && agents
      ? `${formatRate(encrypted.linesPerSecond)} vs ${formatRate(agents.linesPerSecond)} lines/s (${
        Math.round(100 * encrypted.linesPerSecond / agents.linesPerSecond)
      } %)`
      : "–",
    met: encrypted !== undefined && agents !== undefined &&
      encrypted.linesPerSecond >= agents.linesPerSecond / 2,
  }, {
    target: "encrypted handshake p50 < 10 ms",
    measured: formatLatency(handshake.p50),
    met: handshake.p50 < 10_000,
  }];
  return {
    tables: [table],
    targets,
    data: { agents, encrypted, handshake, baseline, ...(failure && { failure }) },
  };
}

/** Write the lines `from` to `from + count` (numbered by `lineText`) in 64 KB writes, as a pipe would carry them. */
export async function writeLineBurst(
  write: (bytes: Uint8Array) => Promise<unknown>,
  from: number,
  count: number,
): Promise<void> {
  const encoder = new TextEncoder();
  let chunk = "";
  for (let i = from; i < from + count; i++) {
    chunk += `${lineText(i)}\n`;
    if (chunk.length >= 65_536) {
      await write(encoder.encode(chunk));
      chunk = "";
    }
  }
  if (chunk) await write(encoder.encode(chunk));
}
