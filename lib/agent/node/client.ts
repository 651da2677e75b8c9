/**
 * The agent's side of PLUMI: one UDP socket towards its own node, requests
 * (PR, PD, PL) retransmitted every second up to five attempts, look-ups
 * forwarded by the node handed to the agent, every datagram logged, and
 * malformed or unexpected datagrams counted and ignored. Only the node's own
 * endpoints are listened to: a datagram from any other source (a forged
 * `RL0` or `PL` from a stranger) is counted and dropped before it is decoded
 * or logged.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { decodePlumi, encodePlumi, printable } from "../../plumi/codec.ts";
import {
  type ExtensionRequest,
  type LookupRequest,
  MAX_EXTENDED_PACKET_BYTES,
  type PlumiMessage,
} from "../../plumi/messages.ts";
import type { DatagramSocket } from "../../transport/udp.ts";
import { AbortedError, NodeSilentError } from "../errors.ts";
import type { PacketLog } from "../../packet_log.ts";
import { needsSeal, type RequestSealer } from "../../plumi/extensions/mod.ts";

/** Options of {@linkcode PlumiClient}. */
export interface PlumiClientOptions {
  /** The bound UDP socket; the client owns it from now on and closes it. */
  readonly socket: DatagramSocket;
  /** The node's UDP endpoint, where requests go. */
  readonly node: Endpoint;
  /**
   * Every endpoint of the node datagrams are accepted from (the one
   * registered with, and the domain's other SRV targets). Default: `[node]`.
   */
  readonly trusted?: readonly Endpoint[];
  /** Timers for retransmission. */
  readonly clock: Clock;
  /** Wait for an answer this long before sending again, in ms. Default: 1000. */
  readonly retryIntervalMs?: number;
  /** Send a request at most this many times. Default: 5. */
  readonly attempts?: number;
  /** Packet log. Default: none. */
  readonly log?: PacketLog;
  /**
   * Called for every look-up (`PL`) received; the agent answers it with
   * {@linkcode PlumiClient.send}. Returning `false` counts it as ignored.
   */
  readonly onLookup?: (request: LookupRequest, from: Endpoint) => boolean;
  /**
   * Called for every relay offer (`PY`, `lib/plumi/extensions/relay.ts`) the node sends.
   * Returning `false` counts it as ignored. Default: ignored.
   */
  readonly onRelayOffer?: (request: ExtensionRequest, from: Endpoint) => boolean;
  /**
   * Called for every offline-message notice (`PF…;c=`, `lib/plumi/extensions/mailbox_fetch.ts`)
   * the node sends. Returning `false` counts it as ignored. Default: ignored.
   */
  readonly onMailboxNotice?: (request: ExtensionRequest, from: Endpoint) => boolean;
  /** Called for every datagram ignored, with the reason. Default: nothing (they are counted). */
  readonly onIgnored?: (reason: string, from: Endpoint) => void;
  /** Called before each send of a request: attempt `attempt` of `attempts` (progress shown). */
  readonly onAttempt?: (message: PlumiMessage, attempt: number, attempts: number) => void;
}

interface Pending {
  accept(message: PlumiMessage): boolean;
  resolve(message: PlumiMessage): void;
  /** Stop waiting now (the client closes). */
  wake(): void;
}

/** A PLUMI client bound to one node. Call {@linkcode PlumiClient.start} to receive. */
export class PlumiClient {
  readonly #socket: DatagramSocket;
  readonly #node: Endpoint;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #attempts: number;
  readonly #log: PacketLog | undefined;
  readonly #onLookup: (request: LookupRequest, from: Endpoint) => boolean;
  readonly #onIgnored: (reason: string, from: Endpoint) => void;
  readonly #onRelayOffer: (request: ExtensionRequest, from: Endpoint) => boolean;
  readonly #onMailboxNotice: (request: ExtensionRequest, from: Endpoint) => boolean;
  readonly #onAttempt: PlumiClientOptions["onAttempt"];
  readonly #pending = new Set<Pending>();
  readonly #trusted: Set<string>;
  #ignored = 0;
  #strangers = 0;
  #heardAt = -Infinity;
  #closed = false;
  #loop: Promise<void> | undefined;
  #sealer: RequestSealer | undefined;

  constructor(options: PlumiClientOptions) {
    this.#socket = options.socket;
    this.#node = options.node;
    this.#clock = options.clock;
    this.#interval = options.retryIntervalMs ?? 1_000;
    this.#attempts = options.attempts ?? 5;
    this.#log = options.log;
    this.#onLookup = options.onLookup ?? (() => false);
    this.#onIgnored = options.onIgnored ?? (() => {});
    this.#onRelayOffer = options.onRelayOffer ?? (() => false);
    this.#onMailboxNotice = options.onMailboxNotice ?? (() => false);
    this.#onAttempt = options.onAttempt;
    this.#trusted = new Set([options.node, ...options.trusted ?? []].map(endpointKey));
  }

  /** The node this client talks to. */
  get node(): Endpoint {
    return this.#node;
  }

  /** How long a request waits for an answer before it is sent again, ms. */
  get retryIntervalMs(): number {
    return this.#interval;
  }

  /** The local UDP endpoint. */
  get local(): Endpoint {
    return this.#socket.local;
  }

  /** Datagrams ignored so far: malformed, not expected at that moment, or from a stranger. */
  get ignored(): number {
    return this.#ignored;
  }

  /** Datagrams dropped because they did not come from the node. */
  get strangers(): number {
    return this.#strangers;
  }

  /** When (clock time) the node was last heard from: any datagram of it, valid or not. */
  get heardAt(): number {
    return this.#heardAt;
  }

  /**
   * Seal the session's requests with `sealer` from now on (`undefined`: an
   * original node, or none yet): each try of {@linkcode PlumiClient.request}
   * of a `PK`, `PB`, `PS`, `PO`, `PI`, `PY` or `PD…;v=2` gets the next counter.
   */
  useSession(sealer: RequestSealer | undefined): void {
    this.#sealer = sealer;
  }

  /** Start the receive loop (idempotent). */
  start(): void {
    this.#loop ??= this.#receiveLoop();
  }

  /** Send one datagram (no retry), by default to the node. Resolves `false` if the OS refused it. */
  async send(message: PlumiMessage, to: Endpoint = this.#node): Promise<boolean> {
    const bytes = encodePlumi(message);
    this.#log?.sent(to, bytes);
    return await this.#socket.send(bytes, to);
  }

  /**
   * Send `message` to the node and wait for the first datagram that `accept`s,
   * sending again every interval, at most `attempts` times. Throws
   * {@linkcode NodeSilentError} when no answer came, {@linkcode AbortedError}
   * when `signal` aborts first.
   */
  async request(
    message: PlumiMessage,
    accept: (reply: PlumiMessage) => boolean,
    signal?: AbortSignal,
  ): Promise<PlumiMessage> {
    if (signal?.aborted) throw new AbortedError();
    let reply: PlumiMessage | undefined;
    let wake: () => void = () => {};
    const pending: Pending = {
      accept,
      resolve: (m) => {
        reply = m;
        wake();
      },
      wake: () => wake(),
    };
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort);
    this.#pending.add(pending);
    try {
      for (let attempt = 1; attempt <= this.#attempts; attempt++) {
        if (this.#closed) throw new AbortedError("the PLUMI socket is closed");
        let timer: TimerHandle | undefined;
        const waited = new Promise<void>((resolve) => {
          wake = resolve;
          timer = this.#clock.setTimeout(resolve, this.#interval);
        });
        const wire = this.#sealer && needsSeal(message) ? this.#sealer.seal(message) : message;
        this.#onAttempt?.(wire, attempt, this.#attempts);
        await this.send(wire);
        if (reply === undefined && !signal?.aborted && !this.#closed) await waited;
        this.#clock.clearTimeout(timer!);
        if (reply !== undefined) return reply;
        if (signal?.aborted) throw new AbortedError();
        if (this.#closed) throw new AbortedError("the PLUMI socket is closed");
      }
      throw new NodeSilentError(this.#node, this.#attempts);
    } finally {
      this.#pending.delete(pending);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Close the socket and stop receiving. Pending requests fail with {@linkcode AbortedError}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending) pending.wake();
    this.#socket.close();
    await this.#loop;
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      const datagram = await this.#socket.receive();
      if (datagram === null) return;
      if (!this.#trusted.has(endpointKey(datagram.from))) {
        this.#strangers++;
        this.#ignore(
          `datagram from ${datagram.from.ip}:${datagram.from.port}, not the node`,
          datagram.from,
        );
        continue;
      }
      this.#heardAt = this.#clock.now();
      this.#log?.received(datagram.from, datagram.bytes);
      this.#dispatch(datagram.bytes, datagram.from);
    }
  }

  #dispatch(bytes: Uint8Array, from: Endpoint): void {
    // Extended answers (status pages, online lists) may be up to 512 bytes; original ones stay at 100.
    const decoded = decodePlumi(bytes, { maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES });
    if (!decoded.ok) {
      this.#ignore(`malformed datagram "${printable(bytes, 40)}": ${decoded.error.message}`, from);
      return;
    }
    const message = decoded.message;
    if (message.kind === "lookup") {
      if (!this.#onLookup(message, from)) {
        this.#ignore(`look-up for someone else "${printable(bytes, 40)}"`, from);
      }
      return;
    }
    if (message.kind === "ext-request" && message.type === "Y") {
      if (!this.#onRelayOffer(message, from)) {
        this.#ignore(`relay offer not taken "${printable(bytes, 40)}"`, from);
      }
      return;
    }
    if (message.kind === "ext-request" && message.type === "F") {
      if (!this.#onMailboxNotice(message, from)) {
        this.#ignore(`offline-message notice not taken "${printable(bytes, 40)}"`, from);
      }
      return;
    }
    for (const pending of this.#pending) {
      if (pending.accept(message)) {
        this.#pending.delete(pending);
        pending.resolve(message);
        return;
      }
    }
    this.#ignore(`unexpected datagram "${printable(bytes, 40)}"`, from);
  }

  #ignore(reason: string, from: Endpoint): void {
    this.#ignored++;
    this.#onIgnored(reason, from);
  }
}

function endpointKey(endpoint: Endpoint): string {
  // An IPv4-mapped IPv6 source (::ffff:10.0.0.1) is the IPv4 address it maps.
  return `${endpoint.ip.replace(/^::ffff:/i, "")}:${endpoint.port}`;
}
