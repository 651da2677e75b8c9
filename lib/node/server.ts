/**
 * The node's packet loop: receive, log, decode, decide (via
 * {@linkcode NodeCore}), resolve other domains' nodes, send, log.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, encodePlumi } from "../plumi/codec.ts";
import {
  type LookupRequest,
  MAX_EXTENDED_PACKET_BYTES,
  MAX_PACKET_BYTES,
  type PlumiErrorKind,
  type PlumiMessage,
} from "../plumi/messages.ts";
import type { Directory } from "./directory.ts";
import type { ExtendedService } from "./extended.ts";
import { param } from "../plumi/params.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { RemotePresence } from "./remote_presence.ts";
import type { NodeLocator } from "../locate.ts";
import type { PacketLog } from "../packet_log.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import type { Action, DropReason, ForwardAction, NodeCore, SendAction } from "./core.ts";

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
      | "unverified-node",
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
  | { readonly kind: "banned"; readonly from: Endpoint; readonly reason: string };

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
  /** Monotonic clock in ms, for the limiter. Default: `performance.now`. */
  readonly now?: () => number;
}

/** What the amplification rule needs to know of the request an answer goes back to. */
interface Request {
  readonly from: Endpoint;
  readonly size: number;
  /** Was the source a registered agent when the request arrived? */
  readonly registered: boolean;
  /** A node of this domain (by `from`'s domain in a look-up) may get a slightly longer answer once verified. */
  readonly nodeOf?: string;
}

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
  readonly #awaiting = new Map<string, ReturnType<typeof setTimeout>>();
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
    this.#now = options.now ?? (() => performance.now());
    this.#core = options.core;
    this.#socket = options.socket;
    this.#locator = options.locator;
    this.#log = options.log;
    this.#maxBytes = options.maxPacketBytes ?? MAX_PACKET_BYTES;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 1_000;
  }

  /** Receive and answer datagrams until the socket is closed. */
  async serve(): Promise<void> {
    for (;;) {
      const datagram = await this.#socket.receive();
      if (!datagram) break;
      this.handleDatagram(datagram.bytes, datagram.from);
    }
    await Promise.all(this.#pending);
    for (const timer of this.#awaiting.values()) clearTimeout(timer);
    this.#awaiting.clear();
  }

  /** Handle one datagram (exposed for in-process tests and benchmarks). */
  handleDatagram(bytes: Uint8Array, from: Endpoint): void {
    if (this.#limiter) {
      const verdict = this.#limiter.check(from.ip, this.#now());
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
      clearTimeout(this.#awaiting.get(key));
      this.#awaiting.delete(key);
    }
    const request: Request = {
      from,
      size: bytes.length,
      registered: this.#directory?.hasEndpoint(from) ?? false,
      ...(message.kind === "lookup" &&
        { nodeOf: message.from.slice(message.from.indexOf("@") + 1) }),
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
      );
      return;
    }
    if (
      this.#remote && message.kind === "register-reply" && this.#remote.expectsProbeAnswer(from)
    ) {
      this.#remote.onProbeAnswer(message, from);
      return;
    }
    if (this.#extended?.wants(message)) {
      this.#track(this.#handleExtended(this.#extended, message, request));
      return;
    }
    this.#perform(this.#core.handle(message, from), request);
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

  #track(work: Promise<void>): void {
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
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
        this.#track(this.#forward(action, request));
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
    const timer = setTimeout(() => {
      this.#awaiting.delete(key);
      this.#locator.reportDown(target);
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
   * not a registered agent is never longer than its request — unless the
   * source is verified to be the node of the caller's domain (whose RL2/RL3
   * answers are one byte longer than the look-up).
   */
  #send(action: SendAction, request?: Request): void {
    const bytes = encodePlumi(action.message);
    const back = request && action.to.ip === request.from.ip &&
      action.to.port === request.from.port;
    if (back && !request.registered && bytes.length > request.size) {
      const nodeOf = request.nodeOf;
      if (nodeOf === undefined) {
        bump(this.stats.dropped, "amplification-guard");
        return;
      }
      this.#track(
        this.#isNodeOf(nodeOf, request.from).then((verified) => {
          if (verified) this.#transmit(action.to, bytes);
          else bump(this.stats.dropped, "amplification-guard");
        }),
      );
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
