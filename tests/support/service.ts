/**
 * A node run as a service for the tests of issue 17: a real `main_node.ts`
 * process with stdin closed, administered through `main_node.ts ctl` (a
 * second process, as an operator's shell or script runs it).
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { type ChildProcess, projectRoot, startProgram, taskFlags } from "./process.ts";

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) \((.*)\)$/;

/** A node process started with stdin closed, in a folder of its own. */
export class ServiceNode implements AsyncDisposable {
  readonly child: ChildProcess;
  /** Its UDP address. */
  readonly at: Endpoint;
  /** The folder it runs in. */
  readonly dir: string;

  private constructor(child: ChildProcess, dir: string, match: RegExpMatchArray) {
    this.child = child;
    this.dir = dir;
    this.at = { ip: match[2]!, port: Number(match[3]) };
  }

  /** Start `main_node.ts` in `dir` with `args`, stdin closed; wait until it listens. */
  static async start(dir: string, args: readonly string[] = []): Promise<ServiceNode> {
    const child = await startProgram("node", [...args], {
      cwd: dir,
      stdin: false,
      name: `service node in ${dir}`,
    });
    try {
      return new ServiceNode(child, dir, await child.waitFor(LISTENING, { timeoutMs: 20_000 }));
    } catch (error) {
      await child[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Wait for a stdout line matching `pattern`, from line `from`. */
  line(pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.child.waitFor(pattern, { from, timeoutMs });
  }

  /** `ctl` in this node's folder. */
  ctl(...args: string[]): Promise<CtlResult> {
    return ctl(this.dir, args);
  }

  /** The parsed `--json` answer of a ctl command that must succeed. */
  async json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const result = await ctl(this.dir, ["--json", ...args]);
    if (result.code !== 0) throw new Error(`ctl ${args.join(" ")}: ${JSON.stringify(result)}`);
    return JSON.parse(result.stdout) as T;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.child[Symbol.asyncDispose]();
  }
}

/** What a `ctl` run printed, and its exit code. */
export interface CtlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `main_node.ts ctl args…` in `dir`, stdin closed, with the node task's flags. */
export async function ctl(dir: string, args: readonly string[]): Promise<CtlResult> {
  return await runNodeProgram(dir, ["ctl", ...args]);
}

/** Run `main_node.ts args…` in `dir` to its end, stdin closed. */
export async function runNodeProgram(dir: string, args: readonly string[]): Promise<CtlResult> {
  const flags = await taskFlags("node");
  return await runToEnd(
    Deno.execPath(),
    ["run", "--quiet", ...flags, `${projectRoot}main_node.ts`, ...args],
    dir,
  );
}

/** Run `command args…` in `cwd` to its end, stdin closed, no colours; its exit code and output. */
export async function runToEnd(
  command: string,
  args: readonly string[],
  cwd: string,
): Promise<CtlResult> {
  const output = await new Deno.Command(command, {
    args: [...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout).trimEnd(),
    stderr: decoder.decode(output.stderr).trimEnd(),
  };
}
