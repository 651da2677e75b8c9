/**
 * Group chats, a negotiated PMI extension: the agent's groups (`groups.ts`:
 * start, invite, answer links on the group port, leave), one group as one
 * member sees it (`group.ts`: a full mesh of links, delivery, membership),
 * one link between two members (`link.ts`: the `J`/`W`/`X` handshake,
 * keep-alives), the records and their `G` frames (`wire.ts`, pure), and the
 * original agents a member relays (`relays.ts`).
 *
 * @module
 */

export { type AttachKind, Group, type GroupHost, type MemberIdentity } from "./group.ts";
export { Groups, type GroupsOptions } from "./groups.ts";
export {
  answerGroupLink,
  dialGroupLink,
  GroupLink,
  type GroupLinkTiming,
  type LinkEvent,
  type LinkPeer,
} from "./link.ts";
export { noticeLines, type RelayedAgent, type RelayEvents, Relays } from "./relays.ts";
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
} from "./wire.ts";
