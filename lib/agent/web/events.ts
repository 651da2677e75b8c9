/**
 * The agent's one stream of events for its user interfaces: every line the
 * agent shows, where typed lines go, and what it waits for. The terminal
 * shows them as they happen; the web page (`server.ts`) gets them over its
 * WebSocket, with the most recent ones first as a backlog, so a page opened
 * late (or reloaded) shows the session so far. No I/O.
 *
 * @module
 */

/** One thing the agent showed, as the web page receives it. */
export type AgentEvent =
  | {
    readonly type: "line";
    /** `info` and `warn` are the agent's own lines; `chat` a peer's, `own` the user's. */
    readonly kind: "info" | "warn" | "chat" | "own";
    /** ms since 1970. */
    readonly at: number;
    readonly text: string;
    readonly nick?: string;
    /** The conversation's or group's label (chat and own lines). */
    readonly context?: string;
    /** The peer's address, when known. */
    readonly address?: string;
  }
  | {
    readonly type: "targets";
    readonly current: string | undefined;
    readonly labels: readonly string[];
  }
  | { readonly type: "identity"; readonly nick: string; readonly away?: string }
  | {
    readonly type: "ring";
    readonly text: string;
    /** The group label when it is an invitation (the page offers Accept and Decline). */
    readonly invitation?: string;
  }
  | { readonly type: "activity"; readonly text: string | undefined }
  | {
    readonly type: "delivered";
    /** The conversation's label. */
    readonly context: string;
    /** How many of the lines sent there were delivered (the oldest not yet marked). */
    readonly count: number;
  }
  | { readonly type: "clear" };

/** How many events a page opened late gets. */
export const BACKLOG_EVENTS = 500;

/**
 * Holds the last {@linkcode BACKLOG_EVENTS} events and passes each new one
 * to every subscriber.
 *
 * @example
 * ```ts
 * const hub = new EventHub();
 * const stop = hub.subscribe((event) => console.log(event.type));
 * hub.publish({ type: "clear" });
 * stop();
 * ```
 */
export class EventHub {
  readonly #backlog: AgentEvent[] = [];
  readonly #max: number;
  readonly #subscribers = new Set<(event: AgentEvent) => void>();

  constructor(max = BACKLOG_EVENTS) {
    this.#max = max;
  }

  /** The events kept, oldest first. */
  get backlog(): readonly AgentEvent[] {
    return this.#backlog;
  }

  /** Keep `event` and pass it on to every subscriber. */
  publish(event: AgentEvent): void {
    this.#backlog.push(event);
    if (this.#backlog.length > this.#max) this.#backlog.shift();
    for (const subscriber of this.#subscribers) subscriber(event);
  }

  /** Call `subscriber` with every event from now on; the result stops that. */
  subscribe(subscriber: (event: AgentEvent) => void): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }
}
