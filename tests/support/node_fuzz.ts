/**
 * Fuzz a running node over its UDP socket, and check the amplification rule
 * on every datagram while doing it.
 *
 * Most datagrams are sent each from a socket of its own, bound for it alone:
 * such a source is never a registered agent when its datagram arrives, so
 * everything the socket ever receives is the node's answer to that one
 * datagram, and must be at most one byte longer than it (docs/PROTOCOL.md, "Flood and
 * amplification rules"). A socket whose datagram registered it (it received
 * `RR0`) is an agent from then on, and only what came before counts.
 *
 * The rest go from a few long-lived sockets registered as the node's users,
 * so that datagrams from agents the node knows are fuzzed too. A "peer node"
 * socket stands at the address of another domain in the node's static map:
 * it receives what the node forwards there, and answers part of it with
 * mutated datagrams, which fuzzes the node-to-node path as well.
 *
 * Flow control: datagrams go in windows; after each window a probe — a
 * look-up whose answer carries a unique name — comes back only once the
 * node has read everything before it (one socket, read in order). At most
 * two windows are in flight, so the test measures the node, not the size of
 * the kernel's socket buffer. At the end a look-up of a domain that only DNS
 * can answer comes back after the answers that waited on DNS: then the fresh
 * sockets are closed. (So the node's DNS server must answer, as the one of
 * {@linkcode fuzzNodeConfig} does.)
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { MAX_ANSWER_GROWTH } from "../../lib/node/server.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { fromLatin1, latin1, mutate, PlumiFuzzer, type Vocabulary } from "./plumi_fuzz.ts";

/** Options of {@linkcode fuzzNode}. */
export interface NodeFuzzOptions {
  /** The node. */
  readonly node: Endpoint;
  /** The node's domain. */
  readonly domain: string;
  /** How many fuzz datagrams to send (when `datagrams` is not given). */
  readonly count?: number;
  /** Send exactly these instead of generated ones, each from a fresh socket. */
  readonly datagrams?: readonly Uint8Array[];
  /** Seed of the generator. */
  readonly seed: number;
  /** Names and domains to draw from (the node's users, its domain, the peer's domain…). */
  readonly vocabulary: Vocabulary;
  /** Users of the node that the long-lived agent sockets register as. */
  readonly agents: readonly string[];
  /** A user of the node reserved for the probes (it must not be in `vocabulary`). */
  readonly probeUser: string;
  /** The other domain's node, as the node's static map has it: its socket is bound there. */
  readonly peer?: Endpoint;
  /**
   * Datagrams per window. Default: 96, so that two windows of fuzz datagrams
   * (with the kernel's overhead of about a kilobyte each) fit in a default
   * 208 KB socket buffer.
   */
  readonly window?: number;
  /** Windows sent before waiting for the probe of the first. Default: 2. */
  readonly inFlight?: number;
  /** Share of datagrams sent from the registered agents' sockets. Default: 0.1. */
  readonly agentShare?: number;
  /** Share of what the peer node receives that it answers with a mutated datagram. Default: 0.3. */
  readonly peerAnswers?: number;
  /** Given every datagram before it is sent (to keep the nastiest). */
  readonly onDatagram?: (bytes: Uint8Array) => void;
}

/** A datagram whose answers were longer than itself. */
export interface Amplification {
  readonly request: string;
  readonly answers: readonly string[];
}

/** What {@linkcode fuzzNode} did and saw. */
export interface NodeFuzzReport {
  /** Fuzz datagrams sent (not counting probes and registrations). */
  sent: number;
  /** Of which from fresh, unregistered sockets. */
  fromFresh: number;
  /** Bytes of those. */
  freshBytesSent: number;
  /** Answers received on the fresh sockets, and their bytes. */
  freshAnswers: number;
  freshBytesReceived: number;
  /** Fresh sockets whose datagram registered them (their later traffic is an agent's). */
  registeredByFuzz: number;
  /** Datagrams answered with more than one byte more than they had: must stay empty. */
  amplifications: Amplification[];
  /** Datagrams the peer node received from the node, and answered. */
  peerReceived: number;
  peerAnswered: number;
  /** Probes that had to be sent again (the node or the kernel lost one). */
  probeRetries: number;
  elapsedMs: number;
}

/** A socket used for exactly one fuzz datagram. */
interface Fresh {
  readonly socket: DatagramSocket;
  readonly request: Uint8Array;
  readonly answers: Uint8Array[];
  /** Set once an `RR0` arrived: from then on the source is a registered agent. */
  readonly registered: boolean;
  readonly done: Promise<void>;
}

/**
 * Open the socket for one datagram. The system may give a port again once it
 * is closed; a port whose earlier socket registered is skipped, for to the
 * node it is still that user's agent (registered, so not bound by the rule).
 */
function openFresh(request: Uint8Array, registeredPorts: ReadonlySet<number>): Fresh {
  let socket = bindUdp({ ip: "127.0.0.1", port: 0 });
  for (let tries = 0; registeredPorts.has(socket.local.port) && tries < 100; tries++) {
    const taken = socket;
    socket = bindUdp({ ip: "127.0.0.1", port: 0 });
    taken.close();
  }
  const answers: Uint8Array[] = [];
  const state = { registered: false };
  const done = (async () => {
    for (;;) {
      const datagram = await socket.receive();
      if (!datagram) return;
      if (state.registered) continue;
      // A look-up is never an answer: it is sent to a user's registered address (a fuzzed PR
      // that the node moved there after probing the old one, once this port's earlier socket
      // had closed): the node's business with that user, not this datagram's answer.
      if (datagram.bytes[0] === 0x50 && datagram.bytes[1] === 0x4c) continue;
      answers.push(datagram.bytes);
      const text = fromLatin1(datagram.bytes);
      if (text === "RR0" || text.startsWith("RR0;")) state.registered = true;
    }
  })();
  return {
    socket,
    request,
    answers,
    get registered() {
      return state.registered;
    },
    done,
  };
}

/** Drain a socket forever (until closed), calling `each` on every datagram. */
function drain(
  socket: DatagramSocket,
  each: (bytes: Uint8Array, from: Endpoint) => void,
): Promise<void> {
  return (async () => {
    for (;;) {
      const datagram = await socket.receive();
      if (!datagram) return;
      each(datagram.bytes, datagram.from);
    }
  })();
}

/** Wait until `condition()` holds, re-checking whenever `wake` is called; false after `timeoutMs`. */
class Waiter {
  #wakers: Array<() => void> = [];

  wake(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }

  async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wakers.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return true;
  }
}

/**
 * Send `count` fuzz datagrams to a running node; see the module doc.
 * Throws if the node stops answering probes (five tries, one second each).
 */
export async function fuzzNode(options: NodeFuzzOptions): Promise<NodeFuzzReport> {
  const started = performance.now();
  const window = options.window ?? 96;
  const inFlight = options.inFlight ?? 2;
  // Fresh sockets stay open for at least this many more windows, to catch late answers.
  const keepOpen = Math.max(2, Math.ceil(200 / window));
  const given = options.datagrams;
  const count = given?.length ?? options.count ?? 0;
  const agentShare = given ? 0 : options.agentShare ?? 0.1;
  const peerAnswers = options.peerAnswers ?? 0.3;
  const fuzzer = new PlumiFuzzer(options.seed, { vocabulary: options.vocabulary });
  const random = fuzzer.random;
  const report: NodeFuzzReport = {
    sent: 0,
    fromFresh: 0,
    freshBytesSent: 0,
    freshAnswers: 0,
    freshBytesReceived: 0,
    registeredByFuzz: 0,
    amplifications: [],
    peerReceived: 0,
    peerAnswered: 0,
    probeRetries: 0,
    elapsedMs: 0,
  };
  const waiter = new Waiter();

  // The probe socket, registered as the probe user: its look-ups of made-up
  // names of the node's own domain come back as RL2 with that name in them.
  const probe = bindUdp({ ip: "127.0.0.1", port: 0 });
  const probeAnswers = new Set<string>();
  const probeLoop = drain(probe, (bytes) => {
    probeAnswers.add(fromLatin1(bytes));
    waiter.wake();
  });
  const agents = options.agents.map(() => bindUdp({ ip: "127.0.0.1", port: 0 }));
  const agentLoops = agents.map((socket) => drain(socket, () => {}));
  const peer = options.peer ? bindUdp(options.peer) : undefined;
  const peerLoop = peer &&
    drain(peer, (bytes, from) => {
      report.peerReceived++;
      if (!random.chance(peerAnswers)) return;
      report.peerAnswered++;
      const text = fromLatin1(bytes);
      void peer.send(latin1(mutate(random, text, fuzzer.nextText())), from);
    });

  const retrying = async (socket: DatagramSocket, text: string, expected: string) => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      if (attempt > 1) report.probeRetries++;
      await socket.send(latin1(text), options.node);
      if (await waiter.until(() => probeAnswers.has(expected), 1_000)) return;
    }
    throw new Error(`the node did not answer ${text} in five tries`);
  };
  const probeUser = `${options.probeUser}@${options.domain}`;
  const probeOf = (n: number) => `PL${probeUser}:fuzz-probe-${n}@${options.domain}`;
  const answerOf = (n: number) => `RL2${probeUser}:fuzz-probe-${n}@${options.domain}`;
  // A domain of its own for each run (a domain that did not resolve is cached for a while).
  const tailCallee = (n: number) => `fuzz-tail@fuzz-tail-${options.seed}-${n}.invalid`;
  const tailOf = (n: number) => `PL${probeUser}:${tailCallee(n)}`;
  const tailAnswerOf = (n: number) => `RL2${probeUser}:${tailCallee(n)}`;

  const open: Fresh[][] = [];
  const registeredPorts = new Set<number>();
  const settle = async (batch: Fresh[]) => {
    for (const fresh of batch) fresh.socket.close();
    await Promise.all(batch.map((fresh) => fresh.done));
    for (const fresh of batch) {
      let bytes = 0;
      for (const answer of fresh.answers) bytes += answer.length;
      report.freshAnswers += fresh.answers.length;
      report.freshBytesReceived += bytes;
      if (fresh.registered) {
        report.registeredByFuzz++;
        registeredPorts.add(fresh.socket.local.port);
      } else if (
        fresh.answers.length === 0 && fresh.request[0] === 0x50 &&
        (fresh.request[1] === 0x52 || fresh.request[1] === 0x4c)
      ) {
        // A PR not answered yet may be held while the node probes the user's agent elsewhere,
        // and register this port after the socket closed: to the node, a user's agent. A PL not
        // answered yet may be waiting on DNS for another domain, and its RL2 come after the
        // socket closed: to a later socket on this port it would look like an answer of its own.
        registeredPorts.add(fresh.socket.local.port);
      }
      // The bound of the amplification rule: at most one byte more (an RL2/RL3 for a PL).
      if (bytes > fresh.request.length + MAX_ANSWER_GROWTH) {
        report.amplifications.push({
          request: fromLatin1(fresh.request),
          answers: fresh.answers.map(fromLatin1),
        });
      }
    }
  };

  try {
    // Registrations first: the probe user, then the agents (a lost RR0 is asked again).
    probeAnswers.clear();
    for (let attempt = 1; attempt <= 5 && !probeAnswers.has("RR0"); attempt++) {
      await probe.send(latin1(`PR${probeUser}`), options.node);
      await waiter.until(() => probeAnswers.has("RR0"), 1_000);
    }
    if (!probeAnswers.has("RR0")) throw new Error(`the node does not register ${probeUser}`);
    await Promise.all(
      agents.map((socket, i) =>
        socket.send(latin1(`PR${options.agents[i]}@${options.domain}`), options.node)
      ),
    );

    let windowNo = 0;
    for (let sent = 0; sent < count; windowNo++) {
      const batch: Fresh[] = [];
      const sends: Promise<boolean>[] = [];
      const size = Math.min(window, count - sent);
      for (let i = 0; i < size; i++) {
        const bytes = given ? given[sent + i]! : fuzzer.next();
        options.onDatagram?.(bytes);
        if (agents.length > 0 && random.chance(agentShare)) {
          sends.push(random.pick(agents).send(bytes, options.node));
        } else {
          const fresh = openFresh(bytes, registeredPorts);
          batch.push(fresh);
          report.fromFresh++;
          report.freshBytesSent += bytes.length;
          sends.push(fresh.socket.send(bytes, options.node));
        }
      }
      await Promise.all(sends);
      sent += size;
      report.sent = sent;
      open.push(batch);
      await probe.send(latin1(probeOf(windowNo)), options.node);
      // At most `inFlight` windows unanswered: wait for the probe of the oldest.
      const oldest = windowNo - inFlight + 1;
      if (oldest >= 0 && !await waiter.until(() => probeAnswers.has(answerOf(oldest)), 1_000)) {
        await retrying(probe, probeOf(oldest), answerOf(oldest));
      }
      while (open.length > keepOpen + inFlight) await settle(open.shift()!);
    }
    await retrying(probe, probeOf(windowNo), answerOf(windowNo));
    // The node has read every datagram; answers that wait on DNS (a look-up of another domain)
    // are still to come. One more look-up, of a domain only DNS can answer (NXDOMAIN, then RL2),
    // takes the same path after all of them: its answer is the event that they are done. (A PR
    // held for a move probe is answered only after the probe's timeout: `settle` allows for it.)
    await retrying(probe, tailOf(windowNo), tailAnswerOf(windowNo));
    while (open.length > 0) await settle(open.shift()!);
  } finally {
    for (const batch of open) for (const fresh of batch) fresh.socket.close();
    probe.close();
    for (const socket of agents) socket.close();
    peer?.close();
    await Promise.all([probeLoop, ...agentLoops, peerLoop]);
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

/**
 * The configuration of a node under fuzzing: no rate limit (the fuzzer must
 * not be banned), sign-up open, a DNS server that answers NXDOMAIN, another
 * domain (`cc.com`) mapped to `peerPort` on 127.0.0.1, and `users`.
 */
export function fuzzNodeConfig(
  dnsPort: number,
  peerPort: number,
  users: readonly string[],
): string {
  return [
    "domain = bb.com",
    `dns-server = 127.0.0.1:${dnsPort}`,
    "[limits]",
    "rate-limit = 0",
    "[accounts]",
    "open-signup = yes",
    "[domains]",
    `cc.com = 127.0.0.1:${peerPort}`,
    "[users]",
    ...users,
    "",
  ].join("\n");
}
