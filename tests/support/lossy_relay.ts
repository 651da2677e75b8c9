/**
 * A lossy UDP relay for tests: it drops, duplicates and reorders datagrams,
 * from a seeded random generator, so that a run can be replayed.
 *
 * Two shapes:
 *
 * - {@linkcode LossyRelay.front} stands in front of one server (a node) like
 *   a NAT: agents send to the relay's address; for each agent it opens a
 *   socket of its own towards the server, so the server sees one address per
 *   agent and answers there; answers go back to the agent from the relay's
 *   address. Agents configured with the relay as their node never notice.
 * - {@linkcode LossyRelay.link} is a lossy wire between two fixed peers (two
 *   nodes): side A's static map points at `towardsB`, side B's at
 *   `towardsA`; what arrives on one is sent on from the other, so each peer
 *   sees the other's traffic come from the address it has in its map.
 *
 * Loss is bounded in bursts: a flow (one direction of one agent, or of the
 * link) never loses two datagrams in a row. With `drop` = 0.35 about 26 % of
 * datagrams are lost, yet a request and its answer over one relay get
 * through within four tries — inside an agent's budget of five — so tests
 * stay deterministic in outcome while the node sees heavy loss, duplicates
 * and reordering. {@linkcode LossyRelay.counts} says what was done.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { Random } from "./plumi_fuzz.ts";

/** How a relay mistreats datagrams. */
export interface LossOptions {
  /** Seed of the generator. */
  readonly seed: number;
  /** Chance of dropping a datagram (unless the flow's previous one was dropped). Default: 0.35. */
  readonly drop?: number;
  /** Chance of sending a datagram twice. Default: 0.15. */
  readonly duplicate?: number;
  /** Chance of holding a datagram back, so that later ones overtake it. Default: 0.3. */
  readonly reorder?: number;
  /** Longest hold-back, in ms. Default: 40. */
  readonly maxDelayMs?: number;
  /** Bind the relay's sockets on this IP. Default: 127.0.0.1. */
  readonly ip?: string;
}

/** What a relay did, in total. */
export interface RelayCounts {
  /** Datagrams that arrived at the relay. */
  received: number;
  /** Of which from the server (front) or from side B (link). */
  returned: number;
  /** Dropped on purpose. */
  dropped: number;
  /** Extra copies sent. */
  duplicated: number;
  /** Held back (sent late). */
  delayed: number;
  /** Datagrams sent on, copies included. */
  delivered: number;
  /** Delivered to the server (front) or to side B (link). */
  deliveredForward: number;
}

/** One direction of one peer: its own burst bound. */
interface Flow {
  lastDropped: boolean;
}

/** A relay that loses, duplicates and reorders; see the module doc. */
export class LossyRelay implements AsyncDisposable {
  readonly #random: Random;
  readonly #drop: number;
  readonly #duplicate: number;
  readonly #reorder: number;
  readonly #maxDelayMs: number;
  readonly #sockets: DatagramSocket[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #flows = new Map<string, Flow>();
  #idleWaiters: Array<() => void> = [];
  #closed = false;
  /** What the relay did so far. */
  readonly counts: RelayCounts = {
    received: 0,
    returned: 0,
    dropped: 0,
    duplicated: 0,
    delayed: 0,
    delivered: 0,
    deliveredForward: 0,
  };
  /** Agents (front) by `ip:port`, with their upstream sockets. */
  readonly #agents = new Map<string, DatagramSocket>();
  #front: DatagramSocket | undefined;
  #server: Endpoint | undefined;
  #ip = "127.0.0.1";
  #ends: { a: Endpoint; b: Endpoint } | undefined;

  private constructor(options: LossOptions) {
    this.#random = new Random(options.seed);
    this.#drop = options.drop ?? 0.35;
    this.#duplicate = options.duplicate ?? 0.15;
    this.#reorder = options.reorder ?? 0.3;
    this.#maxDelayMs = options.maxDelayMs ?? 40;
    this.#ip = options.ip ?? "127.0.0.1";
  }

  /** A NAT-like relay in front of `server`; agents send to {@linkcode LossyRelay.address}. */
  static front(server: Endpoint, options: LossOptions): LossyRelay {
    const relay = new LossyRelay(options);
    relay.#server = server;
    const front = relay.#bind();
    relay.#front = front;
    relay.#pump(front, (bytes, from) => {
      const key = `${from.ip}:${from.port}`;
      let upstream = relay.#agents.get(key);
      if (!upstream) {
        upstream = relay.#bind();
        relay.#agents.set(key, upstream);
        // What the server answers on this agent's socket goes back to the agent.
        relay.#pump(
          upstream,
          (answer) => relay.#pass(`down ${key}`, answer, front, from, false),
          true,
        );
      }
      relay.#pass(`up ${key}`, bytes, upstream, server, true);
    });
    return relay;
  }

  /**
   * A lossy wire between two peers. Bind now (so their configurations can
   * name `towardsA` and `towardsB`), then {@linkcode LossyRelay.connect} once
   * both peers know where they are.
   */
  static link(options: LossOptions): LossyRelay {
    const relay = new LossyRelay(options);
    const towardsB = relay.#bind(); // A sends here to reach B
    const towardsA = relay.#bind(); // B sends here to reach A
    relay.#pump(towardsB, (bytes) => {
      if (relay.#ends) relay.#pass("a->b", bytes, towardsA, relay.#ends.b, true);
    });
    relay.#pump(towardsA, (bytes) => {
      if (relay.#ends) relay.#pass("b->a", bytes, towardsB, relay.#ends.a, false);
    }, true);
    return relay;
  }

  /** Where the agents send (front), or where side A sends to reach B (link). */
  get address(): Endpoint {
    return (this.#front ?? this.#sockets[0]!).local;
  }

  /** Link: where side B sends to reach A. */
  get towardsA(): Endpoint {
    return this.#sockets[1]!.local;
  }

  /** Link: where side A sends to reach B. */
  get towardsB(): Endpoint {
    return this.#sockets[0]!.local;
  }

  /** Link: the two peers' real addresses. */
  connect(a: Endpoint, b: Endpoint): void {
    this.#ends = { a, b };
  }

  /** Front: the address the server sees for the agent at `agent`, once it has sent something. */
  upstreamOf(agent: Endpoint): Endpoint | undefined {
    return this.#agents.get(`${agent.ip}:${agent.port}`)?.local;
  }

  /** Resolves once no held-back datagram is left (everything sent is delivered or dropped). */
  idle(): Promise<void> {
    if (this.#timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #bind(): DatagramSocket {
    const socket = bindUdp({ ip: this.#ip, port: 0 });
    this.#sockets.push(socket);
    return socket;
  }

  #pump(
    socket: DatagramSocket,
    each: (bytes: Uint8Array, from: Endpoint) => void,
    returning = false,
  ): void {
    this.#loops.push((async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) return;
        this.counts.received++;
        if (returning) this.counts.returned++;
        each(datagram.bytes, datagram.from);
      }
    })());
  }

  /** Drop, duplicate or delay one datagram of `flow`, then send it from `via` to `to`. */
  #pass(flow: string, bytes: Uint8Array, via: DatagramSocket, to: Endpoint, forward: boolean) {
    const copies = this.#random.chance(this.#duplicate) ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    let state = this.#flows.get(flow);
    if (!state) this.#flows.set(flow, state = { lastDropped: false });
    for (let copy = 0; copy < copies; copy++) {
      if (!state.lastDropped && this.#random.chance(this.#drop)) {
        state.lastDropped = true;
        this.counts.dropped++;
        continue;
      }
      state.lastDropped = false;
      const send = () => {
        if (this.#closed) return;
        this.counts.delivered++;
        if (forward) this.counts.deliveredForward++;
        void via.send(bytes, to);
      };
      if (this.#random.chance(this.#reorder)) {
        this.counts.delayed++;
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          send();
          if (this.#timers.size === 0) this.#wakeIdle();
        }, 1 + this.#random.int(this.#maxDelayMs));
        this.#timers.add(timer);
      } else send();
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#wakeIdle();
    for (const socket of this.#sockets) socket.close();
    await Promise.all(this.#loops);
  }
}
