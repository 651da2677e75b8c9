/**
 * The MI agent: registers a user with the node of their domain, finds peers
 * through it (PLUMI over UDP) and chats with them directly (PMI over TCP),
 * wire-compatible with the original implementation.
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
  HandshakeError,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  RegistrationError,
  UsageError,
} from "./errors.ts";
export { DEFAULT_NODE_PORT, locateNode } from "./locate.ts";
export { chooseAdvertiseIp, type InterfaceAddress, isLoopback } from "./advertise.ts";
export {
  formatLogLine,
  LOG_END,
  LOG_START,
  type LogSink,
  openFileSink,
  PacketLog,
  type PacketLogOptions,
} from "./log.ts";
export { PlumiClient, type PlumiClientOptions } from "./plumi_client.ts";
export {
  Conversation,
  type ConversationEnd,
  type ConversationHandlers,
  type ConversationOptions,
  type ConversationRole,
} from "./conversation.ts";
export { sameAddress, Session, type SessionOptions } from "./session.ts";
export { type Command, HELP, parseCommand } from "./commands.ts";
export { say } from "./messages.ts";
export {
  type AgentUi,
  createConsoleUi,
  PlainUi,
  type PlainUiOptions,
  type RawTerminal,
  sanitize,
  TerminalUi,
} from "./ui.ts";
export { type EditorEvent, LineEditor } from "./line_editor.ts";
