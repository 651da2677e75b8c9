/**
 * The node's protocol logic, free of I/O: a decoded PLUMI message and its
 * sender go in, one action comes out (send, forward to another domain's node,
 * or drop with a reason). The runtime in `node.ts` does the sockets and DNS.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { LookupCode, type LookupReply, type PlumiMessage } from "../plumi/messages.ts";
import type { Directory } from "./directory.ts";

/** Send `message` to `to`. */
export interface SendAction {
  readonly kind: "send";
  readonly to: Endpoint;
  readonly message: PlumiMessage;
}

/**
 * Send `message` to the node of `domain` (resolved by the runtime). When the
 * domain does not resolve, send `ifUnresolved` instead, if given.
 */
export interface ForwardAction {
  readonly kind: "forward";
  readonly domain: string;
  readonly message: PlumiMessage;
  readonly ifUnresolved?: SendAction;
}

/** Why a well-formed message gets no answer. */
export type DropReason =
  | "not-our-reply"
  | "extension-not-enabled"
  | "unexpected-reply"
  | "reply-for-offline-user"
  | "reply-for-unknown-user";

/** Answer nothing; count the reason. */
export interface DropAction {
  readonly kind: "drop";
  readonly reason: DropReason;
}

/** What the node does with one message. */
export type Action = SendAction | ForwardAction | DropAction;

/** Options of {@linkcode NodeCore}. */
export interface NodeCoreOptions {
  /** The node's domain. */
  readonly domain: string;
  /** The user table. */
  readonly directory: Directory;
  /** Unanswered forwarded look-ups after which a user is offline. Default: 5. */
  readonly offlineAfter?: number;
  /** Wall-clock time in ms, for registration times. Default: `Date.now`. */
  readonly now?: () => number;
  /** Does this user have a password (so that only a proven, extended PR/PD may change it)? Default: no one. */
  readonly isProtected?: (name: string) => boolean;
}

/** Split `name@domain` without validating (the codec already did). */
function splitAddress(address: string): [name: string, domain: string] {
  const at = address.indexOf("@");
  return [address.slice(0, at), address.slice(at + 1)];
}

function normalize(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function reply(code: LookupCode, from: string, to: string): LookupReply {
  return { kind: "lookup-reply", code, from, to, extra: [] };
}

/** The routing rules of a LUMI node for one domain. */
export class NodeCore {
  /** The domain, as configured. */
  readonly domain: string;
  readonly #domainKey: string;
  readonly #directory: Directory;
  readonly #offlineAfter: number;
  readonly #now: () => number;
  readonly #isProtected: (name: string) => boolean;

  constructor(options: NodeCoreOptions) {
    this.domain = options.domain;
    this.#domainKey = normalize(options.domain);
    this.#directory = options.directory;
    this.#offlineAfter = options.offlineAfter ?? 5;
    this.#now = options.now ?? Date.now;
    this.#isProtected = options.isProtected ?? (() => false);
  }

  /** Is `domain` this node's domain (case-insensitive)? */
  isLocal(domain: string): boolean {
    return normalize(domain) === this.#domainKey;
  }

  /** Decide what to do with `message`, received from `from`. */
  handle(message: PlumiMessage, from: Endpoint): Action {
    switch (message.kind) {
      case "register": {
        // A user with a password registers only through the extended protocol (with a proof).
        const [name, domain] = splitAddress(message.address);
        const ok = this.isLocal(domain) && !this.#isProtected(name) &&
          this.#directory.register(name, from, this.#now());
        return send(from, { kind: "register-reply", code: ok ? 0 : 1, params: [] });
      }
      case "deregister": {
        const [name, domain] = splitAddress(message.address);
        const ok = this.isLocal(domain) && !this.#isProtected(name) &&
          this.#directory.deregister(name);
        return send(from, { kind: "deregister-reply", code: ok ? 0 : 1, params: [] });
      }
      case "lookup":
        return this.#lookup(message.from, message.to, message, from);
      case "lookup-reply":
        return this.#routeReply(message, from);
      case "register-reply":
      case "deregister-reply":
        return { kind: "drop", reason: "unexpected-reply" };
      case "ext-request":
      case "ext-reply":
        return { kind: "drop", reason: "extension-not-enabled" };
    }
  }

  #lookup(caller: string, callee: string, message: PlumiMessage, from: Endpoint): Action {
    const [name, domain] = splitAddress(callee);
    if (!this.isLocal(domain)) {
      // Only our own agents' look-ups go on to another node: a look-up between
      // two other domains is not ours to relay, which keeps every path at most
      // two nodes long and lets no look-up circle between misconfigured nodes.
      const [, callerDomain] = splitAddress(caller);
      if (!this.isLocal(callerDomain)) {
        return send(from, reply(LookupCode.NoSuchUser, caller, callee));
      }
      return {
        kind: "forward",
        domain,
        message,
        ifUnresolved: send(from, reply(LookupCode.NoSuchUser, caller, callee)),
      };
    }
    const registration = this.#directory.get(name);
    if (registration === undefined) return send(from, reply(LookupCode.NoSuchUser, caller, callee));
    if (registration === null) return send(from, reply(LookupCode.Offline, caller, callee));
    if (registration.unanswered >= this.#offlineAfter) {
      this.#directory.deregister(name);
      return send(from, reply(LookupCode.Offline, caller, callee));
    }
    registration.unanswered++;
    return send(registration.endpoint, message);
  }

  #routeReply(message: LookupReply, from: Endpoint): Action {
    // An answer from the callee's own agent shows it is alive.
    const [calleeName, calleeDomain] = splitAddress(message.to);
    if (this.isLocal(calleeDomain)) {
      const callee = this.#directory.get(calleeName);
      if (callee && callee.endpoint.ip === from.ip && callee.endpoint.port === from.port) {
        callee.unanswered = 0;
      }
    }
    const [callerName, callerDomain] = splitAddress(message.from);
    if (!this.isLocal(callerDomain)) {
      // Likewise, an answer goes to another node only if it is about one of our users.
      if (!this.isLocal(calleeDomain)) return { kind: "drop", reason: "not-our-reply" };
      return { kind: "forward", domain: callerDomain, message };
    }
    const caller = this.#directory.get(callerName);
    if (caller === undefined) return { kind: "drop", reason: "reply-for-unknown-user" };
    if (caller === null) return { kind: "drop", reason: "reply-for-offline-user" };
    return send(caller.endpoint, message);
  }
}

function send(to: Endpoint, message: PlumiMessage): SendAction {
  return { kind: "send", to, message };
}
