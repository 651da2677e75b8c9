/**
 * The MI agent: registers a user with the node of their domain, finds peers
 * through it (PLUMI over UDP) and chats with them directly (PMI over TCP),
 * wire-compatible with the original implementation; several conversations at
 * once, and group chats as a negotiated PMI extension.
 *
 * At the top, {@linkcode runAgent} (`agent.ts`), its options (`options.ts`)
 * and errors (`errors.ts`); below, one folder per concept: `node/` (the
 * agent's side of PLUMI with its own node), `chat/` (conversations; the
 * accept side and the command side of a registered agent), `group/` (group
 * chats), `terminal/` (the terminal, the commands, every text shown),
 * `history/` (every line sent and received, in an SQLite file).
 *
 * @example
 * ```ts
 * import { runAgent } from "./mod.ts";
 * await runAgent({ address: "laura@bb.com", nick: "Laura" });
 * ```
 *
 * @module
 */

export { runAgent } from "./agent.ts";
export {
  type AgentOptions,
  type AgentTransport,
  checkAddress,
  checkNick,
  defaultLogFile,
  defaultTransport,
  resolveAgentOptions,
  type ResolvedAgentOptions,
} from "./options.ts";
export {
  AbortedError,
  describeError,
  GroupProtocolError,
  HandshakeError,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  OverloadError,
  PeerTimeoutError,
  RegistrationError,
  UsageError,
} from "./errors.ts";
export { addressKey, sameAddress } from "./addresses.ts";
export {
  formatLogLine,
  LOG_CLOSE_MARKER,
  LOG_OPEN_MARKER,
  type LogSink,
  openFileSink,
  PacketLog,
  type PacketLogOptions,
} from "../packet_log.ts";

/** The agent's side of PLUMI, with its own node. */
export * from "./node/mod.ts";
/** Conversations, and the agent at work: the accept side and the command side. */
export * from "./chat/mod.ts";
/** Group chats. */
export * from "./group/mod.ts";
/** The terminal, the commands and every text shown. */
export * from "./terminal/mod.ts";
/** The history of lines sent and received. */
export * from "./history/mod.ts";
