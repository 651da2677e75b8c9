/**
 * Presence of buddies in other domains, asked of their nodes.
 *
 * Extension messages may only reach a node that announced it understands
 * them, so before the first query to a node its capability is probed with an
 * original-compatible packet: `PR.lumi-probe@<domain>;v=2` (a user name no
 * one has). An extended node answers `RR1;v=2;e=user`; an original node a
 * bare `RR1` (it ignores what follows the address) — then its users' presence
 * is shown as unknown, never as an error. Capabilities are remembered for
 * ten minutes.
 *
 * Queries (`PP<buddy>;w=<watcher>`) are padded so that the answer is never
 * larger than the question, and are sent at most once per `refreshMs` per
 * watcher and buddy, and only while someone asks (heartbeats or status
 * requests of the watcher): traffic is bounded by one query and one answer
 * per remote buddy of each online user per refresh interval.
 *
 * @module
 */

import { getLogger } from "#log";
import { type Clock, systemClock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { ExtensionReply, PlumiMessage, RegisterReply } from "../plumi/messages.ts";
import type { BuddyState, RemoteBuddies } from "./extended.ts";
import { isV2 } from "../plumi/params.ts";
import {
  NODE_PADDING_DASHES,
  type PresenceAnswer,
  PresenceExt,
  RegisterExt,
} from "../plumi/extensions/mod.ts";
import { PROBE_NAME } from "./liveness.ts";

/** The user name of capability probes (and of liveness probes); not a valid user anywhere by convention. */
export { PROBE_NAME };

/** Options of {@linkcode RemotePresence}. */
export interface RemotePresenceOptions {
  readonly locator: NodeLocator;
  /** Send a message to another node. */
  readonly send: (to: Endpoint, message: PlumiMessage) => void;
  /** How long a cached state is fresh, in ms (the heartbeat interval). */
  readonly refreshMs: number;
  /** How long to wait for a probe's answer, in ms. Default: 2 000. */
  readonly probeTimeoutMs?: number;
  /** Clock in ms. Default: `clock.now`. */
  readonly now?: () => number;
  /** Time and timers (the probe timeout). Default: the system clock. */
  readonly clock?: Clock;
}

interface Entry {
  state: BuddyState;
  endpoint?: Endpoint;
  stamp: number;
  askedAt: number;
}

interface Capability {
  extended: boolean | undefined;
  until: number;
  waiters: Array<(extended: boolean) => void>;
}

/** What an `RP` answer shows of the buddy. */
const SHOWN: Record<PresenceAnswer, BuddyState> = {
  on: "on",
  busy: "busy",
  "no-such-user": "?",
  off: "off",
  "not-shared": "?",
};
const CAPABILITY_MS = 600_000;
const MAX_ENTRIES = 100_000;
const key = (e: Endpoint) => `${e.ip}:${e.port}`;

/** Cached presence of remote buddies, refreshed by asking their nodes. */
export class RemotePresence implements RemoteBuddies {
  readonly #locator: NodeLocator;
  readonly #send: (to: Endpoint, message: PlumiMessage) => void;
  readonly #refreshMs: number;
  readonly #probeTimeoutMs: number;
  readonly #now: () => number;
  readonly #timers: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #capabilities = new Map<string, Capability>();
  #clock = 0;
  /** Queries sent, for the console's `stats`. */
  queries = 0;
  /** Queries that could not be sent (finding the buddy's node failed): counted, never thrown. */
  failedQueries = 0;
  readonly #log = getLogger(["lumi", "node", "presence"]);

  constructor(options: RemotePresenceOptions) {
    this.#locator = options.locator;
    this.#send = options.send;
    this.#refreshMs = options.refreshMs;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
    const clock = options.clock ?? systemClock;
    this.#timers = clock;
    this.#now = options.now ?? (() => clock.now());
  }

  status(
    watcher: string,
    buddy: string,
  ): { state: BuddyState; endpoint?: Endpoint; stamp: number } {
    const id = `${watcher}|${buddy}`;
    let entry = this.#entries.get(id);
    if (!entry) {
      if (this.#entries.size >= MAX_ENTRIES) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      entry = { state: "?", stamp: 0, askedAt: -Infinity };
      this.#entries.set(id, entry);
    }
    if (this.#now() - entry.askedAt >= this.#refreshMs) {
      entry.askedAt = this.#now();
      this.#ask(watcher, buddy).catch((error) => {
        this.failedQueries++;
        this.#log.debug("Cannot ask the node of {buddy}: {error}", { buddy, error });
      });
    }
    return entry;
  }

  async #ask(watcher: string, buddy: string): Promise<void> {
    const domain = buddy.slice(buddy.indexOf("@") + 1);
    const [node] = await this.#locator.locate(domain);
    if (!node || !(await this.isExtended(node, domain))) return;
    this.queries++;
    // Padded (by the definition) to at least as long as its longest answer.
    this.#send(node, PresenceExt.encodeRequest({ buddy, watcher }));
  }

  /**
   * Does the node at `node` (of `domain`) speak the extensions? Probed once
   * (`PR.lumi-probe@<domain>;v=2`), then remembered for ten minutes; also
   * used before vouching and relays across domains (`federation.ts`).
   */
  isExtended(node: Endpoint, domain: string): Promise<boolean> {
    const known = this.#capabilities.get(key(node));
    if (known && known.until > this.#now()) {
      if (known.extended !== undefined) return Promise.resolve(known.extended);
      return new Promise((resolve) => known.waiters.push(resolve));
    }
    const capability: Capability = {
      extended: undefined,
      until: this.#now() + CAPABILITY_MS,
      waiters: [],
    };
    this.#capabilities.set(key(node), capability);
    const answer = new Promise<boolean>((resolve) => capability.waiters.push(resolve));
    this.#send(
      node,
      RegisterExt.encodeRequest({
        address: `${PROBE_NAME}@${domain}`,
        replace: false,
        pad: { dashes: NODE_PADDING_DASHES },
      }),
    );
    const timer = this.#timers.setTimeout(
      () => this.#settle(node, false, 60_000),
      this.#probeTimeoutMs,
    );
    void answer.then(() => this.#timers.clearTimeout(timer));
    return answer;
  }

  #settle(node: Endpoint, extended: boolean, validMs = CAPABILITY_MS): void {
    const capability = this.#capabilities.get(key(node));
    if (!capability || capability.extended !== undefined) return;
    capability.extended = extended;
    capability.until = this.#now() + validMs;
    for (const wake of capability.waiters.splice(0)) wake(extended);
  }

  /** Is a probe waiting for an answer from `from`? */
  expectsProbeAnswer(from: Endpoint): boolean {
    return this.#capabilities.get(key(from))?.extended === undefined &&
      this.#capabilities.has(key(from));
  }

  /** The answer to a capability probe. */
  onProbeAnswer(message: RegisterReply, from: Endpoint): void {
    this.#settle(from, isV2(message.params));
  }

  /** An `RP` answer from another node (one that does not decode is ignored). */
  onAnswer(message: ExtensionReply): void {
    const answer = PresenceExt.decodeReply(message);
    if (!answer.ok) return;
    const { watcher, buddy, at } = answer.value;
    const entry = this.#entries.get(`${watcher}|${buddy}`);
    if (!entry) return;
    const state = SHOWN[answer.value.answer];
    const endpoint = state === "on" || state === "busy" ? at : undefined;
    if (
      state !== entry.state ||
      key(endpoint ?? { ip: "", port: 0 }) !== key(entry.endpoint ?? { ip: "", port: 0 })
    ) {
      entry.state = state;
      if (endpoint) entry.endpoint = endpoint;
      else delete entry.endpoint;
      entry.stamp = ++this.#clock;
    }
  }
}
