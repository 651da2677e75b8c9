/**
 * {@linkcode WebUi}: the agent's user interface when the web page is on. It
 * wraps the terminal's {@linkcode AgentUi}: everything shown goes to the
 * terminal as before and, as an {@linkcode AgentEvent}, to the
 * {@linkcode EventHub} the web clients subscribe to; typed lines come from
 * the terminal and from the pages, whichever comes first, and run through the
 * same command loop. So the terminal and the pages stay in step.
 *
 * @module
 */

import type { Completer } from "../terminal/line_editor.ts";
import { invitationLabel } from "../terminal/texts.ts";
import type { AgentUi, Tone } from "../terminal/ui.ts";
import { type AgentEvent, EventHub } from "./events.ts";

/** Most lines from the pages waiting for the command loop; past it, more are refused. */
export const MAX_WEB_LINES = 64;

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A result of one of the two inputs, kept until the command loop takes it. */
type Pending = Promise<{ readonly from: "terminal" | "web"; readonly line: string | null }>;

/** The terminal's UI, with every event also published to the web pages. */
export class WebUi implements AgentUi {
  /** The events, for the web server. */
  readonly hub: EventHub;
  readonly #inner: AgentUi;
  readonly #now: () => number;
  #current: string | undefined;
  #labels: readonly string[] = [];
  #terminalRead: Pending | undefined;
  #terminalEnded = false;
  #webRead: Pending | undefined;
  #webResolve: ((line: string) => void) | undefined;
  readonly #webQueue: string[] = [];

  constructor(inner: AgentUi, options: { hub?: EventHub; now?: () => number } = {}) {
    this.#inner = inner;
    this.hub = options.hub ?? new EventHub();
    this.#now = options.now ?? Date.now;
  }

  get interactive(): boolean {
    return this.#inner.interactive;
  }

  get onInterrupt(): () => void {
    return this.#inner.onInterrupt;
  }

  set onInterrupt(handler: () => void) {
    this.#inner.onInterrupt = handler;
  }

  get complete(): Completer | undefined {
    return this.#inner.complete;
  }

  set complete(completer: Completer | undefined) {
    this.#inner.complete = completer;
  }

  /** Where typed lines go now (a label), as the agent last said. */
  get current(): string | undefined {
    return this.#current;
  }

  #publish(event: AgentEvent): void {
    this.hub.publish(event);
  }

  #line(
    kind: "info" | "warn" | "chat" | "own",
    text: string,
    more: { nick?: string; context?: string; address?: string } = {},
  ): void {
    this.#publish({ type: "line", kind, at: this.#now(), text: text.replace(ANSI, ""), ...more });
  }

  /** The label a line belongs to: given, else the only conversation open. */
  #context(context: string | undefined): string | undefined {
    return context ?? this.#current ?? (this.#labels.length === 1 ? this.#labels[0] : undefined);
  }

  info(text: string): void {
    this.#inner.info(text);
    this.#line("info", text);
  }

  warn(text: string): void {
    this.#inner.warn(text);
    this.#line("warn", text);
  }

  chat(nick: string, text: string, context?: string, address?: string): void {
    this.#inner.chat(nick, text, context, address);
    this.#line("chat", text, {
      nick,
      ...(this.#context(context) !== undefined && { context: this.#context(context) }),
      ...(address !== undefined && { address }),
    });
  }

  own(nick: string, text: string): void {
    this.#inner.own?.(nick, text);
    const context = this.#context(undefined);
    this.#line("own", text, { nick, ...(context !== undefined && { context }) });
  }

  /**
   * The peer (the label of its conversation: its address, or nickname)
   * acknowledged these lines: the page marks that many of the lines sent
   * there, the oldest unmarked first (receipts come in order).
   */
  delivered(peer: string, messageIds: readonly string[]): void {
    this.#inner.delivered?.(peer, messageIds);
    const context = this.#labels.find((l) => l === peer) ?? peer;
    this.#publish({ type: "delivered", context, count: messageIds.length });
  }

  setTargets(current: string | undefined, labels: readonly string[]): void {
    this.#current = current;
    this.#labels = [...labels];
    this.#inner.setTargets?.(current, labels);
    this.#publish({ type: "targets", current, labels: this.#labels });
  }

  setIdentity(nick: string, away?: string): void {
    this.#inner.setIdentity?.(nick, away);
    this.#publish({ type: "identity", nick, ...(away !== undefined && { away }) });
  }

  ring(why: string): void {
    this.#inner.ring?.(why);
    const invitation = invitationLabel(why);
    this.#publish({ type: "ring", text: why, ...(invitation !== undefined && { invitation }) });
  }

  clear(): void {
    this.#inner.clear?.();
    this.#publish({ type: "clear" });
  }

  activity(text: string | undefined): void {
    this.#inner.activity?.(text);
    this.#publish({ type: "activity", text });
  }

  tint(text: string, tone: Tone): string {
    return this.#inner.tint?.(text, tone) ?? text;
  }

  setPrompt(prompt: string): void {
    this.#inner.setPrompt(prompt);
  }

  /**
   * A line typed on a page: it runs as if typed on the terminal. `false` when
   * {@linkcode MAX_WEB_LINES} are waiting already (the page is told).
   */
  submit(line: string): boolean {
    if (this.#webResolve) {
      const resolve = this.#webResolve;
      this.#webResolve = undefined;
      resolve(line);
      return true;
    }
    if (this.#webQueue.length >= MAX_WEB_LINES) return false;
    this.#webQueue.push(line);
    return true;
  }

  #nextWeb(): Pending {
    if (this.#webQueue.length > 0) {
      return Promise.resolve({ from: "web", line: this.#webQueue.shift()! });
    }
    return new Promise((resolve) => {
      this.#webResolve = (line) => resolve({ from: "web", line });
    });
  }

  /**
   * The next line from the terminal or a page. The end of a piped input
   * (no person at a terminal) leaves the pages in charge; at a terminal it
   * ends the agent as before.
   */
  async readLine(): Promise<string | null> {
    if (!this.#terminalEnded) {
      this.#terminalRead ??= this.#inner.readLine().then((line) => ({ from: "terminal", line }));
    }
    this.#webRead ??= this.#nextWeb();
    const next = await Promise.race(
      this.#terminalRead ? [this.#terminalRead, this.#webRead] : [this.#webRead],
    );
    if (next.from === "web") {
      this.#webRead = undefined;
      return next.line;
    }
    this.#terminalRead = undefined;
    if (next.line === null && !this.#inner.interactive) {
      this.#terminalEnded = true;
      return await this.readLine();
    }
    return next.line;
  }

  /**
   * Ask on the terminal. While the terminal's own read waits (the command came from a page),
   * the answer would be taken as a command line, a password shown and sent as a chat line: `null`
   * (no answer) instead, and the command says what it needs.
   */
  ask(question: string): Promise<string | null> {
    if (this.#terminalRead) return Promise.resolve(null);
    return this.#inner.ask(question);
  }

  /** Like {@linkcode WebUi.ask}, with what is typed hidden. */
  askSecret(question: string): Promise<string | null> {
    if (this.#terminalRead) return Promise.resolve(null);
    return (this.#inner.askSecret ?? this.#inner.ask).call(this.#inner, question);
  }

  close(): void {
    this.#inner.close();
  }

  async flush(timeoutMs: number): Promise<void> {
    await this.#inner.flush?.(timeoutMs);
  }
}
