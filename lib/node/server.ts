/**
 * The node's packet loop: receive, log, decode, decide (via
 * {@linkcode NodeCore}), resolve other domains' nodes, send, log.
 *
 * @module
 */

import { getLogger } from "#log";
import type { Clock, TimerHandle } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, encodePlumi } from "../plumi/codec.ts";
import {
  type LookupRequest,
  MAX_EXTENDED_PACKET_BYTES,
  MAX_PACKET_BYTES,
  type PlumiErrorKind,
  type PlumiMessage,
} from "../plumi/messages.ts";
import type { Directory, Registration } from "./directory.ts";
import type { ExtendedService } from "./extended.ts";
import { param } from "../plumi/params.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { RemotePresence } from "./remote_presence.ts";
import type { NodeLocator } from "../locate.ts";
import type { PacketLog } from "../packet_log.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import type {
  Action,
  DropReason,
  ForwardAction,
  NodeCore,
  ProbeVerdict,
  SendAction,
} from "./core.ts";
import type { Liveness } from "./liveness.ts";

/** Counters of what the node has seen and done. */
export interface NodeStats {
  received: number;
  sent: number;
  /** Datagrams sent to other domains' nodes. */
  forwarded: number;
  /** Sends the operating system refused. */
  sendFailures: number;
  /** Malformed datagrams, by reason. */
  malformed: Partial<Record<PlumiErrorKind, number>>;
  /** Well-formed messages dropped without an answer, by reason. */
  dropped: Partial<
    Record<
      | DropReason
      | "unresolved-domain"
      | "forward-to-self"
      | "rate-limited"
      | "amplification-guard"
      | "unverified-node"
      | "move-pending"
      | "internal-error",
      number
    >
  >;
  /** Sources banned for flooding. */
  bans: number;
}

/** Something worth telling the operator about. */
export type NodeEvent =
  | { readonly kind: "malformed"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "dropped"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "banned"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "internal-error"; readonly from: Endpoint; readonly reason: string };

/** Options of {@linkcode NodeServer}. */
export interface NodeServerOptions {
  /** The protocol logic. */
  readonly core: NodeCore;
  /** The bound UDP socket. */
  readonly socket: DatagramSocket;
  /** Finds other domains' nodes. */
  readonly locator: NodeLocator;
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
  /** Flood protection per source IP. Default: none. */
  readonly limiter?: RateLimiter;
  /** Monotonic time and timers (answer deadlines, the limiter). Default: the clock of `core`. */
  readonly clock?: Clock;
  /** Monotonic clock in ms, for the limiter. Default: `clock.now`. */
  readonly now?: () => number;
}

/** What the amplification rule needs to know of the request an answer goes back to. */
interface Request {
  readonly from: Endpoint;
  readonly size: number;
  /** Was the source a registered agent when the request arrived? */
  readonly registered: boolean;
}

/**
 * How many bytes longer than its request an answer to a source that is not
 * a registered agent may be: an `RL2`/`RL3` is one byte longer than its `PL`,
 * as the original answers. With the per-source rate limit this bounds what
 * a spoofed source can make the node send.
 */
export const MAX_ANSWER_GROWTH = 1;

/** Most forwarded look-ups awaiting an answer at once; past it, failover tracking pauses. */
const MAX_AWAITING = 10_000;

function bump<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Serves PLUMI on one socket until the socket closes. */
export class NodeServer {
  /** Live counters. */
  readonly stats: NodeStats = {
    received: 0,
    sent: 0,
    forwarded: 0,
    sendFailures: 0,
    malformed: {},
    dropped: {},
    bans: 0,
  };
  readonly #core: NodeCore;
  readonly #socket: DatagramSocket;
  readonly #locator: NodeLocator;
  readonly #log: PacketLog | undefined;
  readonly #maxBytes: number;
  readonly #onEvent: (event: NodeEvent) => void;
  readonly #pending = new Set<Promise<void>>();
  readonly #answerTimeoutMs: number;
  /** Look-ups forwarded to other nodes, by `from:to`, until their answer comes. */
  readonly #awaiting = new Map<string, TimerHandle>();
  /** Registrations waiting for a move probe, by `name ip:port`: copies of one are not queued twice. */
  readonly #heldMoves = new Set<string>();
  readonly #clock: Clock;
  readonly #liveness: Liveness;
  readonly #logger = getLogger(["lumi", "node"]);
  /** Internal errors logged in the current minute, and those left out since the last line. */
  #errorLog = { since: -Infinity, lines: 0, quiet: 0 };
  readonly #directory: Directory | undefined;
  readonly #extended: ExtendedService | undefined;
  readonly #remote: RemotePresence | undefined;
  readonly #limiter: RateLimiter | undefined;
  readonly #now: () => number;

  constructor(options: NodeServerOptions) {
    this.#directory = options.directory;
    this.#extended = options.extended;
    this.#remote = options.remote;
    this.#limiter = options.limiter;
    this.#liveness = options.core.liveness;
    this.#clock = options.clock ?? this.#liveness.clock;
    const clock = this.#clock;
    this.#now = options.now ?? (() => clock.now());
    this.#core = options.core;
    this.#socket = options.socket;
    this.#locator = options.locator;
    this.#log = options.log;
    this.#maxBytes = options.maxPacketBytes ?? MAX_PACKET_BYTES;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 1_000;
    this.#liveness.attach((to, message) => this.sendTo(to, message));
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
    for (const timer of this.#awaiting.values()) this.#clock.clearTimeout(timer);
    this.#awaiting.clear();
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

  #handle(bytes: Uint8Array, from: Endpoint): void {
    const now = this.#now();
    if (this.#limiter) {
      const verdict = this.#limiter.check(from.ip, now);
      if (verdict !== "pass") {
        // Counted, not logged per packet: a flood must not become a disk flood.
        bump(this.stats.dropped, "rate-limited");
        if (verdict === "ban-starts") {
          this.stats.bans++;
          this.#onEvent({
            kind: "banned",
            from,
            reason: "too many datagrams: ignored for a while",
          });
        } else if (verdict === "throttle-starts") {
          this.#logger.warn(
            "Exempt source {ip} is over its budget: the rest of each window's datagrams are dropped",
            { ...from },
          );
        }
        return;
      }
    }
    this.stats.received++;
    this.#log?.record("R", from, bytes);
    const decoded = decodePlumi(bytes, {
      maxBytes: this.#maxBytes,
      maxExtendedBytes: this.#extended ? MAX_EXTENDED_PACKET_BYTES : this.#maxBytes,
    });
    if (!decoded.ok) {
      bump(this.stats.malformed, decoded.error.kind);
      this.#onEvent({ kind: "malformed", from, reason: decoded.error.message });
      return;
    }
    const message = decoded.message;
    if (message.kind === "lookup-reply" && this.#awaiting.size > 0) {
      const key = `${message.from}:${message.to}`;
      const timer = this.#awaiting.get(key);
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      this.#awaiting.delete(key);
    }
    // Any datagram from a registered agent's address is a sign of life (and says it is registered).
    const request: Request = {
      from,
      size: bytes.length,
      registered: this.#directory ? this.#liveness.heard(from, now) : false,
    };
    if (this.#remote && message.kind === "ext-reply" && message.type === "P") {
      // Only the buddy's own node may say where the buddy is.
      const remote = this.#remote;
      const buddy = param(message.params, "b") ?? "";
      this.#track(
        this.#isNodeOf(buddy.slice(buddy.indexOf("@") + 1), from).then((verified) => {
          if (verified) remote.onAnswer(message);
          else bump(this.stats.dropped, "unverified-node");
        }),
        from,
      );
      return;
    }
    if (
      this.#remote && message.kind === "register-reply" && this.#remote.expectsProbeAnswer(from)
    ) {
      this.#remote.onProbeAnswer(message, from);
      return;
    }
    this.#route(message, request);
  }

  /**
   * One dispatch: to the extensions (after the checks of PR and PD) or to the
   * core. `probed`: the registration a move probe found silent.
   */
  #route(message: PlumiMessage, request: Request, probed?: Registration): void {
    if (this.#extended?.wants(message)) {
      if (message.kind === "register" || message.kind === "deregister") {
        const verdict = this.#core.admit(message, request.from, probed);
        if (verdict) return this.#perform(verdict, request);
      }
      this.#track(this.#handleExtended(this.#extended, message, request), request.from);
      return;
    }
    this.#perform(this.#core.handle(message, request.from, probed), request);
  }

  /** A PR that would move an online user: refused if the agent where it is answers a probe. */
  #holdForProbe(verdict: ProbeVerdict, request: Request): void {
    const key = `${verdict.name} ${request.from.ip}:${request.from.port}`;
    if (this.#heldMoves.has(key) || this.#heldMoves.size >= 10_000) {
      bump(this.stats.dropped, "move-pending"); // a copy: the first one will be answered
      return;
    }
    this.#heldMoves.add(key);
    const waiting = this.#liveness.probeMove(verdict.name, verdict.registration, (alive) => {
      this.#heldMoves.delete(key);
      try {
        // Alive: refused. Silent: the PR is handled (and checked again if anything changed).
        if (alive) this.#send(verdict.refusal, request);
        else {
          // Found silent: its agent is gone, as offline detection would have found in time.
          this.#directory?.lapse(verdict.name, verdict.registration.id);
          this.#route(verdict.message, request, verdict.registration);
        }
      } catch (error) {
        this.#internalError(error, request.from);
      }
    });
    if (!waiting) {
      this.#heldMoves.delete(key);
      bump(this.stats.dropped, "move-pending");
    }
  }

  async #handleExtended(
    extended: ExtendedService,
    message: PlumiMessage,
    request: Request,
  ): Promise<void> {
    if (message.kind === "ext-request" && message.type === "P") {
      // Presence is shown by who the watcher is: only the watcher's own node may ask.
      const watcher = param(message.params, "w") ?? "";
      if (!(await this.#isNodeOf(watcher.slice(watcher.indexOf("@") + 1), request.from))) {
        bump(this.stats.dropped, "unverified-node");
        return;
      }
      request = { ...request, registered: true };
    }
    for (const action of await extended.handle(message, request.from, request.size)) {
      this.#send(action, request);
    }
  }

  /** Is `endpoint` where `domain`'s node is found? */
  async #isNodeOf(domain: string, endpoint: Endpoint): Promise<boolean> {
    if (!domain) return false;
    const nodes = await this.#locator.locate(domain);
    return nodes.some((n) => n.ip === endpoint.ip && n.port === endpoint.port);
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

  #perform(action: Action, request: Request): void {
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
        this.#holdForProbe(action, request);
        return;
    }
  }

  async #forward(action: ForwardAction, request: Request): Promise<void> {
    const from = request.from;
    const { domain, ifUnresolved } = action;
    const endpoints = await this.#locator.locate(domain);
    const target = endpoints.find((e) => !this.#isSelf(e));
    if (!target) {
      const reason = endpoints.length ? "forward-to-self" : "unresolved-domain";
      bump(this.stats.dropped, reason);
      this.#onEvent({ kind: "dropped", from, reason: `${reason} ${domain}` });
      if (ifUnresolved) this.#send(ifUnresolved, request);
      return;
    }
    this.stats.forwarded++;
    this.#send({ kind: "send", to: target, message: action.message });
    if (action.message.kind === "lookup") this.#awaitAnswer(action.message, target);
  }

  #awaitAnswer(lookup: LookupRequest, target: Endpoint): void {
    const key = `${lookup.from}:${lookup.to}`;
    if (this.#awaiting.has(key) || this.#awaiting.size >= MAX_AWAITING) return;
    const timer = this.#clock.setTimeout(() => {
      this.#awaiting.delete(key);
      try {
        this.#locator.reportDown(target);
      } catch (error) {
        this.#internalError(error, target);
      }
    }, this.#answerTimeoutMs);
    this.#awaiting.set(key, timer);
  }

  #isSelf(endpoint: Endpoint): boolean {
    const local = this.#socket.local;
    if (endpoint.port !== local.port) return false;
    // Bound to every interface, this node also owns every loopback address at its port.
    return endpoint.ip === local.ip || (local.ip === "0.0.0.0" && endpoint.ip.startsWith("127."));
  }

  /**
   * Send, keeping the amplification rule: an answer back to a source that was
   * not a registered agent is at most {@linkcode MAX_ANSWER_GROWTH} bytes
   * longer than its request (so an `RL2`/`RL3` answers any `PL`, as the
   * original does; the per-source rate limit bounds the total).
   */
  #send(action: SendAction, request?: Request): void {
    const bytes = encodePlumi(action.message);
    const back = request && action.to.ip === request.from.ip &&
      action.to.port === request.from.port;
    if (back && !request.registered && bytes.length > request.size + MAX_ANSWER_GROWTH) {
      bump(this.stats.dropped, "amplification-guard");
      return;
    }
    this.#transmit(action.to, bytes);
  }

  #transmit(to: Endpoint, bytes: Uint8Array): void {
    this.stats.sent++;
    this.#log?.record("E", to, bytes);
    const sent = this.#socket.send(bytes, to);
    void sent.then((ok) => {
      if (!ok) this.stats.sendFailures++;
    });
  }

  /** Send a message of the node's own (presence queries, probes) to another node. */
  sendTo(to: Endpoint, message: PlumiMessage): void {
    this.#transmit(to, encodePlumi(message));
  }
}
