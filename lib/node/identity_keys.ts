/**
 * Identity keys on the node (`PI`, PROTOCOL.md "Identity keys"): an agent
 * publishes its public key after logging in, and the node binds it to a
 * password account, so that it can vouch for it when another agent of its
 * domain asks. A different key is refused unless the request says `replace`
 * (which only the account holder can send: its session came from a password
 * proof). Accounts without a password get no binding: the node could not tell
 * their holder from anyone else. Pure decisions over the account store.
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../plumi/messages.ts";
import { IdentityExt } from "../plumi/extensions/mod.ts";
import { splitAddress } from "./buddies.ts";
import type { AccountStore } from "./store.ts";

/** What the identity service needs of the node. */
export interface IdentityKeysOptions {
  readonly store: AccountStore;
  /** Whether `name` has a password. */
  readonly isProtected: (name: string) => boolean;
  /** Whether `domain` is this node's. */
  readonly isLocal: (domain: string) => boolean;
}

/** Answers `PI` requests of an authenticated `owner` (a user of this node). */
export function answerIdentity(
  options: IdentityKeysOptions,
  owner: string,
  message: ExtensionRequest,
): ExtensionReply {
  const request = IdentityExt.decodeRequest(message);
  if (!request.ok) return IdentityExt.encodeReply({ kind: "refused", error: "invalid" });
  const asked = request.value;
  if (asked.kind === "publish") {
    if (!options.isProtected(owner)) {
      return IdentityExt.encodeReply({ kind: "refused", error: "nopass" });
    }
    const bound = options.store.identityKey(owner);
    if (bound !== undefined && bound !== asked.key && !asked.replace) {
      return IdentityExt.encodeReply({ kind: "refused", error: "changed" });
    }
    if (bound !== asked.key) options.store.setIdentityKey(owner, asked.key);
    return IdentityExt.encodeReply({ kind: "bound" });
  }
  const [name, domain] = splitAddress(asked.who);
  if (!options.isLocal(domain)) return IdentityExt.encodeReply({ kind: "none", who: asked.who });
  const bound = options.isProtected(name) ? options.store.identityKey(name) : undefined;
  return bound === undefined
    ? IdentityExt.encodeReply({ kind: "none", who: asked.who })
    : IdentityExt.encodeReply({ kind: "vouched", who: asked.who, key: bound });
}
