/**
 * `deno task bench`: the project's speed, each figure beside a baseline
 * measured in the same run (see docs/PERFORMANCE.md).
 *
 * ```sh
 * deno task bench                      # everything (a few minutes)
 * deno task bench --only node          # one benchmark: node, scale, chat, federation, online, relay, redis, mailbox
 * deno task bench --smoke              # a second or so each, for the test suite
 * deno task bench --duration 3000      # ms per measured run (default 1500)
 * deno task bench --markdown out.md    # also write the tables as Markdown
 * deno task bench --profile DIR        # node processes write V8 CPU profiles into DIR
 * ```
 *
 * @module
 */

import { parseArgs } from "#cli";
import { benchChat } from "./bench/chat.ts";
import { benchClusterRedis } from "./bench/cluster_redis.ts";
import { benchFederation } from "./bench/federation.ts";
import type { BenchContext } from "./bench/harness.ts";
import { benchMailbox } from "./bench/mailbox.ts";
import { benchNode } from "./bench/node_throughput.ts";
import { benchOnline } from "./bench/online.ts";
import { benchRelay } from "./bench/relay.ts";
import { benchScale } from "./bench/scale.ts";
import {
  type BenchResult,
  renderMarkdown,
  renderText,
  type Table,
  type TargetCheck,
  targetTable,
} from "./bench/table.ts";

/** The benchmarks, by the name `--only` takes. */
export const BENCHMARKS = {
  node: benchNode,
  scale: benchScale,
  chat: benchChat,
  federation: benchFederation,
  online: benchOnline,
  relay: benchRelay,
  redis: benchClusterRedis,
  mailbox: benchMailbox,
} satisfies Record<string, (context: BenchContext) => Promise<BenchResult>>;

/** A benchmark's name. */
export type BenchName = keyof typeof BENCHMARKS;

function isBenchName(name: string): name is BenchName {
  return Object.hasOwn(BENCHMARKS, name);
}

const USAGE = `Usage: deno task bench [--only NAME[,NAME]] [--smoke] [--duration MS] [--rounds N]
                       [--markdown FILE] [--json FILE] [--profile DIR] [--keep]

Benchmarks: ${Object.keys(BENCHMARKS).join(", ")} (default: all).
  --smoke          tiny sizes and durations (about a second per benchmark)
  --duration MS    measured time of each run (default 1500; smoke 30)
  --rounds N       alternating rounds of baseline and node per case (default 3; smoke 1)
  --markdown FILE  write the tables as Markdown too
  --json FILE      write the raw figures as JSON
  --profile DIR    node processes write V8 CPU profiles (--cpu-prof) into DIR
  --keep           keep the scratch directories under tests/.tmp`;

/** Options of {@linkcode runBenchmarks}. */
export interface RunOptions {
  /** Benchmark names. Default: all. */
  readonly only?: readonly string[];
  readonly smoke?: boolean;
  readonly durationMs?: number;
  readonly rounds?: number;
  readonly profileDir?: string;
  readonly keep?: boolean;
  /** Progress lines. Default: stderr. */
  readonly progress?: (message: string) => void;
}

/** What {@linkcode runBenchmarks} returns: every table and target, and each benchmark's raw figures. */
export interface BenchReport {
  readonly tables: Table[];
  readonly targets: TargetCheck[];
  readonly data: Record<string, Record<string, unknown>>;
  /** Wall time of each benchmark, in ms. */
  readonly elapsedMs: Record<string, number>;
}

/** Run the chosen benchmarks one after the other. */
export async function runBenchmarks(options: RunOptions = {}): Promise<BenchReport> {
  const names = options.only ?? Object.keys(BENCHMARKS);
  for (const name of names) {
    if (!isBenchName(name)) {
      throw new RangeError(
        `unknown benchmark "${name}" (known: ${Object.keys(BENCHMARKS).join(", ")})`,
      );
    }
  }
  const smoke = options.smoke ?? false;
  const durationMs = options.durationMs ?? (smoke ? 30 : 1_500);
  const context: BenchContext = {
    smoke,
    durationMs,
    warmupMs: smoke ? 10 : Math.min(500, Math.max(100, durationMs / 5)),
    rounds: options.rounds ?? (smoke ? 1 : 3),
    keep: options.keep ?? false,
    progress: options.progress ?? ((message) => console.error(`… ${message}`)),
    ...(options.profileDir && { profileDir: options.profileDir }),
  };
  const report: BenchReport = { tables: [], targets: [], data: {}, elapsedMs: {} };
  for (const name of names) {
    const started = performance.now();
    const result = await BENCHMARKS[name as BenchName](context);
    report.elapsedMs[name] = performance.now() - started;
    report.tables.push(...result.tables);
    report.targets.push(...result.targets);
    report.data[name] = result.data;
  }
  return report;
}

/** The machine, as recorded beside the results. */
export async function describeMachine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    const cpuinfo = await new Deno.Command("cat", { args: ["/proc/cpuinfo"], stdout: "piped" })
      .output();
    cpu = new TextDecoder().decode(cpuinfo.stdout).match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  let cores = String(navigator.hardwareConcurrency);
  try {
    const nproc = await new Deno.Command("nproc", { stdout: "piped" }).output();
    cores = new TextDecoder().decode(nproc.stdout).trim();
  } catch {
    // no nproc
  }
  let load = "";
  try {
    const loadavg = await new Deno.Command("cat", { args: ["/proc/loadavg"], stdout: "piped" })
      .output();
    load = `, load average at start ${
      new TextDecoder().decode(loadavg.stdout).split(" ").slice(0, 3).join(" ")
    }`;
  } catch {
    // not Linux
  }
  return `${cores} cores (nproc), ${cpu}, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})${load}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      only: { type: "string" },
      smoke: { type: "boolean" },
      duration: { type: "string" },
      rounds: { type: "string" },
      markdown: { type: "string" },
      json: { type: "string" },
      profile: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const number = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!(Number.isInteger(n) && n > 0)) {
      throw new RangeError(`--${flag} must be a positive whole number`);
    }
    return n;
  };
  const profileDir = values.profile === undefined
    ? undefined
    : values.profile.startsWith("/")
    ? values.profile
    : `${Deno.cwd()}/${values.profile}`;
  if (profileDir) await Deno.mkdir(profileDir, { recursive: true });
  const machine = await describeMachine();
  const started = new Date();
  const report = await runBenchmarks({
    ...(values.only && { only: String(values.only).split(",").map((s: string) => s.trim()) }),
    smoke: values.smoke ?? false,
    ...(values.duration && { durationMs: number("duration", values.duration) }),
    ...(values.rounds && { rounds: number("rounds", values.rounds) }),
    ...(profileDir && { profileDir }),
    keep: values.keep ?? false,
  });
  const command = `deno task bench ${Deno.args.join(" ")}`.trim();
  const header =
    `LUMI benchmarks, ${started.toISOString()}\nMachine: ${machine}\nCommand: ${command}`;
  const tables = [...report.tables, targetTable(report.targets)];
  console.log(`\n${header}\n\n${tables.map(renderText).join("\n\n")}`);
  if (values.markdown) {
    await Deno.writeTextFile(
      values.markdown,
      `${header.split("\n").map((l) => `${l}  `).join("\n")}\n\n${
        tables.map(renderMarkdown).join("\n\n")
      }\n`,
    );
  }
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ machine, command, started, ...report }, null, 2) + "\n",
    );
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    if (error instanceof RangeError || (error instanceof TypeError && "code" in error)) {
      console.error(`${error.message}\n\n${USAGE}`);
      Deno.exit(64);
    }
    throw error;
  }
}
