/**
 * The MI agent: registers a user with the node of their domain, finds peers
 * through it (PLUMI over UDP) and chats with them directly (PMI over TCP),
 * wire-compatible with the original implementation; several conversations at
 * once, and group chats as a negotiated PMI extension.
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
export { GaveUpError } from "./node/sign_in.ts";
export { SignedInElsewhereError, WrongPasswordError } from "./node/extended_client.ts";
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
export { DEFAULT_NODE_PORT, locateNode } from "./node/find_node.ts";
export { chooseAdvertiseIp, type InterfaceAddress, isLoopback } from "./node/advertise.ts";
export {
  formatLogLine,
  LOG_CLOSE_MARKER,
  LOG_OPEN_MARKER,
  type LogSink,
  openFileSink,
  PacketLog,
  type PacketLogOptions,
} from "../packet_log.ts";
export { PlumiClient, type PlumiClientOptions } from "./node/client.ts";
export {
  Conversation,
  type ConversationEnd,
  type ConversationHandlers,
  type ConversationOptions,
  type ConversationRole,
  exchangeNicks,
  type Handshake,
} from "./chat/conversation.ts";
export { PmiLink, type PmiLinkOptions } from "./chat/pmi_link.ts";
export { Admission, type AdmissionOptions } from "./chat/admission.ts";
export { addressKey, sameAddress } from "./addresses.ts";
export { Session, type SessionOptions } from "./chat/switchboard.ts";
export { type Chat, Roster, type Target } from "./chat/roster.ts";
export {
  availableReply,
  featureFields,
  NO_FEATURES,
  parseFeatures,
  type PeerFeatures,
} from "./chat/features.ts";
export { type AttachKind, Group, type GroupHost, type MemberIdentity } from "./group/group.ts";
export { Groups, type GroupsOptions } from "./group/groups.ts";
export { noticeLines, type RelayedAgent, type RelayEvents, Relays } from "./group/relays.ts";
export { Dialer, type DialerOptions, type Found } from "./chat/dialer.ts";
export {
  answerGroupLink,
  dialGroupLink,
  GroupLink,
  type GroupLinkTiming,
  type LinkEvent,
  type LinkPeer,
} from "./group/link.ts";
export {
  decodeRecord,
  encodeRecord,
  formatRecord,
  GROUP_FRAME_TYPE,
  type GroupRecord,
  type JoinRecord,
  MAX_GROUP_TEXT_BYTES,
  MAX_RECORD_BYTES,
  RecordAssembler,
} from "./group/wire.ts";
export { type Command, HELP, parseCommand } from "./terminal/commands.ts";
export { say } from "./terminal/texts.ts";
export {
  type AgentUi,
  createConsoleUi,
  PlainUi,
  type PlainUiOptions,
  type RawTerminal,
  sanitize,
  TerminalUi,
} from "./terminal/ui.ts";
export { type EditorEvent, LineEditor } from "./terminal/line_editor.ts";
