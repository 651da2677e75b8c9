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
import { normalizeDomain, parseAddress } from "../plumi/address.ts";
import {
  type ExtensionReply,
  type ExtensionRequest,
  type ExtensionType,
  MAX_EXTENDED_PACKET_BYTES,
} from "../plumi/messages.ts";
import { paginate, param } from "../plumi/params.ts";
import type { Directory } from "./directory.ts";
import type { AccountStore } from "./store.ts";

/** Presence of buddies in other domains (see `remote_presence.ts`). */
export interface RemoteBuddies {
  /** Cached state of `buddy` as shown to `watcher`; asks its node again when stale. */
  status(watcher: string, buddy: string): { state: BuddyState; endpoint?: Endpoint; stamp: number };
}

/** What a watcher may see of a buddy. */
export type BuddyState = "on" | "busy" | "off" | "?";

export function reply(type: ExtensionType, code: number, ...params: string[]): ExtensionReply {
  return { kind: "ext-reply", type, code, params };
}

export function splitAddress(address: string): [string, string] {
  const at = address.indexOf("@");
  return [address.slice(0, at), address.slice(at + 1)];
}

/** An address as buddy lists keep and compare it: the domain in lower case, without a trailing dot. */
export function canonical(address: string): string {
  const [name, domain] = splitAddress(address);
  return `${name}@${normalizeDomain(domain)}`;
}

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
        local = Math.max(local, this.#directory.presenceStamp(name));
        shared++;
      }
    }
    return `${local}.${shared}.${remote}`;
  }

  /** `PB`: add or remove a buddy of `owner` (already authenticated). */
  change(owner: string, message: ExtensionRequest): ExtensionReply {
    const raw = param(message.params, "b") ?? "";
    if (!parseAddress(raw).ok) return reply("B", 1, "e=invalid");
    const buddy = canonical(raw);
    if (buddy === `${owner}@${this.#domain}`) return reply("B", 1, "e=self");
    const op = param(message.params, "op");
    if (op === "add") {
      if (this.#store.buddyCount(owner) >= this.#maxBuddies) return reply("B", 1, "e=full");
      // What `buddy` may see of `owner` changed (mutual rule): its heartbeat mark must change too.
      if (this.#store.addBuddy(owner, buddy)) this.#directory.touchPresence(owner);
      return reply("B", 0);
    }
    if (op === "del") {
      if (!this.#store.removeBuddy(owner, buddy)) return reply("B", 1, "e=absent");
      this.#directory.touchPresence(owner);
      return reply("B", 0);
    }
    return reply("B", 1, "e=invalid");
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

  /** `PS`: one page of the status of every buddy of `owner` (already authenticated). */
  status(owner: string, message: ExtensionRequest): ExtensionReply {
    const entries = this.#store.buddies(owner).map((buddy) => {
      const { state, endpoint } = this.#stateOf(owner, buddy);
      return `b=${state},${endpoint?.ip ?? ""},${endpoint?.port ?? ""},${buddy}`;
    });
    return this.#page("S", entries, message.params);
  }

  #page(type: ExtensionType, entries: string[], params: readonly string[]): ExtensionReply {
    // "R?0;p=NNNNN/NNNNN" is at most 17 bytes.
    const pages = paginate(entries, 17, MAX_EXTENDED_PACKET_BYTES);
    const wanted = Math.min(Math.max(1, Number(param(params, "p")) || 1), pages.length);
    return reply(type, 0, `p=${wanted}/${pages.length}`, ...pages[wanted - 1]!);
  }

  /** Another node asks what its user (`w=`) may see of our user. */
  presenceQuery(message: ExtensionRequest): ExtensionReply {
    const watcher = param(message.params, "w") ?? "";
    const [name, domain] = splitAddress(message.address);
    const base = [`w=${watcher}`, `b=${message.address}`];
    if (!parseAddress(watcher).ok || !this.#isLocal(domain)) return reply("P", 2, ...base);
    if (!this.#directory.has(name)) return reply("P", 2, ...base);
    const { state, endpoint } = this.#localPresence(name, watcher);
    const code = { on: 0, busy: 1, off: 3, "?": 4 }[state];
    return reply("P", code, ...base, ...(endpoint ? [`at=${endpoint.ip}:${endpoint.port}`] : []));
  }
}
