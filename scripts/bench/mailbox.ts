/**
 * Offline messages (`deno task bench --only mailbox`), each figure beside a
 * baseline of the same run:
 *
 * - **Deposit rate**: one socket keeps 64 one-part deposits (`PM`, 200 bytes
 *   of sealed data each, for 100 recipients, from another domain's sender)
 *   in flight; each `RM0` means the message is committed to disk. Baseline:
 *   the same window of plain look-ups for unknown users (`PL` → `RL2`).
 * - **Delivery after log-in**: 1,000 sealed messages wait for `joan`; a real
 *   agent process logs in, fetches, opens, shows and acknowledges them all.
 *   Measured from its "Registered" line to its 1,000th offline line.
 *   Baseline: 1,000 look-ups one after the other (what 1,000 round trips to
 *   the node cost here: the fetch takes one per message).
 *
 * @module
 */

import { toBase64Url } from "../../lib/auth.ts";
import { keyFromText } from "../../lib/crypto/identity.ts";
import { generateKeyPair } from "../../lib/crypto/noise.ts";
import { newMessageId, seal } from "../../lib/crypto/sealed.ts";
import { AccountStore } from "../../lib/node/store.ts";
import { createCredentials } from "../../lib/auth.ts";
import { type Endpoint, parseEndpoint } from "../../lib/plumi/address.ts";
import { formatPlumi } from "../../lib/plumi/codec.ts";
import { DepositExt, KeyExt } from "../../lib/plumi/extensions/mod.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { taskFlags } from "../../tests/support/task_flags.ts";
import {
  BENCH_LIMITS,
  type BenchContext,
  Child,
  projectRoot,
  scratchDir,
  startNode,
} from "./harness.ts";
import { formatRate, median } from "./stats.ts";
import type { BenchResult, TargetCheck } from "./table.ts";

const DOMAIN = "mail.test";
const RECIPIENTS = 100;
const WINDOW = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One socket with a window of requests in flight: answers counted as they come. */
class Window implements AsyncDisposable {
  readonly #socket: DatagramSocket;
  readonly #pump: Promise<void>;
  #onAnswer: (text: string) => void = () => {};

  constructor() {
    this.#socket = bindUdp({ ip: "127.0.0.1", port: 0 });
    const socket = this.#socket;
    this.#pump = (async () => {
      for (;;) {
        const d = await socket.receive();
        if (!d) return;
        this.#onAnswer(decoder.decode(d.bytes));
      }
    })();
  }

  /**
   * Send `next(i)` for i = 0, 1, … keeping `window` unanswered, for `ms` or
   * until `count` answered; answers that `good` accepts are counted. A lost
   * datagram's slot is given back after 200 ms of silence.
   */
  async run(
    node: Endpoint,
    next: (i: number) => string,
    good: (text: string) => boolean,
    options: { window: number; ms?: number; count?: number },
  ): Promise<{ answered: number; good: number; seconds: number }> {
    let sent = 0;
    let answered = 0;
    let ok = 0;
    let wake: () => void = () => {};
    this.#onAnswer = (text) => {
      answered++;
      if (good(text)) ok++;
      wake();
    };
    const started = performance.now();
    const until = started + (options.ms ?? 60_000);
    const count = options.count ?? Infinity;
    while (performance.now() < until && answered < count) {
      while (sent - answered < options.window && sent < count) {
        await this.#socket.send(encoder.encode(next(sent++)), node);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
      if (sent - answered >= options.window) {
        answered = Math.max(answered, sent - options.window + 1);
      }
    }
    this.#onAnswer = () => {};
    return { answered, good: ok, seconds: (performance.now() - started) / 1000 };
  }

  /** One request, its answer. */
  async ask(node: Endpoint, text: string): Promise<string> {
    const answer = new Promise<string>((resolve) => this.#onAnswer = resolve);
    await this.#socket.send(encoder.encode(text), node);
    return await answer;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#pump;
  }
}

/** A real agent of `joan`; resolves with the process once it is started. */
async function startJoan(dir: string, node: string): Promise<Child> {
  const flags = await taskFlags("agent");
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...flags,
      `${projectRoot}main_agent.ts`,
      "--address",
      `joan@${DOMAIN}`,
      "--nick",
      "joan",
      "--node",
      node,
      "--no-log",
    ],
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", XDG_DATA_HOME: `${dir}/data`, LUMI_PASSWORD: "joan-pw" },
  }).spawn();
  return new Child("agent joan", process, { pipedStdin: true, waitTimeoutMs: 60_000 });
}

/** Offline messages: deposit rate and delivery after log-in, each beside its baseline. */
export async function benchMailbox(context: BenchContext): Promise<BenchResult> {
  const count = context.smoke ? 50 : 1_000;
  await using dir = await scratchDir("mailbox", context.keep);
  const users = ["joan", ...Array.from({ length: RECIPIENTS }, (_, i) => `r${i}`)];
  await Deno.writeTextFile(
    `${dir.path}/nodelumi.cfg`,
    [
      `domain = ${DOMAIN}`,
      "log = off",
      "state = off",
      ...BENCH_LIMITS,
      "[mailbox]",
      "max-messages = 10000000",
      "max-bytes = 1099511627776",
      "max-per-sender = 10000000",
      "max-bytes-per-sender = 1099511627776",
      "[users]",
      ...users,
      "",
    ].join("\n"),
  );
  {
    using store = AccountStore.open(`${dir.path}/nodelumi-${DOMAIN}.db`);
    store.setPassword("joan", await createCredentials("joan-pw", 1_000));
  }
  context.progress("mailbox: starting a node");
  await using node = await startNode(context, dir.path, ["--listen", "127.0.0.1:0"], "mailbox");
  const parsed = parseEndpoint(node.endpoint);
  if (!parsed.ok) throw new Error(`node endpoint ${node.endpoint}`);
  const at = parsed.value;
  await using link = new Window();

  // Deposit rate, beside plain look-ups, alternating rounds.
  const data = toBase64Url(crypto.getRandomValues(new Uint8Array(200)));
  const deposit = (i: number) =>
    formatPlumi(DepositExt.encodeRequest({
      recipient: `r${i % RECIPIENTS}@${DOMAIN}`,
      sender: "pere@other.test",
      id: newMessageId(),
      part: { part: 1, parts: 1 },
      data,
    }));
  const lookup = (i: number) => `PLr${i % RECIPIENTS}@${DOMAIN}:nobody${i % 1000}@${DOMAIN}`;
  const depositRates: number[] = [];
  const lookupRates: number[] = [];
  for (let round = 0; round < context.rounds; round++) {
    context.progress(`mailbox: deposit rate, round ${round + 1} of ${context.rounds}`);
    const base = await link.run(at, lookup, (t) => t.startsWith("RL2"), {
      window: WINDOW,
      ms: context.durationMs,
    });
    lookupRates.push(base.good / base.seconds);
    const stored = await link.run(at, deposit, (t) => t.startsWith("RM0"), {
      window: WINDOW,
      ms: context.durationMs,
    });
    depositRates.push(stored.good / stored.seconds);
  }

  // Delivery after log-in: joan logs in once (its key is bound), leaves; messages wait; it comes back.
  context.progress("mailbox: publishing joan's key");
  const first = await startJoan(dir.path, node.endpoint);
  await first.waitFor(/vouches for your identity key/);
  await first.write("/quit\n");
  await first.status;
  const keyText =
    (await link.ask(at, formatPlumi(KeyExt.encodeRequest({ address: `joan@${DOMAIN}` }))))
      .match(/^RW0;ik=(\S+)$/)?.[1];
  const joanKey = keyText && keyFromText(keyText);
  if (!joanKey) throw new Error("the node vouches for no key of joan");
  context.progress(`mailbox: leaving ${count} messages for joan`);
  const sender = generateKeyPair();
  const packets: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = newMessageId();
    const sealed = await seal(sender, joanKey, `joan@${DOMAIN}`, {
      kind: "text",
      id,
      sent: Date.now(),
      from: "pere@other.test",
      text: `offline line ${i} of the benchmark, about as long as a chat line`,
    });
    packets.push(formatPlumi(DepositExt.encodeRequest({
      recipient: `joan@${DOMAIN}`,
      sender: "pere@other.test",
      id,
      part: { part: 1, parts: 1 },
      data: toBase64Url(sealed),
    })));
  }
  const left = await link.run(at, (i) => packets[i]!, (t) => t.startsWith("RM0"), {
    window: WINDOW,
    count,
  });
  const rtt = await link.run(at, lookup, (t) => t.startsWith("RL2"), { window: 1, count });
  context.progress("mailbox: joan logs in");
  const joan = await startJoan(dir.path, node.endpoint);
  let delivery = NaN;
  try {
    await joan.waitFor(/^Registered joan@/);
    const loggedIn = performance.now();
    const deadline = loggedIn + 60_000;
    let shown = 0;
    let scanned = 0;
    while (shown < left.good && performance.now() < deadline) {
      for (; scanned < joan.lines.length; scanned++) {
        if (joan.lines[scanned]!.startsWith("[offline]")) shown++;
      }
      if (shown < left.good) await new Promise((r) => setTimeout(r, 2));
    }
    delivery = shown >= left.good ? (performance.now() - loggedIn) / 1000 : NaN;
    await joan.write("/quit\n");
    await joan.status;
  } finally {
    await joan.stop();
  }

  const depositRate = median(depositRates);
  const lookupRate = median(lookupRates);
  const table = {
    title: "Offline messages (one node, one socket)",
    columns: ["measure", "offline messages", "baseline (same run)"],
    rows: [
      [
        `deposits per second (window ${WINDOW}, committed before RM0)`,
        `${formatRate(depositRate)}/s`,
        `${formatRate(lookupRate)}/s look-ups (PL → RL2)`,
      ],
      [
        `${left.good} messages delivered after log-in (real agent)`,
        `${delivery.toFixed(2)} s`,
        `${rtt.seconds.toFixed(2)} s for ${count} look-ups one after the other`,
      ],
    ],
    notes: [`${left.good} of ${count} left; ${rtt.good} look-ups answered`],
  };
  const targets: TargetCheck[] = [
    {
      target: "a node accepts at least 2,000 stored messages per second",
      measured: `${formatRate(depositRate)}/s (look-ups ${formatRate(lookupRate)}/s)`,
      met: depositRate >= 2_000,
    },
    {
      target: "1,000 messages left for one user are delivered within 2 s of its log-in",
      measured: `${delivery.toFixed(2)} s for ${left.good}`,
      met: delivery <= 2 && left.good >= count,
    },
  ];
  return {
    tables: [table],
    targets: context.smoke ? [] : targets,
    data: {
      depositRate,
      lookupRate,
      deliverySeconds: delivery,
      left: left.good,
      rttSeconds: rtt.seconds,
    },
  };
}
