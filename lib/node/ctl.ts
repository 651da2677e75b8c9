/**
 * The control channel: the node's console commands over a Unix socket in
 * its folder (`nodelumi.ctl` beside `nodelumi.cfg`, mode 0600: only the
 * node's user can use it), for `main_node.ts ctl <command>`.
 *
 * The protocol, one exchange per connection, each message one line of JSON:
 * ```
 * → {"command":"add","args":["marta"]}
 * ← {"status":"ok","text":"Added marta@bb.com (saved)","data":{"added":["marta"],"problems":[]}}
 * ```
 * `status` is `ok` (done), `failed` (refused or could not be done: the text
 * says why) or `usage` (unknown command, missing argument, bad request).
 * `text` is for a person, `data` for a program. Commands: those of
 * {@linkcode CONTROL_COMMANDS}; `exit` is the console's alone.
 *
 * A hostile client is bounded: a request longer than `maxRequestBytes`, or
 * not whole within `requestMs`, or not JSON, gets a `usage` answer and the
 * connection closes; past `maxClients` connections at once, new ones are
 * closed unanswered.
 *
 * @module
 */

import { listenUnix, type UnixConn, type UnixListener } from "../transport/unix.ts";
import { type AdminConsole, type CommandResult, CONTROL_COMMANDS } from "./console.ts";

/** The control socket of the node whose configuration is `configPath`: `x.cfg` → `x.ctl`. */
export function controlPath(configPath: string): string {
  return configPath.endsWith(".cfg") ? `${configPath.slice(0, -4)}.ctl` : `${configPath}.ctl`;
}

/** One request on the control channel. */
export interface ControlRequest {
  readonly command: string;
  readonly args: readonly string[];
}

/** One answer on the control channel. */
export interface ControlAnswer {
  readonly status: CommandResult["status"];
  readonly text: string;
  readonly data?: unknown;
}

/** Options of {@linkcode ControlServer.open}. */
export interface ControlServerOptions {
  /** The socket's path. */
  readonly path: string;
  /** Runs the commands. */
  readonly admin: AdminConsole;
  /** Longest request, in bytes. Default: 64 KiB. */
  readonly maxRequestBytes?: number;
  /** A request must arrive whole within this time, in ms. Default: 5 000. */
  readonly requestMs?: number;
  /** Most connections served at once. Default: 16. */
  readonly maxClients?: number;
  /** Called for a command run, with its answer. Default: nothing. */
  readonly onCommand?: (request: ControlRequest, answer: ControlAnswer) => void;
}

const encoder = new TextEncoder();

/** Serves {@linkcode ControlRequest}s on a Unix socket until closed. */
export class ControlServer implements AsyncDisposable {
  readonly #listener: UnixListener;
  readonly #options: ControlServerOptions;
  readonly #clients = new Set<UnixConn>();
  readonly #loop: Promise<void>;
  /** Connections refused because `maxClients` were open. */
  refused = 0;
  /** Requests answered `usage` because they were too long, too slow or not JSON. */
  badRequests = 0;

  private constructor(listener: UnixListener, options: ControlServerOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#loop = this.#accept();
  }

  /** Listen on `options.path` (a stale socket file there is replaced: hold the node's lock). */
  static async open(options: ControlServerOptions): Promise<ControlServer> {
    return new ControlServer(await listenUnix(options.path), options);
  }

  /** The socket's path. */
  get path(): string {
    return this.#listener.path;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#clients.size >= (this.#options.maxClients ?? 16)) {
          this.refused++;
          conn.close();
          continue;
        }
        this.#clients.add(conn);
        void this.#serve(conn).finally(() => {
          this.#clients.delete(conn);
          try {
            conn.close();
          } catch {
            // closed already
          }
        });
      }
    } catch {
      // the listener was closed
    }
  }

  async #serve(conn: UnixConn): Promise<void> {
    const request = await this.#read(conn);
    let answer: ControlAnswer;
    if (typeof request === "string") {
      this.badRequests++;
      answer = { status: "usage", text: request };
    } else if (!(CONTROL_COMMANDS as readonly string[]).includes(request.command.toLowerCase())) {
      answer = {
        status: "usage",
        text: `Unknown command "${request.command}" (known: ${CONTROL_COMMANDS.join(", ")})`,
      };
    } else {
      const result = await this.#options.admin.run(request.command, request.args);
      answer = {
        status: result.status,
        text: result.text,
        ...(result.data !== undefined && { data: result.data }),
      };
      this.#options.onCommand?.(request, answer);
    }
    try {
      const bytes = encoder.encode(`${JSON.stringify(answer)}\n`);
      for (let offset = 0; offset < bytes.length;) {
        offset += await conn.write(bytes.subarray(offset));
      }
    } catch {
      // the client went away
    }
  }

  /** The request, or why it is refused. */
  async #read(conn: UnixConn): Promise<ControlRequest | string> {
    const max = this.#options.maxRequestBytes ?? 64 * 1024;
    const buffer = new Uint8Array(max + 1);
    let length = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.#options.requestMs ?? 5_000);
    });
    try {
      for (;;) {
        const newline = buffer.subarray(0, length).indexOf(0x0a);
        if (newline >= 0) return parseRequest(buffer.subarray(0, newline));
        if (length > max) return `Bad request: longer than ${max} bytes`;
        const n = await Promise.race([conn.read(buffer.subarray(length)), late]);
        if (n === "late") return "Bad request: not whole in time";
        if (n === null) {
          return length > 0 ? parseRequest(buffer.subarray(0, length)) : "Bad request: empty";
        }
        length += n;
      }
    } catch (error) {
      return `Bad request: ${error instanceof Error ? error.message : error}`;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop listening, remove the socket, end the connections open. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#clients) {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
    await this.#loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A request's bytes as a {@linkcode ControlRequest}, or why not. */
export function parseRequest(bytes: Uint8Array): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "Bad request: not a line of JSON";
  }
  const { command, args } = (value ?? {}) as { command?: unknown; args?: unknown };
  if (typeof command !== "string") return 'Bad request: no "command"';
  if (args !== undefined && !(Array.isArray(args) && args.every((a) => typeof a === "string"))) {
    return 'Bad request: "args" must be a list of strings';
  }
  return { command, args: (args as string[] | undefined) ?? [] };
}
