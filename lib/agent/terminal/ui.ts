/**
 * The agent's terminal. Two implementations of {@linkcode AgentUi}:
 * {@linkcode TerminalUi} for a person at a TTY (raw mode; a message arriving
 * while they type clears the prompt line, prints, and redraws what they had
 * typed) and {@linkcode PlainUi} for piped input and output (plain lines, no
 * ANSI codes, suitable for scripts and tests). On a terminal every line has
 * its time, each peer its colour (unless `NO_COLOR`), and a status line above
 * the prompt shows where typed lines go and what is unread elsewhere.
 *
 * @module
 */

import type { Completer } from "./line_editor.ts";
import { BoundedOutput } from "./output.ts";
import { sanitize } from "./texts.ts";

export { sanitize };
import { type RawTerminal, TerminalUi } from "./terminal_ui.ts";

export { type RawTerminal, TerminalUi };

/** Colours for statuses: good (online), warn (busy), bad (errors), dim (offline, unknown). */
export type Tone = "good" | "warn" | "bad" | "dim";

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
  chat(nick: string, text: string, context?: string, address?: string): void;
  /**
   * Show a line the user sent to the current conversation or group, with
   * their nickname (terminals only: elsewhere the typed line is the record).
   */
  own?(nick: string, text: string): void;
  /**
   * A line the user sent is known delivered (`context`: the conversation's or group's label;
   * `text`: the line). Shown as a mark on the web page. Default: not shown.
   */
  delivered?(context: string | undefined, text: string): void;
  /** Where typed lines go (`current`, a label) and every open conversation and group's label. */
  setTargets?(current: string | undefined, labels: readonly string[]): void;
  /** Our nickname and away text (`undefined`: not away), for the status line. */
  setIdentity?(nick: string, away?: string): void;
  /** Something wants the user: a call or an invitation (bell and terminal title). */
  ring?(why: string): void;
  /** `/clear`: clear the screen. */
  clear?(): void;
  /**
   * What the agent is waiting for (`calling joan@bb.test… try 2 of 5`), or `undefined` when
   * nothing; a terminal shows it once the wait passes half a second.
   */
  activity?(text: string | undefined): void;
  /** Completions for Tab (terminals only). */
  complete?: Completer;
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

  chat(nick: string, text: string, context?: string, _address?: string): void {
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
