/**
 * LUMI, a federated P2P messenger compatible with the original MI protocols:
 * the node ({@linkcode runNode}, the locator of one domain, PLUMI over UDP),
 * the agent ({@linkcode runAgent}, the user's program: it registers with its
 * node, finds peers through it, and chats with them over PMI/TCP), and the
 * pure codecs of both protocols. `main_node.ts` and `main_agent.ts` are thin
 * command lines over `runNode` and `runAgent`.
 *
 * @example Run a node and an agent in one process
 * ```ts
 * import { runAgent, runNode } from "@lumi/lumi";
 *
 * const stop = new AbortController();
 * const node = runNode({ configPath: "nodelumi.cfg", signal: stop.signal });
 * await runAgent({
 *   address: "laura@bb.com",
 *   nick: "Laura",
 *   node: { ip: "127.0.0.1", port: 3344 },
 * });
 * stop.abort();
 * await node;
 * ```
 *
 * @example Decode and encode a PLUMI datagram
 * ```ts
 * import { decodePlumi, formatPlumi } from "@lumi/lumi";
 *
 * const decoded = decodePlumi(new TextEncoder().encode("PLlaura@bb.com:joan@bb.com"));
 * if (decoded.ok) console.log(formatPlumi(decoded.message)); // PLlaura@bb.com:joan@bb.com
 * ```
 *
 * @module
 */

/** The node: {@linkcode runNode} and its options. */
export { NodeStartError, runNode, type RunNodeOptions } from "./node/run.ts";

/** The agent: {@linkcode runAgent}, its options and the errors it ends with. */
export {
  AbortedError,
  type AgentOptions,
  type AgentTransport,
  type AgentUi,
  GaveUpError,
  GroupProtocolError,
  HandshakeError,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  OverloadError,
  PeerTimeoutError,
  RegistrationError,
  runAgent,
  SignedInElsewhereError,
  UsageError,
  WrongPasswordError,
} from "./agent/mod.ts";

/** PLUMI (UDP, agent to node and node to node): messages by `kind`, the codec, addresses. */
export * from "./plumi/mod.ts";

/** PMI (TCP, agent to agent): frames and the stream decoder. */
export * from "./pmi/mod.ts";

/** The seams the options of both programs take: the clock, sockets, DNS, the packet log. */
export { type Clock, ManualClock, systemClock, type TimerHandle } from "./clock.ts";
export { type DnsClient, systemDns } from "./transport/dns.ts";
export type { StreamConn, StreamListener } from "./transport/tcp.ts";
export type { Datagram, DatagramSocket } from "./transport/udp.ts";
export type { LogSink } from "./packet_log.ts";
export type { InterfaceAddress } from "./agent/mod.ts";
