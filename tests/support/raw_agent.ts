/**
 * An agent built from a bare UDP socket, that behaves on the wire as an
 * agent does: each request (PR, PD, PL, and the extensions) is sent again
 * when no answer came within a second, five times at most; a look-up the
 * node forwards to it is answered at once (`RL0` with its @sckMI, or `RL1`
 * when told it is busy). Tests see every attempt it needed.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { fromLatin1, latin1 } from "./plumi_fuzz.ts";

/** The answer to a request, and the attempt that brought it. */
export interface Answer {
  readonly text: string;
  /** 1 for the first send. */
  readonly attempt: number;
}

/** No answer within the retry budget. */
export class NoAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoAnswerError";
  }
}

/** Which answers belong to a request (there are no request ids in PLUMI). */
export function answersTo(request: string): (answer: string) => boolean {
  const type = request.slice(0, 2);
  if (type === "PL") {
    const pair = request.slice(2);
    return (a) => a.startsWith("RL") && (a.slice(3) === pair || a.slice(3).startsWith(`${pair}:`));
  }
  const letter = type[1]!;
  return (a) => a.startsWith(`R${letter}`);
}

/** Options of {@linkcode RawAgent.open}. */
export interface RawAgentOptions {
  /** Where its requests go (a node, or a relay in front of one). */
  readonly node: Endpoint;
  /** Bind on this IP. Default: 127.0.0.1. */
  readonly ip?: string;
  /** The @sckMI it gives in its `RL0` answers. Default: its own IP, port 40000. */
  readonly advertised?: Endpoint;
  /** Seconds between tries. Default: 1 000 ms. */
  readonly intervalMs?: number;
  /** Tries per request. Default: 5. */
  readonly tries?: number;
}

/** A bare-socket agent; see the module doc. */
export class RawAgent implements AsyncDisposable {
  readonly name: string;
  readonly #socket: DatagramSocket;
  readonly #node: Endpoint;
  readonly #advertised: Endpoint;
  readonly #intervalMs: number;
  readonly #tries: number;
  readonly #loop: Promise<void>;
  #waiting: { matches: (text: string) => boolean; resolve: (text: string) => void } | undefined;
  #wakers: Array<() => void> = [];
  /** Answer forwarded look-ups with RL1 (in a conversation). */
  busy = false;
  /** Every datagram received, in order. */
  readonly received: string[] = [];
  /** Look-ups the node forwarded to this agent. */
  readonly lookupsForwarded: string[] = [];
  /** Datagrams sent. */
  sent = 0;
  /** Attempts each completed request needed, in order. */
  readonly attempts: number[] = [];

  private constructor(name: string, options: RawAgentOptions) {
    this.name = name;
    this.#socket = bindUdp({ ip: options.ip ?? "127.0.0.1", port: 0 });
    this.#node = options.node;
    this.#advertised = options.advertised ?? { ip: this.#socket.local.ip, port: 40_000 };
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#tries = options.tries ?? 5;
    this.#loop = this.#receiveLoop();
  }

  /** Bind the agent's socket. */
  static open(name: string, options: RawAgentOptions): RawAgent {
    return new RawAgent(name, options);
  }

  /** Its socket's address. */
  get local(): Endpoint {
    return this.#socket.local;
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      const datagram = await this.#socket.receive();
      if (!datagram) return;
      const text = fromLatin1(datagram.bytes);
      this.received.push(text);
      const wakers = this.#wakers;
      this.#wakers = [];
      for (const wake of wakers) wake();
      if (text.startsWith("PL")) {
        this.lookupsForwarded.push(text);
        const pair = text.slice(2);
        const answer = this.busy
          ? `RL1${pair}`
          : `RL0${pair}:${this.#advertised.ip}:${this.#advertised.port}`;
        await this.send(answer);
        continue;
      }
      if (this.#waiting?.matches(text)) {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting.resolve(text);
      }
    }
  }

  /**
   * Wait until `count` datagrams received from index `from` on satisfy
   * `matches`; returns them. Throws after `timeoutMs`.
   */
  async collect(
    from: number,
    count: number,
    matches: (text: string) => boolean,
    timeoutMs = 3_000,
  ): Promise<string[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).filter(matches);
      if (found.length >= count) return found;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new NoAnswerError(`${this.name}: ${found.length} of ${count} datagrams: ${found}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wakers.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Send one datagram to the node, no retry. */
  async send(text: string): Promise<void> {
    this.sent++;
    await this.#socket.send(latin1(text), this.#node);
  }

  /**
   * Send `request` until an answer that `matches` (default: {@linkcode answersTo})
   * arrives, once a second, five times at most. Throws {@linkcode NoAnswerError}.
   */
  async request(request: string, matches = answersTo(request)): Promise<Answer> {
    if (this.#waiting) throw new Error(`${this.name}: one request at a time`);
    let resolve!: (text: string) => void;
    const answered = new Promise<string>((r) => (resolve = r));
    this.#waiting = { matches, resolve };
    try {
      for (let attempt = 1; attempt <= this.#tries; attempt++) {
        await this.send(request);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const text = await Promise.race([
          answered,
          new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.#intervalMs))),
        ]);
        clearTimeout(timer);
        if (text !== undefined) {
          this.attempts.push(attempt);
          return { text, attempt };
        }
      }
    } finally {
      this.#waiting = undefined;
    }
    throw new NoAnswerError(
      `${this.name}: no answer to ${request} in ${this.#tries} tries of ${this.#intervalMs} ms`,
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#loop;
  }
}
