/**
 * Where a forward goes, and SRV failover: a look-up forwarded to another
 * domain's node that brings no answer within `answerTimeoutMs` marks that
 * node down ({@linkcode NodeLocator.reportDown}), so that the caller's
 * retransmission goes to the domain's next node. The deadlines run on the
 * node's clock.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { LookupReply, LookupRequest } from "../plumi/messages.ts";

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  /** Finds other domains' nodes. */
  readonly locator: NodeLocator;
  /** The timers of the answer deadlines. */
  readonly clock: Clock;
  /** Where this node listens: never a forward's target. */
  readonly local: Endpoint;
  /** How long a forwarded look-up waits for its answer before its node is marked down, in ms. Default: 1 000. */
  readonly answerTimeoutMs?: number;
  /** Called when marking a node down throws (a bug): the timer must not end the process. */
  readonly onError: (error: unknown, node: Endpoint) => void;
}

/** Most forwarded look-ups awaiting an answer at once; past it, failover tracking pauses. */
const MAX_AWAITING = 10_000;

/** Why a forward has no target. */
export type NoTarget = "unresolved-domain" | "forward-to-self";

/** Picks the node a forward goes to and watches forwarded look-ups' answers; see the module doc. */
export class Forwarder {
  readonly #locator: NodeLocator;
  readonly #clock: Clock;
  readonly #local: Endpoint;
  readonly #answerTimeoutMs: number;
  readonly #onError: (error: unknown, node: Endpoint) => void;
  /** Look-ups forwarded to other nodes, by `from:to`, until their answer comes. */
  readonly #awaiting = new Map<string, TimerHandle>();

  constructor(options: ForwarderOptions) {
    this.#locator = options.locator;
    this.#clock = options.clock;
    this.#local = options.local;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 1_000;
    this.#onError = options.onError;
  }

  /** The node of `domain` to forward to (the first that is not this node), or why there is none. */
  async target(domain: string): Promise<Endpoint | NoTarget> {
    const endpoints = await this.#locator.locate(domain);
    const target = endpoints.find((e) => !this.#isSelf(e));
    if (target) return target;
    return endpoints.length ? "forward-to-self" : "unresolved-domain";
  }

  /** `lookup` was just forwarded to `target`: start its answer deadline. */
  forwarded(lookup: LookupRequest, target: Endpoint): void {
    const key = `${lookup.from}:${lookup.to}`;
    if (this.#awaiting.has(key) || this.#awaiting.size >= MAX_AWAITING) return;
    const timer = this.#clock.setTimeout(() => {
      this.#awaiting.delete(key);
      try {
        this.#locator.reportDown(target);
      } catch (error) {
        this.#onError(error, target);
      }
    }, this.#answerTimeoutMs);
    this.#awaiting.set(key, timer);
  }

  /** An `RL` arrived: the look-up it answers (if forwarded) is no longer awaited. */
  answered(reply: LookupReply): void {
    if (this.#awaiting.size === 0) return;
    const key = `${reply.from}:${reply.to}`;
    const timer = this.#awaiting.get(key);
    if (timer === undefined) return;
    this.#clock.clearTimeout(timer);
    this.#awaiting.delete(key);
  }

  /** Stop every deadline (the node is closing). */
  close(): void {
    for (const timer of this.#awaiting.values()) this.#clock.clearTimeout(timer);
    this.#awaiting.clear();
  }

  #isSelf(endpoint: Endpoint): boolean {
    const local = this.#local;
    if (endpoint.port !== local.port) return false;
    // Bound to every interface, this node also owns every loopback address at its port.
    return endpoint.ip === local.ip || (local.ip === "0.0.0.0" && endpoint.ip.startsWith("127."));
  }
}
