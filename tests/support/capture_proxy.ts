/**
 * A UDP proxy in front of a node that records every datagram, for tests of
 * what crosses the wire: agents send to {@linkcode CaptureProxy.address};
 * for each agent the proxy opens a socket of its own towards the node (the
 * node sees one address per agent, as behind a NAT) and passes everything
 * on unchanged, both ways. A test may then send any datagram to the node
 * from an agent's own upstream socket ({@linkcode CaptureProxy.inject}: a
 * copy "from the same source") and wait for what the node answers.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { bytesToText, TimeoutError } from "./udp_peer.ts";

/** One datagram seen by the proxy. */
export interface Captured {
  /** `up`: agent to node; `down`: node to agent. */
  readonly direction: "up" | "down";
  /** The agent's own address (not the proxy's). */
  readonly agent: string;
  readonly text: string;
}

/** A recording proxy in front of one node; see the module doc. */
export class CaptureProxy implements AsyncDisposable {
  readonly #node: Endpoint;
  readonly #front: DatagramSocket;
  readonly #upstreams = new Map<string, DatagramSocket>();
  readonly #loops: Promise<void>[] = [];
  readonly #waiters = new Set<() => void>();
  /** Everything that passed, in order. */
  readonly captured: Captured[] = [];

  private constructor(node: Endpoint, ip: string) {
    this.#node = node;
    this.#front = bindUdp({ ip, port: 0 });
    this.#pump(this.#front, (bytes, from) => {
      const agent = `${from.ip}:${from.port}`;
      let upstream = this.#upstreams.get(agent);
      if (!upstream) {
        const socket = bindUdp({ ip, port: 0 });
        this.#upstreams.set(agent, socket);
        this.#pump(socket, (answer) => {
          this.#record("down", agent, answer);
          void this.#front.send(answer, from);
        });
        upstream = socket;
      }
      this.#record("up", agent, bytes);
      void upstream.send(bytes, this.#node);
    });
  }

  /** A proxy on `ip` (port 0) in front of `node`. */
  static open(node: Endpoint, ip = "127.0.0.1"): CaptureProxy {
    return new CaptureProxy(node, ip);
  }

  /** Where agents send (give it as their node). */
  get address(): Endpoint {
    return this.#front.local;
  }

  /** The address the node sees for `agent` (`ip:port`), once it sent something. */
  upstreamOf(agent: string): Endpoint | undefined {
    return this.#upstreams.get(agent)?.local;
  }

  /**
   * Send `text` to the node from `agent`'s upstream socket (as if the agent
   * sent it) and wait for the node's next answer of its type (`RK…` to a
   * `PK…`). What the node answers goes on to the agent, as any answer does.
   */
  async inject(agent: string, text: string, timeoutMs = 3_000): Promise<string> {
    const upstream = this.#upstreams.get(agent);
    if (!upstream) throw new Error(`no agent ${agent} has sent anything yet`);
    const from = this.captured.length;
    const type = `R${text.charAt(1)}`;
    await upstream.send(new TextEncoder().encode(text), this.#node);
    const answer = await this.waitFor(
      (c) => c.direction === "down" && c.agent === agent && c.text.startsWith(type),
      from,
      timeoutMs,
    );
    return answer.text;
  }

  /** The first datagram from index `from` on that `match`es, waiting for it if need be. */
  async waitFor(
    match: (captured: Captured) => boolean,
    from = 0,
    timeoutMs = 5_000,
  ): Promise<Captured> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = from;;) {
      for (; seen < this.captured.length; seen++) {
        if (match(this.captured[seen]!)) return this.captured[seen]!;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`no such datagram within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  #record(direction: "up" | "down", agent: string, bytes: Uint8Array): void {
    this.captured.push({ direction, agent, text: bytesToText(bytes) });
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #pump(socket: DatagramSocket, each: (bytes: Uint8Array, from: Endpoint) => void): void {
    this.#loops.push((async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) return;
        each(datagram.bytes, datagram.from);
      }
    })());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#front.close();
    for (const socket of this.#upstreams.values()) socket.close();
    await Promise.all(this.#loops);
    for (const wake of this.#waiters) wake();
  }
}
