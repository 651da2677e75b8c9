/**
 * {@linkcode WebServer}: the agent's web page (`--web`). One HTTP server on
 * loopback (by default) serves the page, built in memory (`page/`), and a
 * WebSocket: the page gets every {@linkcode AgentEvent} and the
 * {@linkcode WebState} after each, and sends typed lines, which run through
 * the agent's command loop exactly as typed on the terminal. Both need the
 * token printed at start (`guard.ts`). Bounded: at most
 * {@linkcode WEB_LIMITS}`.maxClients` pages, messages of at most
 * `maxMessageBytes`, and a page that does not read what it is sent past
 * `maxQueuedBytes` is closed.
 *
 * @module
 */

import type { Endpoint } from "../../plumi/address.ts";
import { type HttpListener, serveHttp } from "../../transport/http.ts";
import { webText } from "../terminal/texts.ts";
import type { AgentEvent } from "./events.ts";
import { allowedHosts, checkRequest, newToken, type Refusal } from "./guard.ts";
import { pageHtml } from "./page/page.ts";
import type { WebState } from "./state.ts";
import type { WebUi } from "./web_ui.ts";

/** The bounds of the web server. */
export const WEB_LIMITS = {
  /** Most pages connected at once. */
  maxClients: 8,
  /** Largest message a page may send, bytes. */
  maxMessageBytes: 16 * 1024,
  /** Most bytes waiting to go to one page; past it, that page is closed (it reloads). */
  maxQueuedBytes: 1024 * 1024,
} as const;

/** Options of {@linkcode WebServer.start}. */
export interface WebServerOptions {
  /** Where to listen. */
  readonly at: Endpoint;
  /** The UI whose events are shown and whose command loop runs the typed lines. */
  readonly ui: WebUi;
  /** The access token. Default: a fresh random one ({@linkcode newToken}). */
  readonly token?: string;
  /** Bounds. Default: {@linkcode WEB_LIMITS}. */
  readonly limits?: Partial<typeof WEB_LIMITS>;
}

/** What the server says to a page. */
type ServerMessage =
  | {
    readonly type: "hello";
    readonly backlog: readonly AgentEvent[];
    readonly state: WebState | undefined;
  }
  | { readonly type: "event"; readonly event: AgentEvent }
  | { readonly type: "state"; readonly state: WebState }
  | { readonly type: "error"; readonly text: string };

const encoder = new TextEncoder();

/** The web page's server; {@linkcode WebServer.close} (or `await using`) stops it. */
export class WebServer implements AsyncDisposable {
  /** The address bound (its port known after binding port 0). */
  readonly local: Endpoint;
  /** The page's address with its token: what the user opens. */
  readonly url: string;
  readonly #ui: WebUi;
  readonly #token: string;
  readonly #hosts: Set<string>;
  readonly #limits: typeof WEB_LIMITS;
  readonly #http: HttpListener;
  readonly #clients = new Set<WebSocket>();
  readonly #unsubscribe: () => void;
  #state: (() => WebState) | undefined;
  #lastState = "";
  #stateQueued = false;
  /** Closing: no new page is let in (a page reconnects at once, and would hold the server open). */
  #closing = false;
  /** Pages closed because they did not keep up, or sent too much. */
  dropped = 0;

  private constructor(options: WebServerOptions) {
    this.#ui = options.ui;
    this.#token = options.token ?? newToken();
    this.#limits = { ...WEB_LIMITS, ...options.limits };
    this.#http = serveHttp(options.at, (request) => this.#handle(request));
    this.local = this.#http.local;
    this.#hosts = allowedHosts(this.local);
    const host = this.local.ip.includes(":") ? `[${this.local.ip}]` : this.local.ip;
    this.url = `http://${host}:${this.local.port}/?token=${this.#token}`;
    this.#unsubscribe = this.#ui.hub.subscribe((event) => {
      this.#broadcast({ type: "event", event });
      this.#queueState();
    });
  }

  /** Listen on `options.at`; throws (e.g. `AddrInUse`) when it cannot. */
  static start(options: WebServerOptions): WebServer {
    return new WebServer(options);
  }

  /** How many pages are connected. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Where the page's side panel comes from, once the agent is registered. */
  describe(state: () => WebState): void {
    this.#state = state;
    this.#queueState();
  }

  #queueState(): void {
    if (this.#stateQueued || !this.#state) return;
    this.#stateQueued = true;
    // After the work of the event is done (a presence change is stored before it is told).
    setTimeout(() => {
      this.#stateQueued = false;
      if (!this.#state || this.#clients.size === 0) return;
      const state = this.#state();
      const text = JSON.stringify(state);
      if (text === this.#lastState) return;
      this.#lastState = text;
      this.#broadcast({ type: "state", state });
    }, 0);
  }

  #refuse(refusal: Refusal): Response {
    const text = refusal === "host"
      ? webText.refusedHost()
      : refusal === "origin"
      ? webText.refusedOrigin()
      : webText.refusedToken();
    return new Response(`${text}\n`, {
      status: refusal === "host" ? 421 : 403,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    if (this.#closing) return new Response("The agent is leaving\n", { status: 503 });
    if (request.method !== "GET") return new Response("Method not allowed\n", { status: 405 });
    if (url.pathname === "/") {
      const refusal = checkRequest(request, this.#hosts, this.#token);
      if (refusal) return this.#refuse(refusal);
      const nonce = newToken().slice(0, 32);
      return new Response(pageHtml(nonce), {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
          "x-frame-options": "DENY",
          "x-content-type-options": "nosniff",
          "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; ` +
            `style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; ` +
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        },
      });
    }
    if (url.pathname === "/ws") {
      const refusal = checkRequest(request, this.#hosts, this.#token);
      if (refusal) return this.#refuse(refusal);
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("Expected a WebSocket\n", { status: 426 });
      }
      if (this.#clients.size >= this.#limits.maxClients) {
        return new Response(`${webText.tooManyClients(this.#limits.maxClients)}\n`, {
          status: 503,
        });
      }
      const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
      this.#open(socket);
      return response;
    }
    // Browsers ask for it on their own: nothing to show, and no token to ask for.
    if (url.pathname === "/favicon.ico") return new Response(null, { status: 204 });
    return new Response("Not found\n", { status: 404 });
  }

  #open(socket: WebSocket): void {
    this.#clients.add(socket);
    socket.onopen = () => {
      this.#send(socket, {
        type: "hello",
        backlog: this.#ui.hub.backlog,
        state: this.#state?.(),
      });
    };
    socket.onmessage = (message) => this.#receive(socket, message.data);
    socket.onclose = () => this.#clients.delete(socket);
    socket.onerror = () => this.#clients.delete(socket);
  }

  #receive(socket: WebSocket, data: unknown): void {
    const tooBig = typeof data !== "string" ||
      encoder.encode(data).length > this.#limits.maxMessageBytes;
    if (tooBig) {
      this.dropped++;
      this.#drop(socket, 1009, "message too big or not text");
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      this.#send(socket, { type: "error", text: "not JSON" });
      return;
    }
    const { type, text } = (message ?? {}) as { type?: unknown; text?: unknown };
    if (type !== "line" || typeof text !== "string") {
      this.#send(socket, { type: "error", text: 'expected {"type":"line","text":"…"}' });
      return;
    }
    for (const line of text.split(/\r?\n/)) {
      if (!this.#ui.submit(line)) {
        this.#send(socket, { type: "error", text: webText.tooManyLines() });
        return;
      }
    }
  }

  #drop(socket: WebSocket, code: number, reason: string): void {
    this.#clients.delete(socket);
    try {
      socket.close(code, reason);
    } catch {
      // Closing already.
    }
  }

  #send(socket: WebSocket, message: ServerMessage): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    if ((socket.bufferedAmount ?? 0) > this.#limits.maxQueuedBytes) {
      this.dropped++;
      this.#drop(socket, 1008, "too slow");
      return;
    }
    try {
      socket.send(JSON.stringify(message));
    } catch {
      this.#clients.delete(socket);
    }
  }

  #broadcast(message: ServerMessage): void {
    for (const socket of [...this.#clients]) this.#send(socket, message);
  }

  /** Close every page and stop listening. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#unsubscribe();
    this.#state = undefined;
    for (const socket of [...this.#clients]) this.#drop(socket, 1001, "the agent is leaving");
    await this.#http.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
