/**
 * The PLUMI extension messages (`v=2`, docs/PROTOCOL.md "PLUMI extensions"),
 * each defined once: the encoding and decoding of its parameters, its error
 * codes, its examples. The node's handlers, the agent's client, the fuzzers
 * and the tests all use these definitions, so the two sides cannot drift
 * apart. Pure: no I/O; decoding never throws, it returns a typed value or a
 * typed failure ({@linkcode ExtDecodeError}).
 *
 * | message                      | definition          | file              |
 * | ---------------------------- | ------------------- | ----------------- |
 * | `PR…;v=2` / `RR…;v=2`        | `RegisterExt`       | `register.ts`     |
 * | `PD…;v=2` / `RD…;v=2`        | `DeregisterExt`     | `deregister.ts`   |
 * | `PK` / `RK` heartbeat        | `HeartbeatExt`      | `heartbeat.ts`    |
 * | `PU` / `RU` sign-up          | `SignUpExt`         | `signup.ts`       |
 * | `PB` / `RB` buddy change     | `BuddyChangeExt`    | `buddy_change.ts` |
 * | `PS` / `RS` buddy status     | `BuddyStatusExt`    | `buddy_status.ts` |
 * | `PO` / `RO` who is online    | `OnlineExt`         | `online.ts`       |
 * | `PP` / `RP` presence query   | `PresenceExt`       | `presence.ts`     |
 * | `PY` / `RY` relay            | `RelayExt`          | `relay.ts`        |
 * | `PI` / `RI` identity keys    | `IdentityExt`       | `identity.ts`     |
 * | `PV` / `RV` vouch, nodes     | `VouchExt`          | `vouch.ts`        |
 * | `PJ` / `RJ` relay, nodes     | `CrossRelayExt`     | `cross_relay.ts`  |
 * | `PM` / `RM` offline deposit  | `DepositExt`        | `mailbox_deposit.ts` |
 * | `PF` / `RF` offline fetch    | `FetchExt`          | `mailbox_fetch.ts` |
 * | `PW` / `RW` key for offline  | `KeyExt`            | `mailbox_key.ts`  |
 *
 * Fields (`t=`, `b=`, …) are defined once in `fields.ts` / `session.ts`, the
 * `e=` codes once in `errors.ts` ({@linkcode EXT_ERRORS}), the packet letters
 * once in `../messages.ts` ({@linkcode EXTENSION_LETTERS}).
 *
 * **Adding an extension message** takes one definition, one node handler and
 * one client method:
 * 1. its letter in `EXTENSION_LETTERS` (then {@linkcode EXTENSIONS} does not
 *    type-check until step 2 is done), any new `e=` code in `EXT_ERRORS`;
 * 2. a file here exporting an {@linkcode ExtensionDefinition} (fields,
 *    request and reply types, encode/decode, examples), listed in
 *    `EXTENSIONS`; `extensions_test.ts` then round-trips its examples and
 *    the fuzzers generate its fields;
 * 3. the node: a case in `ExtendedService` (`lib/node/extended.ts`) that
 *    decodes the request and returns `Def.encodeReply(…)`;
 * 4. the agent: a method on `ExtendedSession` that sends `Def.encodeRequest(…)`
 *    and reads `Def.decodeReply(…)`.
 *
 * @example
 * ```ts
 * import { HeartbeatExt } from "./mod.ts";
 * HeartbeatExt.encodeRequest({ address: "laura@bb.com", busy: true });
 * // { kind: "ext-request", type: "K", address: "laura@bb.com", params: ["st=busy"] } (then sealed)
 * const r = HeartbeatExt.decodeReply({ kind: "ext-reply", type: "K", code: 0, params: ["c=1.2.0"] });
 * // { ok: true, value: { kind: "alive", mark: "1.2.0" } }
 * ```
 *
 * @module
 */

import type { ExtensionType } from "../messages.ts";
import type { MessageInfo } from "./definition.ts";
import { BuddyChangeExt } from "./buddy_change.ts";
import { BuddyStatusExt } from "./buddy_status.ts";
import { DeregisterExt } from "./deregister.ts";
import { HeartbeatExt } from "./heartbeat.ts";
import { OnlineExt } from "./online.ts";
import { PresenceExt } from "./presence.ts";
import { RegisterExt } from "./register.ts";
import { RelayExt } from "./relay.ts";
import { IdentityExt } from "./identity.ts";
import { SignUpExt } from "./signup.ts";
import { VouchExt } from "./vouch.ts";
import { CrossRelayExt } from "./cross_relay.ts";
import { DepositExt } from "./mailbox_deposit.ts";
import { FetchExt } from "./mailbox_fetch.ts";
import { KeyExt } from "./mailbox_key.ts";

export {
  type Decoded,
  type ExtDecodeError,
  type Field,
  type FieldKind,
  PARAM_PROBLEMS,
  type ParamProblem,
} from "./fields.ts";
export * from "./errors.ts";
export type { ExtensionDefinition, MessageInfo } from "./definition.ts";
export * from "./session.ts";
export * from "./register.ts";
export * from "./deregister.ts";
export * from "./heartbeat.ts";
export * from "./signup.ts";
export * from "./buddy_change.ts";
export * from "./buddy_status.ts";
export * from "./online.ts";
export * from "./presence.ts";
export * from "./relay.ts";
export * from "./identity.ts";
export * from "./vouch.ts";
export * from "./cross_relay.ts";
export * from "./mailbox_fields.ts";
export * from "./mailbox_deposit.ts";
export * from "./mailbox_fetch.ts";
export * from "./mailbox_key.ts";

/** The definition of each extension packet type, by letter: every letter has one. */
export const EXTENSIONS: { readonly [L in ExtensionType]: MessageInfo } = {
  K: HeartbeatExt,
  U: SignUpExt,
  B: BuddyChangeExt,
  S: BuddyStatusExt,
  O: OnlineExt,
  P: PresenceExt,
  Y: RelayExt,
  I: IdentityExt,
  V: VouchExt,
  J: CrossRelayExt,
  M: DepositExt,
  F: FetchExt,
  W: KeyExt,
};

/** Every `v=2` message: the extended registration and deregistration, and each extension type. */
export const V2_MESSAGES: readonly MessageInfo[] = [
  RegisterExt,
  DeregisterExt,
  ...Object.values(EXTENSIONS),
];
