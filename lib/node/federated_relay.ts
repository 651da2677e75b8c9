/**
 * The relay across domains (docs/PROTOCOL.md, "Relay for agents behind
 * NAT"), both nodes' sides:
 *
 * - **The caller's node** ({@linkcode FederatedRelay.forward}): a caller whose
 *   session it checked asks for a relay (`PY`) to a callee of another domain.
 *   It passes the request on to the callee's node (`PJ`, found as look-ups
 *   find it, once a capability probe showed it extended) and answers the
 *   caller with what comes back (`RJ0` → `RY0`, `RJ1` → `RY1` with the same
 *   reason), or `RY1;e=domain` when that node is original, cannot be found,
 *   stays silent, or a bound is reached.
 * - **The callee's node** ({@linkcode FederatedRelay.answer}): a `PJ` that
 *   the server verified came from the node of the caller's domain takes a
 *   session of its relay, as a local caller's request would (the foreign
 *   caller counts by its address in the per-user bound), within a bound per
 *   calling domain, offers it to the callee's agent and answers `RJ0` with
 *   the caller's key.
 *
 * An `RJ` is taken only from where the callee's domain's node is found and
 * only with the nonce of a pending request: see `federated_keys.ts` for what
 * that leaves to an attacker on the path.
 *
 * @module
 */

import { toBase64Url } from "../auth.ts";
import type { Clock, TimerHandle } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import { type Endpoint, normalizeDomain } from "../plumi/address.ts";
import type { ExtensionReply, ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import {
  CrossRelayExt,
  type CrossRelayRefusal,
  encodeRelayOffer,
  type RelayAnswer,
} from "../plumi/extensions/mod.ts";
import { canonical, splitAddress } from "./buddies.ts";
import type { Directory } from "./directory.ts";
import type { RelayOffers } from "./relay_offer.ts";
import { WindowCounter } from "./window_counter.ts";

/** Options of {@linkcode FederatedRelay}. */
export interface FederatedRelayOptions {
  readonly locator: NodeLocator;
  /** Send a message to another node. */
  readonly send: (to: Endpoint, message: PlumiMessage) => void;
  /** Is the node at `node` extended (capability probe, shared with presence)? */
  readonly isExtended: (node: Endpoint, domain: string) => Promise<boolean>;
  readonly clock: Clock;
  /** Who is online, for the callee's side. */
  readonly directory: Directory;
  /** Is `domain` this node's? */
  readonly isLocal: (domain: string) => boolean;
  /** This node's relay, when it offers one (the callee's side). Default: none (`RJ1;e=off`). */
  readonly relay?: RelayOffers;
  /** How long the caller's node waits for the callee's node, ms. Default: 1 500. */
  readonly timeoutMs?: number;
  /** Most requests the caller's node has pending at once. Default: 64. */
  readonly maxPending?: number;
  /** Most requests the caller's node sends to one domain per minute. Default: 60. */
  readonly perDomainPerMinute?: number;
  /** Most relay sessions for callers of one other domain at once (callee's side). Default: 16. */
  readonly perCallingDomain?: number;
  /** Draws a request's nonce. Default: 16 random bytes. */
  readonly newNonce?: () => string;
}

/** Counters, for the console's `stats` and the tests. */
export interface FederatedRelayStats {
  /** Requests passed on to other nodes. */
  forwarded: number;
  /** Answers taken (their nonce was a pending request's). */
  answers: number;
  /** Answers dropped: no such request pending, or another nonce. */
  stray: number;
  /** Requests that got no answer in time. */
  timeouts: number;
  /** Requests refused at once because of a bound (pending, per domain). */
  limited: number;
  /** Requests of other nodes answered (granted or refused). */
  served: number;
}

interface Pending {
  readonly id: string;
  readonly nonce: string;
  readonly done: Promise<RelayAnswer>;
  resolve: (answer: RelayAnswer) => void;
  timer?: TimerHandle;
}

const randomNonce = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const domainOf = (address: string) => normalizeDomain(address.slice(address.indexOf("@") + 1));
const ACROSS_REFUSED: RelayAnswer = { kind: "relay-refused", reason: "domain" };

/** Relays between a caller of one domain and a callee of another. */
export class FederatedRelay {
  readonly stats: FederatedRelayStats = {
    forwarded: 0,
    answers: 0,
    stray: 0,
    timeouts: 0,
    limited: 0,
    served: 0,
  };
  readonly #o: FederatedRelayOptions;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #perCallingDomain: number;
  readonly #newNonce: () => string;
  readonly #perDomain: WindowCounter;
  /** By `caller|callee` (canonical): one request in flight for its copies. */
  readonly #pending = new Map<string, Pending>();

  constructor(options: FederatedRelayOptions) {
    this.#o = options;
    this.#timeoutMs = options.timeoutMs ?? 1_500;
    this.#maxPending = options.maxPending ?? 64;
    this.#perCallingDomain = options.perCallingDomain ?? 16;
    this.#newNonce = options.newNonce ?? randomNonce;
    this.#perDomain = new WindowCounter(options.clock, 60_000, options.perDomainPerMinute ?? 60);
  }

  /** Requests pending now. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The caller's node: `caller` (whose session was checked) asks for a relay
   * to `callee` of another domain. Resolves with the answer for the caller;
   * never rejects.
   */
  async forward(caller: string, callee: string): Promise<RelayAnswer> {
    const id = `${canonical(caller)}|${canonical(callee)}`;
    const joined = this.#pending.get(id);
    if (joined) return await joined.done; // a retransmission: the same answer
    if (this.#pending.size >= this.#maxPending) return this.#limited();
    const domain = domainOf(callee);
    if (!this.#perDomain.take(domain)) return this.#limited();
    const pending = this.#open(id);
    try {
      const [node] = await this.#o.locator.locate(domain);
      if (!node || !(await this.#o.isExtended(node, domain))) {
        this.#settle(pending, ACROSS_REFUSED);
      } else if (this.#pending.get(id) === pending) {
        this.stats.forwarded++;
        this.#o.send(node, CrossRelayExt.encodeRequest({ caller, callee, nonce: pending.nonce }));
        pending.timer = this.#o.clock.setTimeout(() => {
          this.stats.timeouts++;
          this.#settle(pending, ACROSS_REFUSED);
        }, this.#timeoutMs);
      }
    } catch {
      this.#settle(pending, ACROSS_REFUSED); // the callee's node could not be found
    }
    return await pending.done;
  }

  /** The caller's node: an `RJ` from the callee's domain's node (the server checked the source). */
  onAnswer(message: ExtensionReply): void {
    const answer = CrossRelayExt.decodeReply(message);
    const pending = answer.ok ? this.#byNonce(answer.value.nonce, answer.value.callee) : undefined;
    if (!answer.ok || !pending) {
      this.stats.stray++;
      return;
    }
    this.stats.answers++;
    const value = answer.value;
    this.#settle(
      pending,
      value.kind === "granted"
        ? { kind: "relay-granted", relay: value.relay, key: value.key }
        : { kind: "relay-refused", reason: value.reason },
    );
  }

  /**
   * The callee's node: a `PJ` from the node of the caller's domain (the
   * server checked the source). The offer goes to the callee's agent; the
   * answer for the caller's node is returned (`undefined`: none, the request
   * did not decode).
   */
  answer(message: ExtensionRequest): ExtensionReply | undefined {
    const request = CrossRelayExt.decodeRequest(message);
    // Without a nonce to give back no answer would be taken: none is sent (the server counts it).
    if (!request.ok) return undefined;
    this.stats.served++;
    const { caller, callee, nonce } = request.value;
    const refuse = (reason: CrossRelayRefusal) =>
      CrossRelayExt.encodeReply({ kind: "refused", callee, nonce, reason });
    const [name, domain] = splitAddress(canonical(callee));
    const callerDomain = domainOf(caller);
    if (!this.#o.isLocal(domain) || this.#o.isLocal(callerDomain)) return refuse("invalid");
    const relay = this.#o.relay;
    if (!relay) return refuse("off");
    const registration = this.#o.directory.get(name);
    if (!registration?.session) return refuse("offline");
    const perDomain = relay.perCallingDomain ?? this.#perCallingDomain;
    if ((relay.sessionsFrom?.(callerDomain) ?? 0) >= perDomain) return refuse("full");
    const result = relay.request(canonical(caller), canonical(callee));
    if (!result.ok) return refuse("full");
    relay.notify(
      registration.endpoint,
      encodeRelayOffer({
        kind: "relay-offer",
        callee,
        caller,
        relay: relay.endpoint,
        key: result.session.keys.callee,
      }),
    );
    return CrossRelayExt.encodeReply({
      kind: "granted",
      callee,
      nonce,
      relay: relay.endpoint,
      key: result.session.keys.caller,
    });
  }

  /** Answer every request still pending (`RY1;e=domain`) and stop the timers. */
  close(): void {
    for (const pending of [...this.#pending.values()]) this.#settle(pending, ACROSS_REFUSED);
  }

  #byNonce(nonce: string, callee: string): Pending | undefined {
    const suffix = `|${canonical(callee)}`;
    for (const pending of this.#pending.values()) {
      if (pending.nonce === nonce && pending.id.endsWith(suffix)) return pending;
    }
    return undefined;
  }

  #open(id: string): Pending {
    let resolve!: (answer: RelayAnswer) => void;
    const done = new Promise<RelayAnswer>((r) => resolve = r);
    const pending: Pending = { id, nonce: this.#newNonce(), done, resolve };
    this.#pending.set(id, pending);
    return pending;
  }

  #settle(pending: Pending, answer: RelayAnswer): void {
    if (this.#pending.get(pending.id) !== pending) return;
    this.#pending.delete(pending.id);
    if (pending.timer !== undefined) this.#o.clock.clearTimeout(pending.timer);
    pending.resolve(answer);
  }

  #limited(): RelayAnswer {
    this.stats.limited++;
    return ACROSS_REFUSED;
  }
}
