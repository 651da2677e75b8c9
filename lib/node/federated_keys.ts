/**
 * Vouching across domains (docs/PROTOCOL.md, "Identity keys"): an agent asks
 * its node which key it vouches for an address (`PI…;w=<address>`); for an
 * address of another domain the node asks that domain's node (`PV`, found as
 * look-ups find it, and only once a capability probe showed it extended) and
 * answers the agent with what that node vouches for (`RI0`), or `RI2` when
 * it vouches for nothing, is original, cannot be found or stays silent.
 *
 * Who may forge the answer: the server accepts an `RV` only from where the
 * DNS (or the static map) puts the node of the vouched address's domain, and
 * this module only with the 16 random bytes of the query it sent; so a
 * stranger off the path cannot, and one on the path (or one who controls the
 * DNS answers) can. Each asking user has at most {@linkcode
 * FederatedKeysOptions.perAsker} questions pending, the node at most
 * `maxPending`, each domain is sent at most `perDomainPerMinute` queries a
 * minute, and answers are cached for `cacheMs`: every bound is a plain `RI2`
 * and a counter, never an error.
 *
 * @module
 */

import { toBase64Url } from "../auth.ts";
import type { Clock, TimerHandle } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import { type Endpoint, normalizeDomain } from "../plumi/address.ts";
import type { ExtensionReply, ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import { IdentityExt, VouchExt } from "../plumi/extensions/mod.ts";
import { canonical } from "./buddies.ts";
import { WindowCounter } from "./window_counter.ts";

/** Options of {@linkcode FederatedKeys}. */
export interface FederatedKeysOptions {
  readonly locator: NodeLocator;
  /** Send a message to another node. */
  readonly send: (to: Endpoint, message: PlumiMessage) => void;
  /** Is the node at `node` extended (capability probe, shared with presence)? */
  readonly isExtended: (node: Endpoint, domain: string) => Promise<boolean>;
  /** Timers (the answer deadline). */
  readonly clock: Clock;
  /** How long to wait for the other node's answer, ms. Default: 1 500. */
  readonly timeoutMs?: number;
  /** Most questions pending at once. Default: 256. */
  readonly maxPending?: number;
  /** Most questions one asking user waits for at once. Default: 4. */
  readonly perAsker?: number;
  /** Most queries sent to one domain per minute. Default: 120. */
  readonly perDomainPerMinute?: number;
  /** How long an answer is reused, ms. Default: 10 000. */
  readonly cacheMs?: number;
  /** Draws a query's nonce. Default: 16 random bytes. */
  readonly newNonce?: () => string;
}

/** Counters, for the console's `stats` and the tests. */
export interface FederatedKeysStats {
  /** Queries sent to other nodes. */
  queries: number;
  /** Answers taken (their nonce was a pending query's). */
  answers: number;
  /** Answers dropped: no such query pending, or another nonce. */
  stray: number;
  /** Queries that got no answer in time. */
  timeouts: number;
  /** Questions answered `RI2` at once because of a bound (pending, per asker, per domain). */
  limited: number;
}

interface Pending {
  readonly nonce: string;
  readonly who: string;
  readonly done: Promise<string | undefined>;
  resolve: (key: string | undefined) => void;
  timer?: TimerHandle;
}

const randomNonce = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const MAX_CACHED = 10_000;

/** Asks other domains' nodes which identity keys they vouch for, for this node's agents. */
export class FederatedKeys {
  readonly stats: FederatedKeysStats = {
    queries: 0,
    answers: 0,
    stray: 0,
    timeouts: 0,
    limited: 0,
  };
  readonly #o: FederatedKeysOptions;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #perAsker: number;
  readonly #cacheMs: number;
  readonly #newNonce: () => string;
  readonly #perDomain: WindowCounter;
  /** By vouched address (canonical): one query in flight for however many askers. */
  readonly #pending = new Map<string, Pending>();
  /** Questions pending, by asking user. */
  readonly #askers = new Map<string, number>();
  readonly #cache = new Map<string, { key: string | undefined; until: number }>();

  constructor(options: FederatedKeysOptions) {
    this.#o = options;
    this.#timeoutMs = options.timeoutMs ?? 1_500;
    this.#maxPending = options.maxPending ?? 256;
    this.#perAsker = options.perAsker ?? 4;
    this.#cacheMs = options.cacheMs ?? 10_000;
    this.#newNonce = options.newNonce ?? randomNonce;
    this.#perDomain = new WindowCounter(options.clock, 60_000, options.perDomainPerMinute ?? 120);
  }

  /** Questions pending now. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The answer to `PI…;w=<who>` of `asker` (a user of this node) when `who`
   * is of another domain: `RI0;w=…;ik=…` or `RI2;w=…`. `undefined` when the
   * request is not such a question (the local answer applies).
   */
  answer(
    asker: string,
    message: ExtensionRequest,
    isLocal: (domain: string) => boolean,
  ): Promise<ExtensionReply> | undefined {
    const request = IdentityExt.decodeRequest(message);
    if (!request.ok || request.value.kind !== "vouch") return undefined;
    const who = request.value.who;
    if (isLocal(who.slice(who.indexOf("@") + 1))) return undefined;
    return this.ask(asker, who).then((key) =>
      IdentityExt.encodeReply(
        key === undefined ? { kind: "none", who } : { kind: "vouched", who, key },
      )
    );
  }

  /** The key the node of `who`'s domain vouches for, or `undefined`. Never rejects. */
  async ask(asker: string, who: string): Promise<string | undefined> {
    const id = canonical(who);
    const cached = this.#cache.get(id);
    if (cached && cached.until > this.#o.clock.now()) return cached.key;
    if ((this.#askers.get(asker) ?? 0) >= this.#perAsker) return this.#limited();
    const joined = this.#pending.get(id);
    if (joined) return await this.#wait(joined, asker);
    if (this.#pending.size >= this.#maxPending) return this.#limited();
    const domain = normalizeDomain(id.slice(id.indexOf("@") + 1));
    if (!this.#perDomain.take(domain)) return this.#limited();
    const pending = this.#open(id);
    const waiting = this.#wait(pending, asker);
    try {
      const [node] = await this.#o.locator.locate(domain);
      if (!node || !(await this.#o.isExtended(node, domain))) {
        this.#settle(pending, undefined);
      } else if (this.#pending.get(id) === pending) {
        this.stats.queries++;
        this.#o.send(node, VouchExt.encodeRequest({ who, asker, nonce: pending.nonce }));
        pending.timer = this.#o.clock.setTimeout(() => {
          this.stats.timeouts++;
          this.#settle(pending, undefined, false);
        }, this.#timeoutMs);
      }
    } catch {
      this.#settle(pending, undefined, false); // the domain's node could not be found: nothing vouched
    }
    return await waiting;
  }

  /** An `RV` from the node of the vouched address's domain (the server checked the source). */
  onAnswer(message: ExtensionReply): void {
    const answer = VouchExt.decodeReply(message);
    const pending = answer.ok ? this.#pending.get(canonical(answer.value.who)) : undefined;
    if (!answer.ok || !pending || pending.nonce !== answer.value.nonce) {
      this.stats.stray++;
      return;
    }
    this.stats.answers++;
    this.#settle(pending, answer.value.kind === "vouched" ? answer.value.key : undefined);
  }

  /** Answer every question still pending with "none" and stop the timers. */
  close(): void {
    for (const pending of [...this.#pending.values()]) this.#settle(pending, undefined, false);
  }

  #open(id: string): Pending {
    let resolve!: (key: string | undefined) => void;
    const done = new Promise<string | undefined>((r) => resolve = r);
    const pending: Pending = { nonce: this.#newNonce(), who: id, done, resolve };
    this.#pending.set(id, pending);
    return pending;
  }

  async #wait(pending: Pending, asker: string): Promise<string | undefined> {
    this.#askers.set(asker, (this.#askers.get(asker) ?? 0) + 1);
    try {
      return await pending.done;
    } finally {
      const left = (this.#askers.get(asker) ?? 1) - 1;
      if (left > 0) this.#askers.set(asker, left);
      else this.#askers.delete(asker);
    }
  }

  /** The question is answered (`cache`: keep the answer for the next askers). */
  #settle(pending: Pending, key: string | undefined, cache = true): void {
    if (this.#pending.get(pending.who) !== pending) return;
    this.#pending.delete(pending.who);
    if (pending.timer !== undefined) this.#o.clock.clearTimeout(pending.timer);
    if (cache) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(pending.who, { key, until: this.#o.clock.now() + this.#cacheMs });
    }
    pending.resolve(key);
  }

  #limited(): undefined {
    this.stats.limited++;
    return undefined;
  }
}
