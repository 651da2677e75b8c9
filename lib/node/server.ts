/**
 * The node's packet loop, I/O only: receive, guard, log, decode, one
 * dispatch ({@linkcode Dispatcher}), then perform the action the handler
 * returned — send (through the amplification guard), forward to another
 * domain's node (resolve, send, watch for the answer), drop (counted), or
 * probe the agent a registration would move away from.
 *
 * @module
 */

import { getLogger } from "#log";
import type { Clock } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, encodePlumi } from "../plumi/codec.ts";
import {
  MAX_EXTENDED_PACKET_BYTES,
  MAX_PACKET_BYTES,
  type PlumiMessage,
} from "../plumi/messages.ts";
import type { Directory } from "./directory.ts";
import type { ExtendedService } from "./extended.ts";
import type { RateLimiter, Verdict } from "./rate_limit.ts";
import type { RemotePresence } from "./remote_presence.ts";
import type { Federation } from "./federation.ts";
import type { NodeLocator } from "../locate.ts";
import type { PacketLog } from "../packet_log.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import type { Action, ForwardAction, NodeCore, ProbeVerdict, SendAction } from "./core.ts";
import type { Liveness } from "./liveness.ts";
import { Dispatcher, type Outcome } from "./dispatch.ts";
import { Forwarder } from "./forwarder.ts";
import { amplifies, type Inbound, isNodeOf } from "./guards.ts";
import { Outbox } from "./outbox.ts";
import { bump, type NodeEvent, type NodeStats } from "./stats.ts";

export type { NodeDropReason, NodeEvent, NodeStats } from "./stats.ts";
export { MAX_ANSWER_GROWTH } from "./guards.ts";

/** Options of {@linkcode NodeServer}. */
export interface NodeServerOptions {
  /** The protocol logic. */
  readonly core: NodeCore;
  /** The bound UDP socket. */
  readonly socket: DatagramSocket;
  /** Finds other domains' nodes. */
  readonly locator: NodeLocator;
  /**
   * Where everything the node sends goes out (built first, so that the
   * liveness probes and presence queries can share it). Default: one on
   * `socket` and `log`.
   */
  readonly outbox?: Outbox;
  /** Packet log. Default: none. */
  readonly log?: PacketLog;
  /** Longest datagram accepted. Default: 100 bytes. */
  readonly maxPacketBytes?: number;
  /** Called for every malformed or dropped packet. Default: nothing. */
  readonly onEvent?: (event: NodeEvent) => void;
  /**
   * A look-up forwarded to another node that brings no answer within this
   * time marks that node down, so the caller's retransmission goes to the
   * domain's next node (SRV failover), in ms. Default: 1 000.
   */
  readonly answerTimeoutMs?: number;
  /** The user table, to tell registered sources from others (amplification rule). Default: none (every source unregistered). */
  readonly directory?: Directory;
  /** The PLUMI extensions; without it the node speaks only the original protocol. Default: none. */
  readonly extended?: ExtendedService;
  /** Presence of other domains' users, for the extensions. Default: none. */
  readonly remote?: RemotePresence;
  /** Vouching and relays across domains (their answers). Default: none. */
  readonly federation?: Federation;
  /** Flood protection per source IP. Default: none. */
  readonly limiter?: RateLimiter;
  /** Monotonic time and timers (answer deadlines, the limiter). Default: the clock of `core`. */
  readonly clock?: Clock;
  /** Monotonic clock in ms, for the limiter. Default: `clock.now`. */
  readonly now?: () => number;
}

/** Most registrations waiting for a move probe at once (the rest are dropped `move-pending`). */
const MAX_HELD_MOVES = 10_000;

/** Serves PLUMI on one socket until the socket closes. */
export class NodeServer {
  /** Live counters. */
  readonly stats: NodeStats;
  readonly #socket: DatagramSocket;
  readonly #outbox: Outbox;
  readonly #locator: NodeLocator;
  readonly #log: PacketLog | undefined;
  readonly #maxBytes: number;
  readonly #maxExtendedBytes: number;
  readonly #onEvent: (event: NodeEvent) => void;
  readonly #pending = new Set<Promise<void>>();
  readonly #forwarder: Forwarder;
  readonly #dispatcher: Dispatcher;
  /** Registrations waiting for a move probe, by `name ip:port`: copies of one are not queued twice. */
  readonly #heldMoves = new Set<string>();
  readonly #clock: Clock;
  readonly #liveness: Liveness;
  readonly #logger = getLogger(["lumi", "node"]);
  /** Internal errors logged in the current minute, and those left out since the last line. */
  #errorLog = { since: -Infinity, lines: 0, quiet: 0 };
  readonly #limiter: RateLimiter | undefined;
  readonly #now: () => number;

  constructor(options: NodeServerOptions) {
    this.#limiter = options.limiter;
    this.#liveness = options.core.liveness;
    this.#clock = options.clock ?? this.#liveness.clock;
    const clock = this.#clock;
    this.#now = options.now ?? (() => clock.now());
    this.#socket = options.socket;
    this.#locator = options.locator;
    this.#log = options.log;
    this.#outbox = options.outbox ??
      new Outbox({ socket: options.socket, ...(options.log && { log: options.log }) });
    this.stats = this.#outbox.stats;
    this.#maxBytes = options.maxPacketBytes ?? MAX_PACKET_BYTES;
    this.#maxExtendedBytes = options.extended ? MAX_EXTENDED_PACKET_BYTES : this.#maxBytes;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#forwarder = new Forwarder({
      locator: options.locator,
      clock,
      local: options.socket.local,
      ...(options.answerTimeoutMs !== undefined && { answerTimeoutMs: options.answerTimeoutMs }),
      onError: (error, node) => this.#internalError(error, node),
    });
    this.#dispatcher = new Dispatcher({
      core: options.core,
      ...(options.directory && { directory: options.directory }),
      ...(options.extended && { extended: options.extended }),
      ...(options.remote && { remote: options.remote }),
      ...(options.federation && { federation: options.federation }),
    });
  }

  /** Receive and answer datagrams until the socket is closed. */
  async serve(): Promise<void> {
    for (;;) {
      const datagram = await this.#socket.receive();
      if (!datagram) break;
      this.handleDatagram(datagram.bytes, datagram.from);
    }
    this.#liveness.close();
    await Promise.all(this.#pending);
    this.#forwarder.close();
  }

  /**
   * Handle one datagram (exposed for in-process tests and benchmarks). Never
   * throws: an unexpected error is a counted drop (`internal-error`) and one
   * log line with its stack.
   */
  handleDatagram(bytes: Uint8Array, from: Endpoint): void {
    try {
      this.#handle(bytes, from);
    } catch (error) {
      this.#internalError(error, from);
    }
  }

  /**
   * Resolves once every asynchronous step under way (forwards, extension
   * answers, node checks) has settled: lets an in-process test on a manual
   * clock wait for them instead of for time.
   */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** The path of a datagram: guards, decode, one dispatch, its action performed. */
  #handle(bytes: Uint8Array, from: Endpoint): void {
    const now = this.#now();
    if (this.#limiter) {
      const verdict = this.#limiter.check(from.ip, now);
      if (verdict !== "pass") return this.#limited(verdict, from);
    }
    this.stats.received++;
    this.#log?.record("R", from, bytes);
    const decoded = decodePlumi(bytes, {
      maxBytes: this.#maxBytes,
      maxExtendedBytes: this.#maxExtendedBytes,
    });
    if (!decoded.ok) {
      bump(this.stats.malformed, decoded.error.kind);
      this.#onEvent({ kind: "malformed", from, reason: decoded.error.message });
      return;
    }
    const message = decoded.message;
    // The answer of a look-up this node forwarded: its node is up.
    if (message.kind === "lookup-reply") this.#forwarder.answered(message);
    // Any datagram from a registered agent's address is a sign of life (and says it is registered).
    const request: Inbound = {
      from,
      size: bytes.length,
      registered: this.#dispatcher.heard(from, now),
    };
    const node = this.#dispatcher.claim(message);
    if (node !== undefined) {
      this.#track(this.#verified(node, message, request), from);
      return;
    }
    this.#perform(this.#dispatcher.dispatch(message, request), request);
  }

  /** Over the rate limit: counted, not logged per packet (a flood must not become a disk flood). */
  #limited(verdict: Exclude<Verdict, "pass">, from: Endpoint): void {
    bump(this.stats.dropped, "rate-limited");
    if (verdict === "ban-starts") {
      this.stats.bans++;
      this.#onEvent({ kind: "banned", from, reason: "too many datagrams: ignored for a while" });
    } else if (verdict === "throttle-starts") {
      this.#logger.warn(
        "Exempt source {ip} is over its budget: the rest of each window's datagrams are dropped",
        { ...from },
      );
    }
  }

  /** The node verification guard: dispatched only if it came from `domain`'s node (then it counts as registered). */
  async #verified(domain: string, message: PlumiMessage, request: Inbound): Promise<void> {
    if (!(await isNodeOf(this.#locator, domain, request.from))) {
      bump(this.stats.dropped, "unverified-node");
      return;
    }
    const verified: Inbound = { from: request.from, size: request.size, registered: true };
    const outcome = this.#dispatcher.dispatch(message, verified);
    this.#act(outcome instanceof Promise ? await outcome : outcome, verified);
  }

  /** Perform an outcome now, or once an asynchronous handler settles. */
  #perform(outcome: Outcome | Promise<Outcome>, request: Inbound): void {
    if (outcome instanceof Promise) this.#track(this.#later(outcome, request), request.from);
    else this.#act(outcome, request);
  }

  async #later(outcome: Promise<Outcome>, request: Inbound): Promise<void> {
    this.#act(await outcome, request);
  }

  #act(action: Action | undefined, request: Inbound): void {
    if (action === undefined) return;
    switch (action.kind) {
      case "send":
        this.#send(action, request);
        return;
      case "drop":
        bump(this.stats.dropped, action.reason);
        this.#onEvent({ kind: "dropped", from: request.from, reason: action.reason });
        return;
      case "forward":
        this.#track(this.#forward(action, request), request.from);
        return;
      case "probe":
        this.#probe(action, request);
        return;
    }
  }

  /**
   * Send, keeping the amplification rule: an answer back to a source that was
   * not a registered agent is at most {@linkcode MAX_ANSWER_GROWTH} bytes
   * longer than its request.
   */
  #send(action: SendAction, request?: Inbound): void {
    const bytes = encodePlumi(action.message);
    if (amplifies(bytes.length, action.to, request)) {
      bump(this.stats.dropped, "amplification-guard");
      return;
    }
    this.#outbox.transmit(action.to, bytes);
  }

  async #forward(action: ForwardAction, request: Inbound): Promise<void> {
    const target = await this.#forwarder.target(action.domain);
    if (typeof target === "string") {
      bump(this.stats.dropped, target);
      this.#onEvent({ kind: "dropped", from: request.from, reason: `${target} ${action.domain}` });
      if (action.ifUnresolved) this.#send(action.ifUnresolved, request);
      return;
    }
    this.stats.forwarded++;
    this.#send({ kind: "send", to: target, message: action.message });
    if (action.message.kind === "lookup") this.#forwarder.forwarded(action.message, target);
  }

  /** A PR that would move an online user: first the agent where it is gets a probe. */
  #probe(verdict: ProbeVerdict, request: Inbound): void {
    const key = `${verdict.name} ${request.from.ip}:${request.from.port}`;
    if (this.#heldMoves.has(key) || this.#heldMoves.size >= MAX_HELD_MOVES) {
      bump(this.stats.dropped, "move-pending"); // a copy: the first one will be answered
      return;
    }
    this.#heldMoves.add(key);
    const waiting = this.#liveness.probeMove(verdict.name, verdict.registration, (alive) => {
      this.#heldMoves.delete(key);
      try {
        this.#perform(this.#dispatcher.settle(verdict, alive, request), request);
      } catch (error) {
        this.#internalError(error, request.from);
      }
    });
    if (!waiting) {
      this.#heldMoves.delete(key);
      bump(this.stats.dropped, "move-pending");
    }
  }

  /** Keep `work` until it settles; a rejection is an internal error (counted, logged), never unhandled. */
  #track(work: Promise<void>, from: Endpoint): void {
    const settled: Promise<void> = work.then(
      () => void this.#pending.delete(settled),
      (error) => {
        this.#pending.delete(settled);
        this.#internalError(error, from);
      },
    );
    this.#pending.add(settled);
  }

  #internalError(error: unknown, from: Endpoint): void {
    bump(this.stats.dropped, "internal-error");
    const reason = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    // One line each, but a stream of them (a bug a stranger can trigger) at most 10 a minute.
    const now = this.#clock.now();
    if (now - this.#errorLog.since >= 60_000) {
      this.#errorLog = { since: now, lines: 0, quiet: this.#errorLog.quiet };
    }
    if (this.#errorLog.lines < 10) {
      this.#errorLog.lines++;
      const quiet = this.#errorLog.quiet;
      this.#errorLog.quiet = 0;
      this.#logger.error(
        "Internal error handling a datagram from {ip}:{port} ({quiet} more not logged): {reason}",
        { ...from, reason, quiet },
      );
    } else this.#errorLog.quiet++;
    try {
      this.#onEvent({ kind: "internal-error", from, reason });
    } catch {
      // The event sink failing too must not stop the node either.
    }
  }
}
