/**
 * The node's answer to a relay request (`PY`, `lib/plumi/extensions/relay.ts`): check
 * the caller's session, that the callee is this node's user and online with
 * an extended agent (an original agent is never sent `PY`), take a session of
 * the relay, hand the offer to the callee's agent to `notify` (the node's own
 * message, as its presence queries), and return the answer to the caller as
 * the one action the server performs.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import {
  decodeRelayPacket,
  encodeRelayAnswer,
  encodeRelayOffer,
  type RelayAnswer,
  type RelayRefusal,
} from "../plumi/extensions/mod.ts";
import { canonical, splitAddress } from "./buddies.ts";
import type { SendAction } from "./core.ts";
import type { Directory } from "./directory.ts";
import type { OfferResult } from "./relay_sessions.ts";

/** What the PLUMI side needs of the relay (`RelayService`) and of the node's socket. */
export interface RelayOffers {
  /** Where agents connect. */
  readonly endpoint: Endpoint;
  /** A session for `caller` to meet `callee`, or `full`. */
  request(caller: string, callee: string): OfferResult;
  /** Send the node's offer to the callee's agent. */
  notify(to: Endpoint, message: PlumiMessage): void;
  /** Sessions open now whose caller is of `domain` (the bound per calling domain). Default: 0. */
  sessionsFrom?(domain: string): number;
  /** Most sessions at once for callers of one other domain (`max-per-domain`). Default: 16. */
  readonly perCallingDomain?: number;
}

/** What {@linkcode relayRequest} needs of the node. */
export interface RelayContext {
  readonly relay: RelayOffers | undefined;
  readonly directory: Directory;
  readonly isLocal: (domain: string) => boolean;
  /** The caller's user name if the request carries its session token and comes from its agent. */
  readonly caller: (address: string, params: readonly string[]) => string | undefined;
  /**
   * A callee of another domain: the answer its node gives (`federated_relay.ts`).
   * Default: none (`RY1;e=domain`).
   */
  readonly elsewhere?: (caller: string, callee: string) => Promise<RelayAnswer>;
}

/** Answer one `PY` from `from`: the offer goes out through `notify`; the answer, or a refusal, is returned. */
export function relayRequest(
  message: ExtensionRequest,
  from: Endpoint,
  context: RelayContext,
): SendAction | Promise<SendAction> {
  const refuse = (reason: RelayRefusal): SendAction => ({
    kind: "send",
    to: from,
    message: encodeRelayAnswer({ kind: "relay-refused", reason }),
  });
  const packet = decodeRelayPacket(message);
  // An offer is the node's to send: one sent to a node is as malformed as any other.
  if (packet?.kind !== "relay-request") return refuse("invalid");
  if (!context.caller(packet.caller, message.params)) return refuse("auth");
  const caller = canonical(packet.caller);
  const callee = canonical(packet.callee);
  if (caller === callee) return refuse("invalid");
  const [name, domain] = splitAddress(callee);
  if (!context.isLocal(domain)) {
    if (!context.elsewhere) return refuse("domain");
    return context.elsewhere(packet.caller, packet.callee).then((answer) => ({
      kind: "send",
      to: from,
      message: encodeRelayAnswer(answer),
    }));
  }
  const relay = context.relay;
  if (!relay) return refuse("off");
  const registration = context.directory.get(name);
  if (!registration?.session) return refuse("offline");
  const result = relay.request(caller, callee);
  if (!result.ok) return refuse("full");
  const { session } = result;
  relay.notify(
    registration.endpoint,
    encodeRelayOffer({
      kind: "relay-offer",
      callee: packet.callee,
      caller: packet.caller,
      relay: relay.endpoint,
      key: session.keys.callee,
    }),
  );
  return {
    kind: "send",
    to: from,
    message: encodeRelayAnswer({
      kind: "relay-granted",
      relay: relay.endpoint,
      key: session.keys.caller,
    }),
  };
}
