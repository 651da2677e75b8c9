/**
 * Buddy lists and presence on the node: changes (`PB`), status pages
 * (`PS`), other nodes' presence queries (`PP`), and
 * the heartbeat mark. Callers are authenticated by {@linkcode ExtendedService}
 * before they get here. The mutual rule: a user's presence is shown only to
 * watchers the user has added.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { normalizeDomain } from "../plumi/address.ts";
import type { ExtensionReply, ExtensionRequest } from "../plumi/messages.ts";
import {
  type BuddyChangeError,
  BuddyChangeExt,
  type BuddyEntry,
  type BuddyState,
  BuddyStatusExt,
  type PresenceAnswer,
  PresenceExt,
  TRAIL_LENGTH,
} from "../plumi/extensions/mod.ts";
import type { Directory } from "./directory.ts";
import type { AccountStore } from "./store.ts";

/** Presence of buddies in other domains (see `remote_presence.ts`). */
export interface RemoteBuddies {
  /** Cached state of `buddy` as shown to `watcher`; asks its node again when stale. */
  status(watcher: string, buddy: string): { state: BuddyState; endpoint?: Endpoint; stamp: number };
}

/** What a watcher may see of a buddy (defined with the `PS` message). */
export type { BuddyState };

/** A local user's presence: online, busy or offline. */
type Presence = "on" | "busy" | "off";

/**
 * What the node last saw of a local user's presence, and its last few
 * changes: a watcher whose agent saw change `seq − k` is told the `k`
 * states since, so that a buddy who leaves and comes back between two of its
 * status requests produces both lines.
 */
interface PresenceRecord {
  /** `Directory.presenceStamp` when last seen: it moves at every online, offline or busy change. */
  stamp: number;
  /** The id of the registration seen then, 0 offline (a new one means the user registered again). */
  registration: number;
  state: Presence;
  /** Changes seen so far. */
  seq: number;
  /** The states after the last changes, oldest first; the last is `state`. */
  trail: Presence[];
}

/** `name@domain` as `[name, domain]` (split at the first `@`). */
export function splitAddress(address: string): [string, string] {
  const at = address.indexOf("@");
  return [address.slice(0, at), address.slice(at + 1)];
}

/** An address as buddy lists keep and compare it: the domain in lower case, without a trailing dot. */
export function canonical(address: string): string {
  const [name, domain] = splitAddress(address);
  return `${name}@${normalizeDomain(domain)}`;
}

/** How an `RP` tells each state of a local user. */
const PRESENCE_OF: Record<BuddyState, PresenceAnswer> = {
  on: "on",
  busy: "busy",
  off: "off",
  "?": "not-shared",
};

/** Options of {@linkcode BuddyService}. */
export interface BuddyServiceOptions {
  readonly domain: string;
  readonly directory: Directory;
  readonly store: AccountStore;
  /** Presence of other domains' buddies. Default: always unknown. */
  readonly remote?: RemoteBuddies;
  /** Is `domain` this node's? */
  readonly isLocal: (domain: string) => boolean;
  /** Most buddies per user. Default: 200. */
  readonly maxBuddies?: number;
}

/** The node's buddy lists and presence. */
export class BuddyService {
  readonly #domain: string;
  readonly #directory: Directory;
  readonly #store: AccountStore;
  readonly #remote: RemoteBuddies | undefined;
  readonly #isLocal: (domain: string) => boolean;
  readonly #maxBuddies: number;
  /** Presence records of the local users someone watches (see {@linkcode PresenceRecord}). */
  readonly #journal = new Map<string, PresenceRecord>();

  constructor(options: BuddyServiceOptions) {
    this.#domain = normalizeDomain(options.domain);
    this.#directory = options.directory;
    this.#store = options.store;
    this.#remote = options.remote;
    this.#isLocal = options.isLocal;
    this.#maxBuddies = options.maxBuddies ?? 200;
  }

  /**
   * A mark that changes whenever anything `owner` may see of its buddies
   * changes, and only then (it must not tell what the mutual rule hides):
   * the newest presence change among the local buddies that share their
   * presence with `owner`, how many do, and the newest remote change.
   * Starting or stopping to share touches the sharer's presence stamp.
   */
  stamp(owner: string): string {
    const self = `${owner}@${this.#domain}`;
    const sharing = new Set(this.#store.watchers(self));
    let local = 0;
    let shared = 0;
    let remote = 0;
    for (const buddy of this.#store.buddies(owner)) {
      const [name, domain] = splitAddress(buddy);
      if (!this.#isLocal(domain)) {
        remote = Math.max(remote, this.#remote?.status(self, buddy).stamp ?? 0);
      } else if (sharing.has(name)) {
        this.#observe(name); // changes are recorded as the watchers' heartbeats come by
        local = Math.max(local, this.#directory.presenceStamp(name));
        shared++;
      }
    }
    return `${local}.${shared}.${remote}`;
  }

  /**
   * Bring the presence record of local user `name` up to date. The directory
   * keeps only the present state and a stamp that moves at every change, so
   * a change between two looks is inferred: another state is one change; the
   * same state with a moved stamp and a new registration (or offline both
   * times) is two — the user left and came back, or came and went.
   */
  #observe(name: string): PresenceRecord | undefined {
    const found = this.#directory.get(name);
    if (found === undefined) {
      this.#journal.delete(name);
      return undefined;
    }
    const state: Presence = !found ? "off" : found.session?.busy ? "busy" : "on";
    const registration = found?.id ?? 0;
    const stamp = this.#directory.presenceStamp(name);
    const record = this.#journal.get(name);
    if (!record) {
      const fresh = { stamp, registration, state, seq: 0, trail: [state] };
      this.#journal.set(name, fresh);
      return fresh;
    }
    const steps: Presence[] = [];
    if (state !== record.state) steps.push(state);
    else if (
      stamp !== record.stamp && (state === "off" || registration !== record.registration)
    ) steps.push(state === "off" ? "on" : "off", state);
    record.stamp = stamp;
    record.registration = registration;
    record.state = state;
    if (steps.length > 0) {
      record.seq += steps.length;
      record.trail = [...record.trail, ...steps].slice(-TRAIL_LENGTH);
    }
    return record;
  }

  /** `PB`: add or remove a buddy of `owner` (already authenticated). */
  change(owner: string, message: ExtensionRequest): ExtensionReply {
    const refused = (error: BuddyChangeError) =>
      BuddyChangeExt.encodeReply({ kind: "refused", error });
    const done = BuddyChangeExt.encodeReply({ kind: "done" });
    const request = BuddyChangeExt.decodeRequest(message);
    if (!request.ok) return refused("invalid");
    const buddy = canonical(request.value.buddy);
    if (buddy === `${owner}@${this.#domain}`) return refused("self");
    if (request.value.op === "add") {
      if (this.#store.buddyCount(owner) >= this.#maxBuddies) return refused("full");
      // What `buddy` may see of `owner` changed (mutual rule): its heartbeat mark must change too.
      if (this.#store.addBuddy(owner, buddy)) this.#directory.touchPresence(owner);
      return done;
    }
    if (!this.#store.removeBuddy(owner, buddy)) return refused("absent");
    this.#directory.touchPresence(owner);
    return done;
  }

  /** What `watcher` (a local user) may see of `buddy`. */
  #stateOf(watcher: string, buddy: string): { state: BuddyState; endpoint?: Endpoint } {
    const [name, domain] = splitAddress(buddy);
    if (!this.#isLocal(domain)) {
      return this.#remote?.status(`${watcher}@${this.#domain}`, buddy) ?? { state: "?" };
    }
    return this.#localPresence(name, `${watcher}@${this.#domain}`);
  }

  /** Presence of local user `name` as seen by `watcher` (any domain): shown only if `name` added `watcher`. */
  #localPresence(name: string, watcher: string): { state: BuddyState; endpoint?: Endpoint } {
    const registration = this.#directory.get(name);
    if (registration === undefined || !this.#store.hasBuddy(name, canonical(watcher))) {
      return { state: "?" };
    }
    if (!registration) return { state: "off" };
    return { state: registration.session?.busy ? "busy" : "on", endpoint: registration.endpoint };
  }

  /**
   * `PS`: one page of the status of every buddy of `owner` (already
   * authenticated). With `h=1`, each shared local buddy also carries its
   * change count and its last states (`b=on,ip,port,7,on.off.on,joan@bb.com`).
   */
  status(owner: string, message: ExtensionRequest): ExtensionReply {
    // A body that does not decode (a page or `h` repeated or malformed) is read as none.
    const request = BuddyStatusExt.decodeRequest(message);
    const history = request.ok && request.value.history;
    const entries = this.#store.buddies(owner).map((buddy): BuddyEntry => {
      const { state, endpoint } = this.#stateOf(owner, buddy);
      const entry = { address: buddy, state, ...(endpoint && { endpoint }) };
      if (!history) return entry;
      const [name, domain] = splitAddress(buddy);
      const record = state !== "?" && this.#isLocal(domain) ? this.#observe(name) : undefined;
      return record ? { ...entry, seq: record.seq, trail: record.trail } : entry;
    });
    return BuddyStatusExt.encodePage(entries, request.ok ? request.value.page : 1, history);
  }

  /** Another node asks what its user (`w=`) may see of our user. */
  presenceQuery(message: ExtensionRequest): ExtensionReply {
    const request = PresenceExt.decodeRequest(message);
    if (!request.ok) return PresenceExt.encodeBadWatcher(message);
    const { watcher, buddy } = request.value;
    const [name, domain] = splitAddress(buddy);
    const answer = (answer: PresenceAnswer, at?: Endpoint) =>
      PresenceExt.encodeReply({ watcher, buddy, answer, ...(at && { at }) });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return answer("no-such-user");
    const { state, endpoint } = this.#localPresence(name, watcher);
    return answer(PRESENCE_OF[state], endpoint);
  }
}
