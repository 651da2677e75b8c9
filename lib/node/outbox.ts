/**
 * The node's one way out: encode, log (`E`), count and send on the socket.
 * Built before everything that sends (the server's answers, the liveness
 * probes, the presence queries to other nodes), so that none of them needs
 * the server to exist first.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { encodePlumi } from "../plumi/codec.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import type { PacketLog } from "../packet_log.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import { newNodeStats, type NodeStats } from "./stats.ts";

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  /** The bound UDP socket. */
  readonly socket: DatagramSocket;
  /** Packet log. Default: none. */
  readonly log?: PacketLog;
  /** Where `sent` and `sendFailures` are counted. Default: fresh counters. */
  readonly stats?: NodeStats;
}

/** Sends datagrams of the node; see the module doc. */
export class Outbox {
  /** The node's counters (`sent`, `sendFailures` counted here). */
  readonly stats: NodeStats;
  readonly #socket: DatagramSocket;
  readonly #log: PacketLog | undefined;
  /** One callback for every send's result: no closure per datagram. */
  readonly #sent = (ok: boolean): void => {
    if (!ok) this.stats.sendFailures++;
  };

  constructor(options: OutboxOptions) {
    this.#socket = options.socket;
    this.#log = options.log;
    this.stats = options.stats ?? newNodeStats();
  }

  /** Send a message of the node's own (probes, presence queries): no amplification rule applies. */
  readonly send = (to: Endpoint, message: PlumiMessage): void => {
    this.transmit(to, encodePlumi(message));
  };

  /** Send encoded bytes (already checked by the caller's guards). */
  transmit(to: Endpoint, bytes: Uint8Array): void {
    this.stats.sent++;
    this.#log?.record("E", to, bytes);
    void this.#socket.send(bytes, to).then(this.#sent);
  }
}
