/**
 * The load generator: simulated agents over loopback UDP, in a process of its
 * own so that it never competes with the server under test for the event
 * loop. It sends and receives in batches ({@linkcode BatchSocket}), so it
 * costs a fraction of what the server costs per packet; `bench.ts` checks
 * that it drives the bare responder to a full core.
 *
 * The parent (`harness.ts`, {@linkcode LoadGen}) sends one JSON command per
 * line on stdin and reads one JSON answer per line on stdout:
 *
 * - `register`: register users (`PR`) at a server, a window of them at a time;
 * - `run`: a closed loop of `concurrency` simulated agents, each sending its
 *   next request as soon as its answer arrives, for a warm-up and then a
 *   measured duration; answers look-ups forwarded to the callees it
 *   registered with `RL0` (the callee agents), and reports requests/s, a
 *   latency histogram, the codes of the answers and the CPU time of itself
 *   and of the given processes over the measured window;
 * - `probe`: memory (VmRSS, VmHWM) and CPU time of a process, from `/proc`.
 *
 * All simulated agents share one UDP socket: the node keys users by name, not
 * by address, so its work per packet is the same. Answers to look-ups are
 * matched to their caller by the caller's name in the answer; `RR` answers
 * carry no name and are matched in order (the node answers in order).
 *
 * Run by `harness.ts` as
 * `deno run --unstable-net --allow-net --allow-ffi scripts/bench/loadgen.ts`.
 *
 * @module
 */

import { BatchSocket, endpointKey, readSystemFile } from "./mmsg.ts";
import { Histogram } from "./stats.ts";

/** Users `<prefix>0@<domain>` … `<prefix><count-1>@<domain>`. */
export interface UserRange {
  readonly prefix: string;
  readonly domain: string;
  readonly count: number;
}

/** `register` command: register every user of `ranges` at `server`. */
export interface RegisterCommand {
  readonly op: "register";
  /** The server, `ip:port`. */
  readonly server: string;
  readonly ranges: readonly UserRange[];
  /** Registrations in flight at once. Default: 256. */
  readonly window?: number;
}

/** `run` command: one measured closed-loop run. */
export interface RunCommand {
  readonly op: "run";
  readonly server: string;
  /** `register`: PR → RR. `lookup`: PL → RL (answered by the server, or by our callees). */
  readonly scenario: "register" | "lookup";
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** register: the users registered, in turn. */
  readonly users?: UserRange;
  /** lookup: agent `i` is `<prefix><i>@<domain>`. */
  readonly caller?: { readonly prefix: string; readonly domain: string };
  /** lookup: whom agents look up: their own callee (`i % count`) or a random one. */
  readonly callee?: UserRange & { readonly pick: "own" | "random" };
  /** The @sckMI our callees answer with. Default: 127.0.0.1:40000. */
  readonly answer?: string;
  /** Processes whose CPU time to measure over the window. */
  readonly pids?: readonly number[];
  /** A request unanswered this long is counted lost and sent again, in ms. Default: 1 000. */
  readonly timeoutMs?: number;
  /**
   * Meanwhile, one user of this range (at random) registers again every
   * `everyMs`: the trickle of changes a live domain always has (which makes
   * the node save its state file). Their `RR` answers are not measured.
   */
  readonly trickle?: UserRange & { readonly everyMs: number };
}

/** `probe` command: memory and CPU time of a process. */
export interface ProbeCommand {
  readonly op: "probe";
  readonly pid: number;
}

/** What the generator is asked to do. */
export type Command = RegisterCommand | RunCommand | ProbeCommand | { readonly op: "exit" };

/** Answer to `register`. */
export interface RegisterResult {
  /** Answered RR0. */
  readonly registered: number;
  /** Answered something else (RR1: not a user). */
  readonly refused: number;
  /** Sent again after no answer within 1 s. */
  readonly resent: number;
  readonly ms: number;
}

/** Answer to `run`. */
export interface RunResult {
  /** Requests answered within the measured window. */
  readonly requests: number;
  readonly seconds: number;
  /** Requests per second. */
  readonly rate: number;
  /** Latency histogram, see `Histogram.toJSON`. */
  readonly histogram: ReturnType<Histogram["toJSON"]>;
  /** Answers by their first three characters (`RR0`, `RL2`, …), whole run. */
  readonly codes: Record<string, number>;
  /** Look-ups our callees answered. */
  readonly calleeAnswers: number;
  /** Requests given up after `timeoutMs` and sent again. */
  readonly lost: number;
  /** Datagrams that matched no request. */
  readonly unexpected: number;
  /** CPU used over the measured window, in cores (1 = one core busy): this process. */
  readonly cpuSelf: number;
  /** Same, for each of `pids`. */
  readonly cpu: Record<string, number>;
}

/** Answer to `probe`. */
export interface ProbeResult {
  readonly rssBytes: number;
  readonly hwmBytes: number;
  readonly cpuSeconds: number;
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system, all threads) of a process. */
export function cpuSeconds(pid: number): number {
  const stat = readSystemFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Memory and CPU of a process, from /proc. */
export function probe(pid: number): ProbeResult {
  const status = readSystemFile(`/proc/${pid}/status`);
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, "m"))?.[1]);
  return {
    rssBytes: kib("VmRSS") * 1024,
    hwmBytes: kib("VmHWM") * 1024,
    cpuSeconds: cpuSeconds(pid),
  };
}

function parseServer(text: string): number {
  const colon = text.lastIndexOf(":");
  return endpointKey(text.slice(0, colon), Number(text.slice(colon + 1)));
}

const P = 0x50, R = 0x52, L = 0x4c;

/** Throw away datagrams left over from an earlier run (late answers). */
function drain(socket: BatchSocket): void {
  while (socket.receive(1) > 0) { /* discard */ }
}

/** Register users, `window` in flight; answers are counted in order. */
export function register(socket: BatchSocket, command: RegisterCommand): RegisterResult {
  drain(socket);
  const server = parseServer(command.server);
  const names: string[] = [];
  for (const range of command.ranges) {
    for (let i = 0; i < range.count; i++) names.push(`PR${range.prefix}${i}@${range.domain}`);
  }
  const window = command.window ?? 256;
  const start = performance.now();
  let next = 0;
  let oldest = 0; // names[oldest..next) are in flight
  let registered = 0, refused = 0, resent = 0;
  let lastProgress = start;
  while (oldest < names.length) {
    while (next < names.length && next - oldest < window) socket.queueText(names[next++]!, server);
    socket.flush();
    const n = socket.receive(100);
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const d = socket.datagram(i);
      if (d[0] !== R || d[1] !== R) continue;
      if (d[2] === 0x30) registered++;
      else refused++;
      oldest++;
      lastProgress = now;
    }
    if (n === 0 && now - lastProgress > 1000) {
      // Lost on the way: send the oldest window again.
      resent += next - oldest;
      next = oldest;
      lastProgress = now;
      if (resent > names.length + 10_000) {
        throw new Error("registration: the server does not answer");
      }
    }
  }
  return { registered, refused, resent, ms: performance.now() - start };
}

/** One closed-loop run. Blocks the process for its duration. */
export function run(socket: BatchSocket, command: RunCommand): RunResult {
  drain(socket);
  const server = parseServer(command.server);
  const agents = command.concurrency;
  const timeoutMs = command.timeoutMs ?? 1000;
  const answerSuffix = `:${command.answer ?? "127.0.0.1:40000"}`;
  const histogram = new Histogram();
  const codes: Record<string, number> = {};
  const sentAt = new Float64Array(agents);
  const pending = new Uint8Array(agents);
  // register: the order in which agents sent, to match RR answers.
  const order = new Int32Array(agents);
  let orderHead = 0, orderTail = 0, inFlight = 0;
  let counter = 0, requests = 0, calleeAnswers = 0, lost = 0, unexpected = 0;

  let nextRequest: (agent: number) => string;
  let callerPrefixLength = 0;
  if (command.scenario === "register") {
    const users = command.users;
    if (!users) throw new TypeError("register needs users");
    nextRequest = () => `PR${users.prefix}${counter++ % users.count}@${users.domain}`;
  } else {
    const caller = command.caller, callee = command.callee;
    if (!caller || !callee) throw new TypeError("lookup needs caller and callee");
    const heads = Array.from(
      { length: agents },
      (_, i) => `PL${caller.prefix}${i}@${caller.domain}:`,
    );
    const tail = `@${callee.domain}`;
    callerPrefixLength = caller.prefix.length;
    nextRequest = callee.pick === "own"
      ? (i) => `${heads[i]}${callee.prefix}${i % callee.count}${tail}`
      : (i) => `${heads[i]}${callee.prefix}${Math.floor(Math.random() * callee.count)}${tail}`;
  }

  const send = (agent: number, now: number) => {
    socket.queueText(nextRequest(agent), server);
    sentAt[agent] = now;
    pending[agent] = 1;
    inFlight++;
    order[orderTail] = agent;
    orderTail = (orderTail + 1) % agents;
  };

  const pids = command.pids ?? [];
  const start = performance.now();
  const measureFrom = start + command.warmupMs;
  const end = measureFrom + command.durationMs;
  let measuring = false;
  let cpuSelf0 = 0;
  const cpu0: number[] = [];
  let now = performance.now();
  for (let i = 0; i < agents; i++) send(i, now);
  socket.flush();
  let lastCheck = now;
  const trickle = command.trickle;
  let nextTrickle = trickle ? now + trickle.everyMs : Infinity;
  let trickled = 0;

  const complete = (agent: number, now: number, code: string) => {
    pending[agent] = 0;
    inFlight--;
    codes[code] = (codes[code] ?? 0) + 1;
    if (sentAt[agent]! >= measureFrom && now <= end) {
      histogram.record((now - sentAt[agent]!) * 1000);
      requests++;
    }
    if (now < end) send(agent, now);
  };

  while (inFlight > 0) {
    if (!measuring && now >= measureFrom) {
      measuring = true;
      cpuSelf0 = cpuSeconds(Deno.pid);
      for (const pid of pids) cpu0.push(cpuSeconds(pid));
    }
    const n = socket.receive(
      now < end ? Math.max(1, Math.min(100, end - now, nextTrickle - now)) : 100,
    );
    now = performance.now();
    for (let j = 0; j < n; j++) {
      const d = socket.datagram(j);
      if (d.length < 3) {
        unexpected++;
        continue;
      }
      if (d[0] === P && d[1] === L) {
        // A look-up forwarded to one of our callees: answer RL0 with its @sckMI.
        const slot = socket.slot();
        slot[0] = R, slot[1] = L, slot[2] = 0x30;
        slot.set(d.subarray(2), 3);
        let length = d.length + 1;
        for (let k = 0; k < answerSuffix.length; k++) slot[length++] = answerSuffix.charCodeAt(k);
        socket.commit(length, socket.source(j));
        calleeAnswers++;
        continue;
      }
      const code = String.fromCharCode(d[0]!, d[1]!, d[2]!);
      if (d[0] === R && d[1] === R && trickled > 0 && command.scenario === "lookup") {
        trickled--; // the answer to a trickle registration
        continue;
      }
      if (d[0] === R && d[1] === R && command.scenario === "register") {
        if (inFlight === 0) {
          unexpected++;
          continue;
        }
        const agent = order[orderHead]!;
        orderHead = (orderHead + 1) % agents;
        complete(agent, now, code);
        continue;
      }
      if (d[0] === R && d[1] === L && command.scenario === "lookup") {
        // RL<c><prefix><i>@…: the caller's index.
        let agent = 0, k = 3 + callerPrefixLength;
        for (; k < d.length && d[k]! >= 0x30 && d[k]! <= 0x39; k++) {
          agent = agent * 10 + d[k]! - 0x30;
        }
        if (k < d.length && d[k] === 0x40 && agent < agents && pending[agent]) {
          complete(agent, now, code);
          continue;
        }
      }
      unexpected++;
    }
    if (trickle && now >= nextTrickle && now < end) {
      socket.queueText(
        `PR${trickle.prefix}${Math.floor(Math.random() * trickle.count)}@${trickle.domain}`,
        server,
      );
      trickled++;
      nextTrickle += trickle.everyMs;
    }
    if (now - lastCheck >= 50 || n === 0) {
      lastCheck = now;
      if (command.scenario === "register") {
        // Answers come in order: when the oldest is late, everything in flight is lost.
        if (inFlight > 0 && now - sentAt[order[orderHead]!]! > timeoutMs) {
          const stuck: number[] = [];
          while (inFlight > 0) {
            stuck.push(order[orderHead]!);
            orderHead = (orderHead + 1) % agents;
            pending[stuck.at(-1)!] = 0;
            inFlight--;
          }
          lost += stuck.length;
          if (now < end) { for (const agent of stuck) send(agent, now); }
        }
      } else {
        for (let i = 0; i < agents; i++) {
          if (pending[i] && now - sentAt[i]! > timeoutMs) {
            pending[i] = 0;
            inFlight--;
            lost++;
            if (now < end) send(i, now);
          }
        }
      }
    }
    socket.flush();
  }
  const seconds = Math.max(0, Math.min(now, end) - measureFrom) / 1000 || command.durationMs / 1000;
  const cpu: Record<string, number> = {};
  if (!measuring) cpuSelf0 = cpuSeconds(Deno.pid);
  const cpuSelf = (cpuSeconds(Deno.pid) - cpuSelf0) / seconds;
  pids.forEach((pid, i) => {
    try {
      cpu[pid] = (cpuSeconds(pid) - (cpu0[i] ?? cpuSeconds(pid))) / seconds;
    } catch {
      cpu[pid] = NaN;
    }
  });
  return {
    requests,
    seconds,
    rate: requests / seconds,
    histogram: histogram.toJSON(),
    codes,
    calleeAnswers,
    lost,
    unexpected,
    cpuSelf,
    cpu,
  };
}

async function main(): Promise<void> {
  const socket = new BatchSocket("127.0.0.1", 0);
  const encoder = new TextEncoder();
  const answer = (value: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
  answer({ ready: true, local: `127.0.0.1:${socket.local % 65536}` });
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() === "") continue;
      const command = JSON.parse(line) as Command;
      try {
        switch (command.op) {
          case "register":
            answer({ ok: true, result: register(socket, command) });
            break;
          case "run":
            answer({ ok: true, result: run(socket, command) });
            break;
          case "probe":
            answer({ ok: true, result: probe(command.pid) });
            break;
          case "exit":
            socket.close();
            return;
        }
      } catch (error) {
        answer({ ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  socket.close();
}

if (import.meta.main) await main();
