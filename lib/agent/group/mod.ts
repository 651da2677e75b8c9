/**
 * Group chats, a negotiated PMI extension: the agent's groups (`groups.ts`:
 * start, invite, answer links on the group port, leave), one group as one
 * member sees it (`group.ts`: a full mesh of links, delivery, membership),
 * one link between two members (`link.ts`: the encrypted handshake, then
 * `J`/`W`/`X`, keep-alives), records sealed in the encrypted channel
 * (`sealed.ts`, pure; `link_channel.ts` on a link), who may join
 * (`capability.ts`, pure), the records and their `G` frames (`wire.ts`,
 * pure), and the original agents a member relays in clear (`relays.ts`).
 *
 * @module
 */

export { type AttachKind, Group, type GroupHost, type MemberIdentity } from "./group.ts";
export { Groups, type GroupsOptions } from "./groups.ts";
export {
  answerGroupLink,
  dialGroupLink,
  GroupLink,
  type GroupLinkKeys,
  type GroupLinkRequest,
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
export {
  capability,
  checkCapability,
  newGroupSecret,
  secretFromText,
  secretToText,
} from "./capability.ts";
export { groupPrologue, RecordOpener, sealRecords, SECURE_GROUP_FRAME_TYPES } from "./sealed.ts";
