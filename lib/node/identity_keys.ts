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
import { parseAddress } from "../plumi/address.ts";
import { param } from "../plumi/params.ts";
import { reply, splitAddress } from "./buddies.ts";
import type { AccountStore } from "./store.ts";

/** URL-safe base64 of 32 bytes: 43 characters. */
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

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
  const key = param(message.params, "ik");
  const who = param(message.params, "w");
  if (key !== undefined) {
    if (!KEY_TEXT.test(key)) return reply("I", 1, "e=invalid");
    if (!options.isProtected(owner)) return reply("I", 1, "e=nopass");
    const bound = options.store.identityKey(owner);
    if (bound !== undefined && bound !== key && param(message.params, "replace") === undefined) {
      return reply("I", 1, "e=changed");
    }
    if (bound !== key) options.store.setIdentityKey(owner, key);
    return reply("I", 0);
  }
  if (who !== undefined) {
    const parsed = parseAddress(who);
    if (!parsed.ok) return reply("I", 1, "e=invalid");
    const [name, domain] = splitAddress(who);
    if (!options.isLocal(domain)) return reply("I", 2, `w=${who}`);
    const bound = options.isProtected(name) ? options.store.identityKey(name) : undefined;
    return bound === undefined
      ? reply("I", 2, `w=${who}`)
      : reply("I", 0, `w=${who}`, `ik=${bound}`);
  }
  return reply("I", 1, "e=invalid");
}
