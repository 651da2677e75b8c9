/**
 * {@linkcode TerminalUi}: the agent for a person at a terminal in raw mode.
 * The bottom of the screen is a footer of two lines, a status line (who you
 * are, where typed lines go, the other conversations and groups with their
 * unread lines) and the prompt with the line being edited. A line printed
 * clears the footer, is written with its time (`12:04 Joan: hello`), and the
 * footer is drawn again below it. A line in a conversation you are not
 * looking at, a call, or an invitation rings the bell and shows in the
 * terminal's title.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../../clock.ts";
import { type EditorEvent, LineEditor } from "./line_editor.ts";
import type { Completer } from "./line_editor.ts";
import { StatusLine } from "./status_line.ts";
import { clockTime, columns, fitColumns, inputWindow, peerColour } from "./style.ts";
import { type AgentUi, sanitize, type Tone } from "./ui.ts";

const TONES: Record<Tone, string> = { good: "32", warn: "33", bad: "31", dim: "90" };

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

/** Options of {@linkcode TerminalUi}. */
export interface TerminalUiOptions {
  /** The time of day, for the time before each line. Default: `new Date()`. */
  readonly now?: () => Date;
  /** Timers, for showing a wait after half a second. Default: the system clock. */
  readonly clock?: Clock;
}

/** A wait is shown once it lasts this long, ms. */
export const ACTIVITY_DELAY_MS = 500;

const BELL = "\x07";
/** Bracketed paste on and off: a paste arrives marked, so its tabs and newlines are text. */
const PASTE_ON = "\x1b[?2004h";
const PASTE_OFF = "\x1b[?2004l";
/** Save and restore the window title (xterm's title stack). */
const TITLE_PUSH = "\x1b[22;0t";
const TITLE_POP = "\x1b[23;0t";

/** Whether a typed line is a command (shown as typed) rather than a line to send. */
function isCommandLine(line: string, talking: boolean): boolean {
  return !talking || /^\s*\/(?!\/)/.test(line);
}

/** A terminal in raw mode with a prompt and a status line that survive incoming messages. */
export class TerminalUi implements AgentUi {
  readonly interactive = true;
  onInterrupt: () => void = () => {};
  complete: Completer | undefined;
  readonly #terminal: RawTerminal;
  readonly #now: () => Date;
  readonly #editor: LineEditor;
  readonly #status = new StatusLine();
  #prompt = "> ";
  #lines: string[] = [];
  #waiters: Array<(line: string | null) => void> = [];
  #ended = false;
  #raw = false;
  /** Typing a secret: echo stars, keep it out of the transcript. */
  #secret = false;
  /** Answering a question (`ask`): the answer is shown as typed. */
  #asking = false;
  /** The status line is on screen above the prompt. */
  #footerHasStatus = false;
  #title = "";
  /** The wait in progress, and whether it is shown yet. */
  #activity: string | undefined;
  #activityShown = false;
  #activityTimer: TimerHandle | undefined;
  readonly #clock: Clock;

  constructor(terminal: RawTerminal, options: TerminalUiOptions = {}) {
    this.#terminal = terminal;
    this.#now = options.now ?? (() => new Date());
    this.#clock = options.clock ?? systemClock;
    this.#editor = new LineEditor({
      complete: (word, first) => this.complete?.(word, first) ?? [],
    });
    terminal.setRaw(true);
    this.#raw = true;
    terminal.write(PASTE_ON + TITLE_PUSH);
    void this.#pump();
  }

  info(text: string): void {
    this.#print(text);
  }

  warn(text: string): void {
    this.#print(this.#paint("33", text));
  }

  chat(nick: string, text: string, context?: string, address?: string): void {
    const where = context === undefined ? "" : `${this.#paint("35", `[${sanitize(context)}]`)} `;
    const colour = peerColour(address ?? nick);
    const clean = sanitize(text);
    // `/me` from a peer: `* Joan waves`, as it travels.
    const action = clean.startsWith(`* ${sanitize(nick)} `);
    const line = action
      ? `${this.#paint(colour, `* ${sanitize(nick)}`)}${clean.slice(2 + sanitize(nick).length)}`
      : `${this.#paint(`1;${colour}`, sanitize(nick))}: ${clean}`;
    const elsewhere = context !== undefined && this.#status.arrived(context);
    this.#print(`${where}${line}`);
    if (elsewhere) this.#alert();
  }

  own(nick: string, text: string): void {
    const current = this.#status.current;
    const prefixed = current !== undefined &&
      (this.#status.labels.length > 1 || current.startsWith("#"));
    const where = prefixed ? `${this.#paint("35", `[${sanitize(current)}]`)} ` : "";
    const me = sanitize(nick);
    const line = text.startsWith(`* ${nick} `)
      ? `${this.#paint("1", `* ${me}`)}${sanitize(text.slice(2 + nick.length))}`
      : `${this.#paint("1", me)}: ${sanitize(text)}`;
    this.#print(`${where}${line}`);
  }

  setTargets(current: string | undefined, labels: readonly string[]): void {
    this.#status.targets(current, labels);
    this.#updateTitle();
    this.#redraw();
  }

  setIdentity(nick: string, away?: string): void {
    this.#status.identity(nick, away);
    this.#updateTitle();
    this.#redraw();
  }

  ring(why: string): void {
    if (!this.#raw) return;
    this.#terminal.write(`${BELL}\x1b]0;${sanitize(why)}${BELL}`);
    this.#title = "";
  }

  activity(text: string | undefined): void {
    this.#activity = text;
    if (text === undefined) {
      if (this.#activityTimer !== undefined) this.#clock.clearTimeout(this.#activityTimer);
      this.#activityTimer = undefined;
      if (this.#activityShown) {
        this.#activityShown = false;
        this.#redraw();
      }
      return;
    }
    if (this.#activityShown) this.#redraw();
    else if (this.#activityTimer === undefined) {
      this.#activityTimer = this.#clock.setTimeout(() => {
        this.#activityTimer = undefined;
        this.#activityShown = this.#activity !== undefined;
        this.#redraw();
      }, ACTIVITY_DELAY_MS);
    }
  }

  clear(): void {
    if (!this.#raw) return;
    this.#terminal.write("\x1b[2J\x1b[H");
    this.#footerHasStatus = false;
    this.#redraw();
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#redraw();
  }

  readLine(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(this.#handOut(line));
    if (this.#ended) return Promise.resolve(null);
    this.#redraw();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async ask(question: string): Promise<string | null> {
    const saved = this.#prompt;
    this.#prompt = question;
    this.#asking = true;
    try {
      return await this.readLine();
    } finally {
      this.#prompt = saved;
      this.#asking = false;
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
    if (this.#activityTimer !== undefined) this.#clock.clearTimeout(this.#activityTimer);
    this.#activityTimer = undefined;
    this.#terminal.write(`${this.#clearFooter()}${PASTE_OFF}${TITLE_POP}`);
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
          if (!this.#handle(event)) {
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

  /** Act on one editor event; `false` at the end of the input. */
  #handle(event: EditorEvent): boolean {
    switch (event.kind) {
      case "line":
        this.#deliver(event.text);
        return true;
      case "interrupt":
        this.#print("^C");
        this.onInterrupt();
        return true;
      case "candidates":
        this.#print(this.#paint("2", event.words.join("  ")));
        return true;
      case "redraw":
        this.clear();
        return true;
      case "eof":
        return false;
    }
  }

  #deliver(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(this.#handOut(line));
    else this.#lines.push(line);
  }

  /**
   * A typed line goes to the agent: a command or an answer stays on screen as typed, now (so
   * that it shows in the order the agent acts on it); a line sent is shown by `own`, with the nick.
   */
  #handOut(line: string): string {
    const talking = this.#status.current !== undefined;
    if (this.#secret) this.#print(`${this.#prompt}${"*".repeat([...line].length)}`);
    else if (this.#asking) this.#print(`${this.#prompt}${line}`);
    else if (line.trim() !== "" && isCommandLine(line, talking)) {
      this.#print(this.#paint("2", `${this.#prompt}${line}`));
    }
    return line;
  }

  #end(): void {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  #alert(): void {
    if (!this.#raw) return;
    this.#terminal.write(BELL);
    this.#updateTitle();
  }

  #updateTitle(): void {
    if (!this.#raw) return;
    const title = this.#status.title();
    if (title === this.#title) return;
    this.#title = title;
    this.#terminal.write(`\x1b]0;${sanitize(title)}${BELL}`);
  }

  /** Erase the footer; the cursor is left where it began. */
  #clearFooter(): string {
    const up = this.#footerHasStatus ? "\x1b[1A" : "";
    this.#footerHasStatus = false;
    return `\r${up}\x1b[J`;
  }

  #print(text: string): void {
    const stamped = text.split("\n").map((line) => {
      return `${this.#paint("2", clockTime(this.#now()))} ${line}`;
    });
    if (!this.#raw) {
      this.#terminal.write(`${stamped.join("\n")}\n`);
      return;
    }
    this.#terminal.write(`${this.#clearFooter()}${stamped.join("\r\n")}\r\n`);
    this.#redraw();
  }

  #redraw(): void {
    if (!this.#raw || this.#ended) return;
    const width = this.#terminal.columns();
    let footer = this.#clearFooter();
    const waiting = this.#activityShown ? this.#activity : undefined;
    if ((this.#status.shown || waiting !== undefined) && !this.#asking) {
      const text = [this.#status.shown ? this.#status.text() : "", waiting ?? ""]
        .filter((part) => part !== "").join("  ");
      const status = fitColumns(text, Math.max(10, width - 1));
      footer += `${this.#paint("7", status)}\r\n`;
      this.#footerHasStatus = true;
    }
    // A question is shown whole where it fits; a prompt leaves room to type.
    const prompt = fitColumns(this.#prompt, Math.max(4, width - 12));
    const room = Math.max(10, width - columns(prompt) - 1);
    const before = this.#editor.beforeCursor;
    const after = this.#editor.text.slice(before.length);
    const hide = (text: string) => (this.#secret ? "*".repeat([...text].length) : text);
    const { shown, shownBefore } = inputWindow(hide(before), hide(after), room);
    // The cursor is put back where the terminal itself drew the text before it (save, restore):
    // terminals differ in how wide they draw an emoji sequence.
    const rest = shown.slice(shownBefore.length);
    footer += `${prompt}${shownBefore}${rest === "" ? "" : `\x1b7${rest}\x1b8`}`;
    this.#terminal.write(footer);
  }

  #paint(code: string, text: string): string {
    return this.#terminal.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}
