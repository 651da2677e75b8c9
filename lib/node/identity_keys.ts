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
import { IdentityExt, VouchExt } from "../plumi/extensions/mod.ts";
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
  const bound = vouchedKey(options, asked.who);
  return bound === undefined
    ? IdentityExt.encodeReply({ kind: "none", who: asked.who })
    : IdentityExt.encodeReply({ kind: "vouched", who: asked.who, key: bound });
}

/** The key bound to `address` when it is a password account of this node. */
function vouchedKey(options: IdentityKeysOptions, address: string): string | undefined {
  const [name, domain] = splitAddress(address);
  if (!options.isLocal(domain)) return undefined;
  return options.isProtected(name) ? options.store.identityKey(name) : undefined;
}

/**
 * Answers another domain's node that asks which key this node vouches for
 * one of its users (`PV`, `federated_keys.ts`; the server checked that it
 * comes from the node of the asker's domain). `undefined`: a query that does
 * not decode gets no answer.
 */
export function answerVouchQuery(
  options: IdentityKeysOptions,
  message: ExtensionRequest,
): ExtensionReply | undefined {
  const query = VouchExt.decodeRequest(message);
  if (!query.ok) return undefined;
  const { who, nonce } = query.value;
  const key = vouchedKey(options, who);
  return VouchExt.encodeReply(
    key === undefined ? { kind: "none", nonce, who } : { kind: "vouched", nonce, who, key },
  );
}
