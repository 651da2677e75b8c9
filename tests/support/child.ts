/**
 * A child process whose output can be awaited line by line: what the tests
 * and the benchmarks use to drive the real node and agent processes.
 *
 * @module
 */

/** Options of {@linkcode Child}. */
export interface ChildOptions {
  /** Pipe stdin (write with `write`/`send`). Default: false. */
  readonly pipedStdin?: boolean;
  /** Default time {@linkcode Child.waitFor} waits, in ms. Default: 10 000. */
  readonly waitTimeoutMs?: number;
  /**
   * On dispose, kill at once with SIGKILL (tests), rather than SIGTERM and a
   * grace time (benchmarks, which want the node's clean shutdown). Default: false.
   */
  readonly killOnDispose?: boolean;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** A running child process with its stdout read line by line. */
export class Child implements AsyncDisposable {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  /** Stdout lines so far, ANSI colours removed (none kept in raw mode). */
  readonly lines: string[] = [];
  /** Stderr lines so far. */
  readonly errors: string[] = [];
  /** Called with every stdout chunk, before it is split into lines. */
  onChunk: ((bytes: Uint8Array) => void) | undefined;
  /** Stop collecting stdout lines (the process prints too much to keep). */
  raw = false;
  readonly status: Promise<Deno.CommandStatus>;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #waiters: Array<() => void> = [];
  #exited = false;
  readonly #pumps: Promise<void>;
  readonly #waitTimeoutMs: number;
  readonly #killOnDispose: boolean;

  constructor(name: string, process: Deno.ChildProcess, options: ChildOptions = {}) {
    this.name = name;
    this.process = process;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 10_000;
    this.#killOnDispose = options.killOnDispose ?? false;
    if (options.pipedStdin) this.#writer = process.stdin.getWriter();
    this.#pumps = Promise.all([
      this.#pump(process.stdout, this.lines, true),
      this.#pump(process.stderr, this.errors, false),
    ]).then(() => {});
    this.status = process.status.then((status) => {
      this.#exited = true;
      this.#wake();
      return status;
    });
  }

  /** The process id. */
  get pid(): number {
    return this.process.pid;
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: string[], stdout: boolean): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      if (stdout) this.onChunk?.(chunk);
      if (stdout && this.raw) continue;
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const part of parts) into.push(part.replace(ANSI, "").replace(/\r$/, ""));
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

  /**
   * Wait for a stdout line matching `pattern`, searching from line `from`
   * (default 0). Rejects after `timeoutMs` or if the process exits first,
   * quoting what it printed.
   */
  async waitFor(
    pattern: RegExp,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + (options.timeoutMs ?? this.#waitTimeoutMs);
    let index = options.from ?? 0;
    for (;;) {
      for (; index < this.lines.length; index++) {
        const match = this.lines[index]!.match(pattern);
        if (match) return match;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#exited) {
        throw new Error(
          `${this.name}: no line matching ${pattern} ${
            this.#exited ? "before it exited" : "in time"
          }.\nstdout:\n${this.lines.slice(-200).join("\n")}\nstderr:\n${this.errors.join("\n")}`,
        );
      }
      await this.changed(left);
    }
  }

  /** Resolve when more output arrives or the process exits, or after `timeoutMs`. */
  async changed(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /** Write to stdin. */
  async write(text: string | Uint8Array): Promise<void> {
    if (!this.#writer) throw new Error(`${this.name}: stdin is not piped`);
    await this.#writer.write(typeof text === "string" ? new TextEncoder().encode(text) : text);
  }

  /** Write one line to stdin. */
  send(line: string): Promise<void> {
    return this.write(`${line}\n`);
  }

  /** Close stdin. */
  async closeStdin(): Promise<void> {
    if (!this.#writer) return;
    const writer = this.#writer;
    this.#writer = undefined;
    await writer.close().catch(() => {});
  }

  /** Send a signal if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Wait for the exit and for all output to be read. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#pumps;
    return status;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; waits for the output. */
  async stop(graceMs = 5_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const status = await this.status;
    clearTimeout(timer);
    await this.closeStdin();
    await this.#pumps;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#killOnDispose) {
      await this.stop();
      return;
    }
    this.kill("SIGKILL");
    await this.closeStdin();
    await this.exited();
  }
}
