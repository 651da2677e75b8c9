/**
 * What every benchmark shares: child processes (the real node and agent with
 * their tasks' permission flags, the baseline responder, the load generator),
 * scratch directories under `tests/.tmp`, configuration files, and the
 * settings of the run ({@linkcode BenchContext}).
 *
 * @module
 */

import { Child } from "../../tests/support/child.ts";
import { ROOT, taskFlags } from "../../tests/support/task_flags.ts";

export { Child };
import type {
  Command,
  ProbeResult,
  RegisterCommand,
  RegisterResult,
  RunCommand,
  RunResult,
} from "./loadgen.ts";

/** The project root as a path, with a trailing slash. */
export const projectRoot: string = decodeURIComponent(ROOT.pathname);

/** Settings of one `deno task bench` run, given to every benchmark. */
export interface BenchContext {
  /** Tiny sizes and durations: a second or less per benchmark (the smoke test). */
  readonly smoke: boolean;
  /** Measured time of one run of one case, in ms. */
  readonly durationMs: number;
  /** Warm-up before each measured run, in ms. */
  readonly warmupMs: number;
  /** Alternating rounds of baseline and subject; medians are reported. */
  readonly rounds: number;
  /** When set, node processes write V8 CPU profiles (`--cpu-prof`) into this directory. */
  readonly profileDir?: string;
  /** Keep scratch directories (configs, packet logs) for inspection. */
  readonly keep: boolean;
  /** Progress messages (stderr). */
  readonly progress: (message: string) => void;
}

/** Start `deno run <flags> <script> <args>`. */
export function spawnDeno(
  name: string,
  flags: readonly string[],
  script: string,
  args: readonly string[],
  options: { cwd?: string; stdin?: boolean } = {},
): Child {
  const pipedStdin = options.stdin ?? false;
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    cwd: options.cwd ?? projectRoot,
    stdin: pipedStdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  return new Child(name, process, { pipedStdin, waitTimeoutMs: 30_000 });
}

/** A scratch directory under `tests/.tmp`, removed on dispose unless `keep`. */
export async function scratchDir(
  prefix: string,
  keep = false,
): Promise<{ path: string } & AsyncDisposable> {
  const base = `${projectRoot}tests/.tmp`;
  await Deno.mkdir(base, { recursive: true });
  const path = await Deno.makeTempDir({ dir: base, prefix: `bench-${prefix}-` });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      if (!keep) await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The `[limits]` lines of every benchmarked node: no source is exempt from
 * the rate limit unless named, so the load generator's address is named, with
 * a budget far above any rate it reaches — the benchmarks measure the node,
 * not its flood protection.
 */
export const BENCH_LIMITS: readonly string[] = [
  "[limits]",
  "exempt = 127.0.0.1",
  "exempt-limit = 100000000",
];

/**
 * Write `nodelumi.cfg` in the INI form: the domain, {@linkcode BENCH_LIMITS},
 * then one user per line under `[users]`.
 */
export async function writeBenchConfig(
  path: string,
  domain: string,
  ranges: readonly { prefix: string; count: number }[],
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  try {
    await writeAll(
      file,
      encoder.encode([`domain = ${domain}`, ...BENCH_LIMITS, "[users]", ""].join("\n")),
    );
    for (const { prefix, count } of ranges) {
      // In chunks, so a million users never build one huge string.
      for (let from = 0; from < count; from += 50_000) {
        const lines: string[] = [];
        for (let i = from; i < Math.min(count, from + 50_000); i++) lines.push(`${prefix}${i}`);
        await writeAll(file, encoder.encode(lines.join("\n") + "\n"));
      }
    }
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/** A node process and where it listens. */
export interface RunningNode extends AsyncDisposable {
  readonly child: Child;
  /** `ip:port` of its UDP socket. */
  readonly endpoint: string;
  /** From spawning the process to its "listening" line, in ms. */
  readonly startMs: number;
}

/**
 * Start `main_node.ts` in `dir` (which holds its `nodelumi.cfg`) with the
 * `node` task's permission flags, as it ships; `args` are node flags.
 */
export async function startNode(
  context: BenchContext,
  dir: string,
  args: readonly string[],
  name = "node",
): Promise<RunningNode> {
  const flags = [...await taskFlags("node")];
  if (context.profileDir) {
    flags.push(
      "--cpu-prof",
      `--cpu-prof-dir=${context.profileDir}`,
      `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
    );
  }
  const started = performance.now();
  const child = spawnDeno(name, flags, `${projectRoot}main_node.ts`, args, { cwd: dir });
  try {
    const match = await child.waitFor(/listening on (\S+)/, { timeoutMs: 60_000 });
    return {
      child,
      endpoint: match[1]!,
      startMs: performance.now() - started,
      [Symbol.asyncDispose]: async () => void await child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Start the baseline responder. */
export async function startResponder(): Promise<RunningNode> {
  const started = performance.now();
  const child = spawnDeno(
    "baseline responder",
    ["--unstable-net", "--allow-net"],
    `${projectRoot}scripts/bench/baseline_responder.ts`,
    [],
  );
  const match = await child.waitFor(/listening on (\S+)/);
  return {
    child,
    endpoint: match[1]!,
    startMs: performance.now() - started,
    [Symbol.asyncDispose]: async () => void await child.stop(),
  };
}

/** The load generator process (`loadgen.ts`), driven one command at a time. */
export class LoadGen implements AsyncDisposable {
  readonly child: Child;
  /** `ip:port` of its UDP socket (where every simulated agent is). */
  readonly local: string;
  #read = 0;

  private constructor(child: Child, local: string) {
    this.child = child;
    this.local = local;
  }

  /** Start the generator and wait until it is ready. */
  static async start(): Promise<LoadGen> {
    const child = spawnDeno(
      "load generator",
      ["--unstable-net", "--allow-net", "--allow-ffi"],
      `${projectRoot}scripts/bench/loadgen.ts`,
      [],
      { stdin: true },
    );
    const ready = await child.waitFor(/^\{"ready":true/);
    const gen = new LoadGen(child, JSON.parse(ready.input!).local);
    gen.#read = child.lines.length;
    return gen;
  }

  async #command<T>(command: Command): Promise<T> {
    await this.child.write(JSON.stringify(command) + "\n");
    const match = await this.child.waitFor(/^\{"ok":/, { from: this.#read, timeoutMs: 600_000 });
    this.#read = this.child.lines.indexOf(match.input!, this.#read) + 1;
    const answer = JSON.parse(match.input!);
    if (!answer.ok) throw new Error(`load generator: ${answer.error}`);
    return answer.result as T;
  }

  /** Register users (not measured). */
  register(command: Omit<RegisterCommand, "op">): Promise<RegisterResult> {
    return this.#command({ op: "register", ...command });
  }

  /** One measured run. */
  run(command: Omit<RunCommand, "op">): Promise<RunResult> {
    return this.#command({ op: "run", ...command });
  }

  /** Memory and CPU time of a process. */
  probe(pid: number): Promise<ProbeResult> {
    return this.#command({ op: "probe", pid });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.child.write(JSON.stringify({ op: "exit" }) + "\n").catch(() => {});
    await this.child.stop();
  }
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
