/**
 * Start the real programs (node, agent) as child processes for tests, with
 * exactly the permission flags of their `deno task` entries, so what is
 * tested is what ships.
 *
 * @module
 */

import { ROOT, taskFlags } from "../../scripts/task_flags.ts";

export { taskFlags };

/** The project root as a path. */
export const projectRoot: string = decodeURIComponent(ROOT.pathname);

/** A running child process whose output can be awaited line by line. */
export class ChildProcess implements AsyncDisposable {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stderr: string[] = [];
  #waiters: Array<() => void> = [];
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #done: Promise<void>;

  constructor(name: string, process: Deno.ChildProcess, pipedStdin: boolean) {
    this.name = name;
    this.process = process;
    if (pipedStdin) this.#writer = process.stdin.getWriter();
    this.#done = Promise.all([
      this.#pump(process.stdout, this.#lines),
      this.#pump(process.stderr, this.#stderr),
    ]).then(() => {});
    this.status = process.status.then((status) => {
      this.#exited = true;
      this.#wake();
      return status;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop()!;
      // deno-lint-ignore no-control-regex
      for (const part of parts) into.push(part.replace(/\x1b\[[0-9;]*m/g, "").replace(/\r$/, ""));
      this.#wake();
    }
    if (pending !== "") into.push(pending);
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Every stdout line so far (ANSI colours removed). */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Every stderr line so far. */
  get errors(): readonly string[] {
    return this.#stderr;
  }

  /**
   * Wait for a stdout line matching `pattern`, searching from line `from`
   * (default 0). Rejects after `timeoutMs` or if the process exits first,
   * quoting what it printed.
   */
  async waitFor(
    pattern: RegExp,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let index = options.from ?? 0;
    for (;;) {
      for (; index < this.#lines.length; index++) {
        const match = this.#lines[index]!.match(pattern);
        if (match) return match;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#exited) {
        throw new Error(
          `${this.name}: no line matching ${pattern} ${
            this.#exited ? "before it exited" : "in time"
          }.\n` +
            `stdout:\n${this.#lines.join("\n")}\nstderr:\n${this.#stderr.join("\n")}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Write a line to the child's stdin. */
  async send(line: string): Promise<void> {
    if (!this.#writer) throw new Error(`${this.name}: stdin is not piped`);
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Close the child's stdin. */
  async closeStdin(): Promise<void> {
    if (this.#writer) {
      await this.#writer.close().catch(() => {});
      this.#writer = undefined;
    }
  }

  /** Send a signal, if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Wait for exit and for all output to be read. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#done;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.closeStdin();
    await this.exited();
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
  /** More environment variables (NO_COLOR=1 is always set). */
  readonly env?: Record<string, string>;
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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    cwd: options.cwd ?? projectRoot,
    stdin: pipedStdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  return new ChildProcess(options.name ?? program, child, pipedStdin);
}

/** Make a fresh temporary directory inside the project (tests may only write there). */
export async function tempDir(prefix: string): Promise<string> {
  const base = `${projectRoot}tests/.tmp`;
  await Deno.mkdir(base, { recursive: true });
  return await Deno.makeTempDir({ dir: base, prefix });
}
