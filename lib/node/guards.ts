/**
 * The guards of the packet path, checked before (and, for answers, after)
 * the one dispatch: the per-source rate limit (`rate_limit.ts`, applied
 * first by the server), the size bound (in `decodePlumi`), node
 * verification (a message only another domain's node may send must come
 * from where that domain's node is found) and the amplification rule (an
 * answer to a source that is not a registered agent is at most
 * {@linkcode MAX_ANSWER_GROWTH} bytes longer than its request).
 *
 * @module
 */

import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { PresenceExt } from "../plumi/extensions/mod.ts";
import { federatedClaim } from "./federation.ts";

/** A datagram that arrived, as the guards know it: the request an answer goes back to. */
export interface Inbound {
  readonly from: Endpoint;
  /** Its length in bytes. */
  readonly size: number;
  /** Was the source a registered agent (or a verified node) when the request arrived? */
  readonly registered: boolean;
}

/**
 * How many bytes longer than its request an answer to a source that is not
 * a registered agent may be: an `RL2`/`RL3` is one byte longer than its `PL`,
 * as the original answers. With the per-source rate limit this bounds what
 * a spoofed source can make the node send.
 */
export const MAX_ANSWER_GROWTH = 1;

/**
 * Would sending `bytes` to `to` break the amplification rule? Only answers
 * back to the request's source are bounded; `request` is undefined for the
 * node's own messages and for forwards.
 */
export function amplifies(bytes: number, to: Endpoint, request: Inbound | undefined): boolean {
  return request !== undefined && !request.registered &&
    bytes > request.size + MAX_ANSWER_GROWTH &&
    to.ip === request.from.ip && to.port === request.from.port;
}

/** What follows the `@` of `name@domain` (all of it without one; "" when absent). */
function domainOf(address: string | undefined): string {
  return address === undefined ? "" : address.slice(address.indexOf("@") + 1);
}

/**
 * The domain whose node alone may send `message`, or `undefined` when any
 * source may: an `RP` (a buddy's presence) only from the buddy's node, a
 * `PP` (a presence query) only from the watcher's node; the messages across
 * domains of `federation.ts` (`PV`, `RV`, `PJ`, `RJ`) as it says. `""` when
 * the message names no domain: no source passes.
 */
export function claimedNode(message: PlumiMessage): string | undefined {
  const across = federatedClaim(message);
  if (across !== undefined) return across;
  if (message.kind === "ext-reply" && message.type === "P") {
    const answer = PresenceExt.decodeReply(message);
    return answer.ok ? domainOf(answer.value.buddy) : ""; // unreadable: no node can be the buddy's
  }
  if (message.kind === "ext-request" && message.type === "P") {
    const query = PresenceExt.decodeRequest(message);
    return query.ok ? domainOf(query.value.watcher) : ""; // unreadable: no node can be the watcher's
  }
  return undefined;
}

/** Is `endpoint` where `domain`'s node is found? */
export async function isNodeOf(
  locator: NodeLocator,
  domain: string,
  endpoint: Endpoint,
): Promise<boolean> {
  if (!domain) return false;
  const nodes = await locator.locate(domain);
  return nodes.some((n) => n.ip === endpoint.ip && n.port === endpoint.port);
}
