/**
 * The node's packet loop: receive, log, decode, decide (via
 * {@linkcode NodeCore}), resolve other domains' nodes, send, log.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, encodePlumi } from "../plumi/codec.ts";
import { type LookupRequest, MAX_PACKET_BYTES, type PlumiErrorKind } from "../plumi/messages.ts";
import type { NodeLocator } from "../locate.ts";
import { nullPacketLog, type PacketLog } from "../packet_log.ts";
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
  dropped: Partial<Record<DropReason | "unresolved-domain" | "forward-to-self", number>>;
}

/** Something worth telling the operator about. */
export type NodeEvent =
  | { readonly kind: "malformed"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "dropped"; readonly from: Endpoint; readonly reason: string };

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
  };
  readonly #core: NodeCore;
  readonly #socket: DatagramSocket;
  readonly #locator: NodeLocator;
  readonly #log: PacketLog;
  readonly #maxBytes: number;
  readonly #onEvent: (event: NodeEvent) => void;
  readonly #pending = new Set<Promise<void>>();
  readonly #answerTimeoutMs: number;
  /** Look-ups forwarded to other nodes, by `from:to`, until their answer comes. */
  readonly #awaiting = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(options: NodeServerOptions) {
    this.#core = options.core;
    this.#socket = options.socket;
    this.#locator = options.locator;
    this.#log = options.log ?? nullPacketLog;
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
    this.stats.received++;
    this.#log.record("R", from, bytes);
    const decoded = decodePlumi(bytes, { maxBytes: this.#maxBytes });
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
    this.#perform(this.#core.handle(message, from), from);
  }

  #perform(action: Action, from: Endpoint): void {
    switch (action.kind) {
      case "send":
        this.#send(action);
        return;
      case "drop":
        bump(this.stats.dropped, action.reason);
        this.#onEvent({ kind: "dropped", from, reason: action.reason });
        return;
      case "forward": {
        const work = this.#forward(action, from);
        this.#pending.add(work);
        void work.finally(() => this.#pending.delete(work));
        return;
      }
    }
  }

  async #forward(action: ForwardAction, from: Endpoint): Promise<void> {
    const { domain, ifUnresolved } = action;
    const endpoints = await this.#locator.locate(domain);
    const target = endpoints.find((e) => !this.#isSelf(e));
    if (!target) {
      const reason = endpoints.length ? "forward-to-self" : "unresolved-domain";
      bump(this.stats.dropped, reason);
      this.#onEvent({ kind: "dropped", from, reason: `${reason} ${domain}` });
      if (ifUnresolved) this.#send(ifUnresolved);
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

  #send(action: SendAction): void {
    const bytes = encodePlumi(action.message);
    this.stats.sent++;
    this.#log.record("E", action.to, bytes);
    const sent = this.#socket.send(bytes, action.to);
    void sent.then((ok) => {
      if (!ok) this.stats.sendFailures++;
    });
  }
}
