/**
 * Start the real programs (node, agent) as child processes for tests, with
 * exactly the permission flags of their `deno task` entries, so what is
 * tested is what ships.
 *
 * @module
 */

import { Child } from "./child.ts";
import { ROOT, taskFlags } from "./task_flags.ts";

export { taskFlags };

/** The project root as a path. */
export const projectRoot: string = decodeURIComponent(ROOT.pathname);

/**
 * A running child process whose output can be awaited line by line; on
 * dispose it is killed at once (SIGKILL).
 */
export class ChildProcess extends Child {
  constructor(name: string, process: Deno.ChildProcess, pipedStdin: boolean) {
    super(name, process, { pipedStdin, killOnDispose: true });
  }
}

/** Options of {@linkcode startProgram}. */
export interface StartOptions {
  /** Name used in failure messages. */
  readonly name?: string;
  /** Working directory. Default: the project root. */
  readonly cwd?: string;
  /** Pipe stdin (default true); otherwise it is closed (`null`). */
  readonly stdin?: boolean;
  /** More environment variables (NO_COLOR=1 is always set; XDG_DATA_HOME: {@linkcode testDataHome}). */
  readonly env?: Record<string, string>;
  /** A command that runs the program, e.g. `["ip", "netns", "exec", "home"]`. Default: none. */
  readonly wrap?: readonly string[];
}

/** Start `main_node.ts` or `main_agent.ts` with its task's permission flags. */
export async function startProgram(
  program: "node" | "agent",
  args: string[],
  options: StartOptions = {},
): Promise<ChildProcess> {
  const flags = await taskFlags(program);
  const script = `${projectRoot}main_${program}.ts`;
  const pipedStdin = options.stdin ?? true;
  const argv = [Deno.execPath(), "run", "--quiet", ...flags, script, ...args];
  const [command, ...rest] = [...options.wrap ?? [], ...argv];
  const child = new Deno.Command(command!, {
    args: rest,
    cwd: options.cwd ?? projectRoot,
    stdin: pipedStdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", XDG_DATA_HOME: testDataHome(options.cwd, args), ...options.env },
  }).spawn();
  return new ChildProcess(options.name ?? program, child, pipedStdin);
}

/**
 * `XDG_DATA_HOME` for a program started by a test: an agent's data folder (profile, logs) in the
 * test's folder, one per identity (`<cwd>/data/<address>`: its files are then in
 * `<cwd>/data/<address>/lumi/`), never the user's home.
 */
export function testDataHome(cwd: string | undefined, args: readonly string[]): string {
  const at = args.indexOf("--address");
  const who = at >= 0 ? args[at + 1] ?? "agent" : "agent";
  return `${cwd ?? `${projectRoot}tests/.tmp`}/data/${who.replace(/[\/\\]/g, "_")}`;
}

/** The directories {@linkcode tempDir} made in this test module (one isolate each). */
const made = new Set<string>();

/** Remove them when the module unloads, its tests done, failed or passed (unload runs sync). */
globalThis.addEventListener("unload", () => {
  for (const dir of made) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Removed by the test itself already.
    }
  }
});

/**
 * Make a fresh temporary directory inside the project (tests may only write
 * there). It is removed with everything in it when the test module unloads.
 */
export async function tempDir(prefix: string): Promise<string> {
  const base = `${projectRoot}tests/.tmp`;
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base, prefix });
  made.add(dir);
  return dir;
}
