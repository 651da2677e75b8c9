/**
 * What a node does for its users with other domains' nodes beyond look-ups
 * and presence: vouching for identity keys (`PV` / `RV`,
 * `federated_keys.ts`) and relays across domains (`PJ` / `RJ`,
 * `federated_relay.ts`). Here: the two services built together, which of
 * their messages only another domain's node may send (the node verification
 * guard of `guards.ts`), and where the answers go (`dispatch.ts`).
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { ExtensionReply, PlumiMessage } from "../plumi/messages.ts";
import { CrossRelayExt, VouchExt } from "../plumi/extensions/mod.ts";
import type { Directory } from "./directory.ts";
import { FederatedKeys, type FederatedKeysOptions } from "./federated_keys.ts";
import { FederatedRelay, type FederatedRelayOptions } from "./federated_relay.ts";
import type { RelayOffers } from "./relay_offer.ts";

/** The node's services across domains. */
export interface Federation {
  readonly keys: FederatedKeys;
  readonly relay: FederatedRelay;
}

/** What {@linkcode createFederation} needs of the node. */
export interface FederationOptions {
  readonly locator: NodeLocator;
  readonly send: (to: Endpoint, message: PlumiMessage) => void;
  /** The capability probe (`RemotePresence.isExtended`). */
  readonly isExtended: (node: Endpoint, domain: string) => Promise<boolean>;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly isLocal: (domain: string) => boolean;
  /** This node's relay, when on. Default: none. */
  readonly relay?: RelayOffers;
  /** Bounds and deadlines of vouching (defaults in `FederatedKeysOptions`). */
  readonly keys?: Partial<Pick<FederatedKeysOptions, "timeoutMs" | "maxPending" | "perAsker">>;
  /** Bounds and deadlines of relays (defaults in `FederatedRelayOptions`). */
  readonly relays?: Partial<
    Pick<FederatedRelayOptions, "timeoutMs" | "maxPending" | "perCallingDomain">
  >;
}

/** Build both services. */
export function createFederation(options: FederationOptions): Federation {
  const { locator, send, isExtended, clock } = options;
  return {
    keys: new FederatedKeys({ locator, send, isExtended, clock, ...options.keys }),
    relay: new FederatedRelay({
      locator,
      send,
      isExtended,
      clock,
      directory: options.directory,
      isLocal: options.isLocal,
      ...(options.relay && { relay: options.relay }),
      ...options.relays,
    }),
  };
}

const domainOf = (address: string) => address.slice(address.indexOf("@") + 1);

/**
 * The domain whose node alone may send `message`, for the messages of this
 * module (`undefined` for any other): a `PV` from the asker's node, an `RV`
 * from the vouched address's node, a `PJ` from the caller's node, an `RJ`
 * from the callee's node. `""` when it does not decode: no source passes.
 */
export function federatedClaim(message: PlumiMessage): string | undefined {
  if (message.kind === "ext-request" && message.type === "V") {
    const query = VouchExt.decodeRequest(message);
    return query.ok ? domainOf(query.value.asker) : "";
  }
  if (message.kind === "ext-reply" && message.type === "V") {
    const answer = VouchExt.decodeReply(message);
    return answer.ok ? domainOf(answer.value.who) : "";
  }
  if (message.kind === "ext-request" && message.type === "J") {
    return CrossRelayExt.decodeRequest(message).ok ? domainOf(message.address) : "";
  }
  if (message.kind === "ext-reply" && message.type === "J") {
    const answer = CrossRelayExt.decodeReply(message);
    return answer.ok ? domainOf(answer.value.callee) : "";
  }
  return undefined;
}

/** An answer of another node for one of the services (`RV`, `RJ`): taken; otherwise `false`. */
export function takeFederatedAnswer(federation: Federation, message: ExtensionReply): boolean {
  if (message.type === "V") federation.keys.onAnswer(message);
  else if (message.type === "J") federation.relay.onAnswer(message);
  else return false;
  return true;
}

/**
 * The counters of both services for the console's `stats`, flat:
 * `vouchQueries`, `vouchAnswers`, … and `relayForwarded`, `relayAnswers`, ….
 */
export function federationStats(federation: Federation): Record<string, number> {
  const flat: Record<string, number> = {};
  const add = (prefix: string, counters: object) => {
    for (const [key, value] of Object.entries(counters)) {
      flat[`${prefix}${key[0]!.toUpperCase()}${key.slice(1)}`] = value as number;
    }
  };
  add("vouch", federation.keys.stats);
  add("relay", federation.relay.stats);
  return flat;
}
