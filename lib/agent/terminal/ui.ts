/**
 * The agent's terminal. Two implementations of {@linkcode AgentUi}:
 * {@linkcode TerminalUi} for a person at a TTY (raw mode; a message arriving
 * while they type clears the prompt line, prints, and redraws what they had
 * typed) and {@linkcode PlainUi} for piped input and output (plain lines, no
 * ANSI codes, suitable for scripts and tests).
 *
 * @module
 */

import { LineEditor } from "./line_editor.ts";
import { BoundedOutput } from "./output.ts";

/** Colours for statuses: good (online), warn (busy), bad (errors), dim (offline, unknown). */
export type Tone = "good" | "warn" | "bad" | "dim";

const TONES: Record<Tone, string> = { good: "32", warn: "33", bad: "31", dim: "90" };

/** What the agent needs from its terminal. */
export interface AgentUi {
  /** Whether a person is typing (questions may be asked; failures may be retried). */
  readonly interactive: boolean;
  /** Print an information line. */
  info(text: string): void;
  /** Print a problem. */
  warn(text: string): void;
  /**
   * Print a line of a conversation as `<nick>: <text>`, or as
   * `[<context>] <nick>: <text>` when `context` (the conversation's or
   * group's label) is given.
   */
  chat(nick: string, text: string, context?: string): void;
  /** Set the prompt shown while typing (terminals only). */
  setPrompt(prompt: string): void;
  /** The next line typed; `null` when the input has ended. */
  readLine(): Promise<string | null>;
  /** Show `question` and read the answer; `null` when the input has ended. */
  ask(question: string): Promise<string | null>;
  /** Like {@linkcode AgentUi.ask}, but what is typed is not shown (passwords). Default: `ask`. */
  askSecret?(question: string): Promise<string | null>;
  /** `text` in the colour of `tone` where the terminal shows colours. Default: plain text. */
  tint?(text: string, tone: Tone): string;
  /** Called when the user presses Ctrl-C in raw mode (where no SIGINT is raised). */
  onInterrupt: () => void;
  /** Restore the terminal. */
  close(): void;
  /** Wait until what was printed is out, or `timeoutMs` passes (before exiting). Default: at once. */
  flush?(timeoutMs: number): Promise<void>;
}

/**
 * Make untrusted text (a peer's line or nickname) safe to print: control
 * characters, which could move the cursor or recolour the terminal, are
 * shown as `\xNN`.
 */
export function sanitize(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** Splits a byte stream into text lines (LF or CRLF). */
async function* textLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of input) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}

/** Options of {@linkcode PlainUi}. */
export interface PlainUiOptions {
  /** Where typed lines come from; `null` for no input at all. */
  readonly input: ReadableStream<Uint8Array> | null;
  /** Write text out (already ends with a newline when it is a whole line). */
  readonly write: (text: string) => void;
  /** Whether a person types (stdin is a TTY but stdout is not). Default: false. */
  readonly interactive?: boolean;
  /** Wait until what was written is out, or `timeoutMs` passes. Default: nothing to wait for. */
  readonly flush?: (timeoutMs: number) => Promise<void>;
}

/** Plain lines in, plain lines out: no prompt, no colour, no cursor movement. */
export class PlainUi implements AgentUi {
  readonly interactive: boolean;
  onInterrupt: () => void = () => {};
  readonly #write: (text: string) => void;
  readonly #flush: ((timeoutMs: number) => Promise<void>) | undefined;
  readonly #lines: AsyncGenerator<string> | undefined;

  constructor(options: PlainUiOptions) {
    this.interactive = options.interactive ?? false;
    this.#write = options.write;
    this.#flush = options.flush;
    this.#lines = options.input ? textLines(options.input) : undefined;
  }

  info(text: string): void {
    this.#write(`${text}\n`);
  }

  warn(text: string): void {
    this.#write(`${text}\n`);
  }

  chat(nick: string, text: string, context?: string): void {
    const where = context === undefined ? "" : `[${sanitize(context)}] `;
    this.#write(`${where}${sanitize(nick)}: ${sanitize(text)}\n`);
  }

  setPrompt(_prompt: string): void {}

  async readLine(): Promise<string | null> {
    if (!this.#lines) return null;
    const next = await this.#lines.next();
    return next.done ? null : next.value;
  }

  async ask(question: string): Promise<string | null> {
    this.#write(question);
    return await this.readLine();
  }

  close(): void {}

  async flush(timeoutMs: number): Promise<void> {
    await this.#flush?.(timeoutMs);
  }
}

/** The raw terminal a {@linkcode TerminalUi} drives. */
export interface RawTerminal {
  /** Switch raw mode on or off. */
  setRaw(raw: boolean): void;
  /** Raw keystrokes. */
  readonly input: ReadableStream<Uint8Array>;
  /** Write bytes out in full. */
  write(text: string): void;
  /** Terminal width in columns. */
  columns(): number;
  /** Whether colours may be used (NO_COLOR unset). */
  readonly color: boolean;
  /** Wait until what was written is out, or `timeoutMs` passes. Default: nothing to wait for. */
  flush?(timeoutMs: number): Promise<void>;
}

const CLEAR_LINE = "\r\x1b[K";

/** A terminal in raw mode with a prompt that survives incoming messages. */
export class TerminalUi implements AgentUi {
  readonly interactive = true;
  onInterrupt: () => void = () => {};
  readonly #terminal: RawTerminal;
  readonly #editor = new LineEditor();
  #prompt = "> ";
  #lines: string[] = [];
  #waiters: Array<(line: string | null) => void> = [];
  #ended = false;
  #raw = false;
  /** Typing a secret: echo stars, keep it out of the transcript. */
  #secret = false;

  constructor(terminal: RawTerminal) {
    this.#terminal = terminal;
    terminal.setRaw(true);
    this.#raw = true;
    void this.#pump();
  }

  info(text: string): void {
    this.#print(text);
  }

  warn(text: string): void {
    this.#print(this.#paint("33", text));
  }

  chat(nick: string, text: string, context?: string): void {
    const where = context === undefined ? "" : `${this.#paint("35", `[${sanitize(context)}]`)} `;
    this.#print(`${where}${this.#paint("1;36", sanitize(nick))}: ${sanitize(text)}`);
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#redraw();
  }

  readLine(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(null);
    this.#redraw();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async ask(question: string): Promise<string | null> {
    const saved = this.#prompt;
    this.#prompt = question;
    try {
      return await this.readLine();
    } finally {
      this.#prompt = saved;
    }
  }

  async askSecret(question: string): Promise<string | null> {
    this.#secret = true;
    try {
      return await this.ask(question);
    } finally {
      this.#secret = false;
    }
  }

  tint(text: string, tone: Tone): string {
    return this.#paint(TONES[tone], text);
  }

  async flush(timeoutMs: number): Promise<void> {
    await this.#terminal.flush?.(timeoutMs);
  }

  close(): void {
    if (!this.#raw) return;
    this.#raw = false;
    this.#terminal.write(CLEAR_LINE);
    try {
      this.#terminal.setRaw(false);
    } catch {
      // the terminal is gone
    }
  }

  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.#terminal.input) {
        for (const event of this.#editor.push(chunk)) {
          if (event.kind === "line") {
            // Keep what was typed on screen, as a transcript.
            const shown = this.#secret ? "*".repeat([...event.text].length) : event.text;
            this.#terminal.write(`${CLEAR_LINE}${this.#prompt}${shown}\r\n`);
            this.#deliver(event.text);
          } else if (event.kind === "interrupt") {
            this.#terminal.write("^C\r\n");
            this.onInterrupt();
          } else {
            this.#end();
            return;
          }
        }
        this.#redraw();
      }
    } catch {
      // input closed
    }
    this.#end();
  }

  #deliver(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(line);
    else this.#lines.push(line);
  }

  #end(): void {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  #print(text: string): void {
    if (!this.#raw) {
      this.#terminal.write(`${text}\n`);
      return;
    }
    this.#terminal.write(`${CLEAR_LINE}${text.replaceAll("\n", "\r\n")}\r\n`);
    this.#redraw();
  }

  #redraw(): void {
    if (!this.#raw || this.#ended) return;
    const room = Math.max(10, this.#terminal.columns() - [...this.#prompt].length - 1);
    const chars = this.#secret
      ? [..."*".repeat([...this.#editor.text].length)]
      : [...this.#editor.text];
    const shown = chars.length > room ? chars.slice(chars.length - room).join("") : chars.join("");
    this.#terminal.write(`${CLEAR_LINE}${this.#prompt}${shown}`);
  }

  #paint(code: string, text: string): string {
    return this.#terminal.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

/**
 * The UI for this process: a {@linkcode TerminalUi} when stdin and stdout are
 * both terminals, otherwise a {@linkcode PlainUi} on stdin/stdout. Output goes
 * through a {@linkcode BoundedOutput}: the agent never waits on its terminal,
 * and what nobody reads beyond its bound is dropped with a marker line.
 */
export function createConsoleUi(): AgentUi {
  const out = new BoundedOutput({ write: (bytes) => Deno.stdout.write(bytes) });
  const writeStdout = (text: string) => out.write(text);
  const flush = (timeoutMs: number) => out.flush(timeoutMs);
  const stdinTty = Deno.stdin.isTerminal();
  if (stdinTty && Deno.stdout.isTerminal()) {
    return new TerminalUi({
      setRaw: (raw) => Deno.stdin.setRaw(raw),
      input: Deno.stdin.readable,
      write: writeStdout,
      columns: () => {
        try {
          return Deno.consoleSize().columns || 80;
        } catch {
          return 80;
        }
      },
      color: !Deno.noColor,
      flush,
    });
  }
  return new PlainUi({
    input: Deno.stdin.readable,
    write: writeStdout,
    interactive: stdinTty,
    flush,
  });
}
