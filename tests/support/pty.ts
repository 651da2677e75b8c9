/**
 * Run the real agent (or node) on a pseudo-terminal, as a person at a
 * terminal runs it: util-linux `script` gives the program a TTY for stdin
 * and stdout, so the agent uses its raw-mode terminal (prompts without a
 * newline, hidden passwords, Ctrl-C as a key). What the test writes is
 * typed on that terminal; what the program shows is collected as text.
 *
 * @module
 */

import { Child } from "./child.ts";
import { projectRoot, taskFlags, testDataHome } from "./process.ts";

/** Bytes of keys, as a terminal in raw mode sends them. */
export const Keys = { enter: "\r", ctrlC: "\x03", ctrlD: "\x04" } as const;

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

// deno-lint-ignore no-control-regex
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z~]|\x1b\][^\x07]*\x07|\x1b[78]|\x07|\r/g;

/** A program on a pseudo-terminal; dispose kills it. */
export class PtyProgram implements AsyncDisposable {
  readonly child: Child;
  /** Everything shown so far, terminal control sequences (title, bell, cursor) and carriage returns removed. */
  text = "";
  readonly #decoder = new TextDecoder();

  private constructor(child: Child) {
    this.child = child;
    child.onChunk = (bytes) => {
      this.text += this.#decoder.decode(bytes, { stream: true }).replace(ESCAPES, "");
    };
  }

  /** Start `main_<program>.ts` with its task's permissions on a new pseudo-terminal. */
  static async start(
    program: "node" | "agent",
    args: readonly string[],
    options: { cwd: string; env?: Record<string, string>; name?: string },
  ): Promise<PtyProgram> {
    const flags = await taskFlags(program);
    const command = [
      Deno.execPath(),
      "run",
      "--quiet",
      ...flags,
      `${projectRoot}main_${program}.ts`,
      ...args,
    ].map(shellQuote).join(" ");
    // -e: exit with the program's code; -q: no "Script started" lines; /dev/null: no typescript.
    const process = new Deno.Command("script", {
      args: ["-q", "-e", "-c", command, "/dev/null"],
      cwd: options.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        NO_COLOR: "1",
        TERM: "xterm",
        XDG_DATA_HOME: testDataHome(options.cwd, args),
        ...options.env,
      },
    }).spawn();
    return new PtyProgram(
      new Child(options.name ?? `${program} on a terminal`, process, {
        pipedStdin: true,
        killOnDispose: true,
      }),
    );
  }

  /** Type `keys` on the terminal. */
  async type(keys: string): Promise<void> {
    await this.child.write(keys);
  }

  /**
   * Wait until the shown text, from offset `from`, matches `pattern`;
   * resolves with the offset just past the match.
   */
  async waitFor(
    pattern: RegExp,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<number> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      const rest = this.text.slice(options.from ?? 0);
      const match = rest.match(pattern);
      if (match) return (options.from ?? 0) + match.index! + match[0].length;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.child.name}: nothing matching ${pattern} in time.\nshown:\n${this.text}\nstderr:\n${
            this.child.errors.join("\n")
          }`,
        );
      }
      await this.child.changed(Math.min(left, 1_000));
    }
  }

  /** Wait for the exit; the program's exit code (through `script -e`). */
  async exited(): Promise<number> {
    return (await this.child.exited()).code;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.child[Symbol.asyncDispose]();
  }
}
