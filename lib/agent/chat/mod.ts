/**
 * One-to-one conversations, and the agent at work between registration and
 * deregistration: the accept side (`reception.ts`: look-ups answered,
 * connections admitted by `admission.ts`, handshakes) and the command side
 * (`switchboard.ts`: calls placed by `dialer.ts`, lines, the open
 * conversations and groups of `roster.ts`). One conversation is
 * `conversation.ts` over one PMI connection (`pmi_link.ts`); the features a
 * callee announces in `RL0` are `features.ts`; meeting a peer at its node's
 * relay (behind NAT) is `relay_call.ts`.
 *
 * @module
 */

export { Admission, type AdmissionOptions } from "./admission.ts";
export {
  Conversation,
  type ConversationEnd,
  type ConversationHandlers,
  type ConversationOptions,
  type ConversationRole,
  exchangeNicks,
  explainEnd,
  type Handshake,
} from "./conversation.ts";
export { Dialer, type DialerOptions, type Found } from "./dialer.ts";
export {
  availableReply,
  featureFields,
  NO_FEATURES,
  parseFeatures,
  type PeerFeatures,
} from "./features.ts";
export { PmiLink, type PmiLinkOptions } from "./pmi_link.ts";
export { Reception, type ReceptionOptions } from "./reception.ts";
export { AgentRelay, type AgentRelayOptions, RelayUnavailableError } from "./relay_call.ts";
export { type Chat, Roster, type Target } from "./roster.ts";
export { type IncomingCall, Switchboard, type SwitchboardOptions } from "./switchboard.ts";
