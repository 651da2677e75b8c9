/**
 * The node's protocol logic, free of I/O: a decoded PLUMI message and its
 * sender go in, one action comes out (send, forward to another domain's node,
 * or drop with a reason). The runtime in `node.ts` does the sockets and DNS.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import {
  type DeregisterRequest,
  LookupCode,
  type LookupReply,
  type LookupRequest,
  type PlumiMessage,
  type RegisterRequest,
} from "../plumi/messages.ts";
import { isV2 } from "../plumi/params.ts";
import { RegisterExt, wantsReplace } from "../plumi/extensions/mod.ts";
import type { Directory, Registration } from "./directory.ts";
import { Liveness, PROBE_NAME } from "./liveness.ts";

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
  | "reply-for-unknown-user"
  | "probe-answer";

/** Answer nothing; count the reason. */
export interface DropAction {
  readonly kind: "drop";
  readonly reason: DropReason;
}

/** What the node does with one message. */
export type Action = SendAction | ForwardAction | DropAction | ProbeVerdict;

/**
 * A registration that would move `name` away from an address where it is
 * online: first see whether the agent there is alive ({@linkcode Liveness.probeMove}).
 */
export interface ProbeVerdict {
  readonly kind: "probe";
  readonly name: string;
  readonly registration: Registration;
  /** The registration, handled again (with `registration` as `probed`) if the agent is silent. */
  readonly message: RegisterRequest;
  /** The answer when the agent there is alive: the move is refused. */
  readonly refusal: SendAction;
}

/** Options of {@linkcode NodeCore}. */
export interface NodeCoreOptions {
  /** The node's domain. */
  readonly domain: string;
  /** The user table. */
  readonly directory: Directory;
  /** The Nth forwarded look-up in a row left unanswered is answered RL3 by the node, and the user is offline. Default: 5. */
  readonly offlineAfter?: number;
  /** Monotonic time and timers, for the answer deadlines of look-ups. Default: the system clock. */
  readonly clock?: Clock;
  /** How long a forwarded look-up waits for a sign of life from the agent, in ms. Default: 800. */
  readonly answerDeadlineMs?: number;
  /** Wall-clock time in ms, for registration times. Default: `Date.now`. */
  readonly now?: () => number;
  /** Does this user have a password (so that only a proven, extended PR/PD may change it)? Default: no one. */
  readonly isProtected?: (name: string) => boolean;
  /** Where the liveness probes go out (the node's socket). Default: nowhere. */
  readonly send?: (to: Endpoint, message: PlumiMessage) => void;
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
  /** Who is still there: answer windows, probes, lapsed users. */
  readonly liveness: Liveness;
  readonly #directory: Directory;
  readonly #now: () => number;
  readonly #isProtected: (name: string) => boolean;

  constructor(options: NodeCoreOptions) {
    this.domain = options.domain;
    this.#domainKey = normalize(options.domain);
    this.#directory = options.directory;
    this.#now = options.now ?? Date.now;
    this.#isProtected = options.isProtected ?? (() => false);
    this.liveness = new Liveness({
      directory: options.directory,
      domain: options.domain,
      now: this.#now,
      ...(options.clock && { clock: options.clock }),
      ...(options.offlineAfter !== undefined && { offlineAfter: options.offlineAfter }),
      ...(options.answerDeadlineMs !== undefined && { deadlineMs: options.answerDeadlineMs }),
      ...(options.send && { send: options.send }),
    });
  }

  /** Is `domain` this node's domain (case-insensitive)? */
  isLocal(domain: string): boolean {
    return normalize(domain) === this.#domainKey;
  }

  /**
   * The checks of an extended `PR` or `PD` before the extensions handle it
   * (the core makes the same ones for original ones in {@linkcode NodeCore.handle}):
   * a `PD` only from the address holding the registration, and a `PR` that
   * would move an online user without a password only once its agent is
   * found silent — unless `probed` is the registration already found so.
   * Returns what to do instead, or `undefined` to go on.
   */
  admit(
    message: RegisterRequest | DeregisterRequest,
    from: Endpoint,
    probed?: Registration,
  ): SendAction | ProbeVerdict | undefined {
    const [name, domain] = splitAddress(message.address);
    if (!this.isLocal(domain)) return undefined;
    const registration = this.#directory.get(name);
    if (!registration || registration.id === probed?.id) return undefined;
    if (registration.endpoint.ip === from.ip && registration.endpoint.port === from.port) {
      return undefined;
    }
    // A PD from elsewhere: the extensions refuse it, telling a replaced session so.
    if (message.kind === "deregister") return undefined;
    // A user with a password moves only with a proof (extended) or not at all (original). A
    // session is judged by its heartbeats, and a newcomer may ask to replace it: the extensions
    // decide both.
    if (this.#isProtected(name) || registration.session !== undefined) return undefined;
    if (wantsReplace(message)) return undefined;
    return this.#probe(name, registration, message, from);
  }

  #probe(
    name: string,
    registration: Registration,
    message: RegisterRequest,
    from: Endpoint,
  ): ProbeVerdict {
    const refusal = send(
      from,
      RegisterExt.encodeReply(
        isV2(message.params)
          ? { kind: "refused", error: "signed-in" }
          : { kind: "original", registered: false },
      ),
    );
    return { kind: "probe", name, registration, message, refusal };
  }

  /**
   * Decide what to do with `message`, received from `from`. `probed`: the
   * registration whose agent a move probe found silent (see {@linkcode ProbeVerdict}).
   */
  handle(message: PlumiMessage, from: Endpoint, probed?: Registration): Action {
    switch (message.kind) {
      case "register": {
        // A user with a password registers only through the extended protocol (with a proof).
        const [name, domain] = splitAddress(message.address);
        if (!this.isLocal(domain) || this.#isProtected(name)) {
          return send(from, { kind: "register-reply", code: 1, params: [] });
        }
        const current = this.#directory.get(name);
        // Online elsewhere: not while the agent there is alive.
        if (
          current && current.id !== probed?.id &&
          (current.endpoint.ip !== from.ip || current.endpoint.port !== from.port)
        ) return this.#probe(name, current, message, from);
        const ok = this.#directory.register(name, from, this.#now());
        return send(from, { kind: "register-reply", code: ok ? 0 : 1, params: [] });
      }
      case "deregister": {
        const [name, domain] = splitAddress(message.address);
        const current = this.isLocal(domain) ? this.#directory.get(name) : undefined;
        // Only the address holding the registration may end it.
        const holder = !current ||
          (current.endpoint.ip === from.ip && current.endpoint.port === from.port);
        const ok = this.isLocal(domain) && !this.#isProtected(name) && holder &&
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

  #lookup(caller: string, callee: string, message: LookupRequest, from: Endpoint): Action {
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
    if (
      registration === null ||
      !this.liveness.forward(name, registration, message)
    ) {
      return send(from, reply(LookupCode.Offline, caller, callee));
    }
    return send(registration.endpoint, message);
  }

  #routeReply(message: LookupReply, _from: Endpoint): Action {
    // That the callee's agent answered was noted when its datagram arrived (Liveness.heard).
    const [, calleeDomain] = splitAddress(message.to);
    const [callerName, callerDomain] = splitAddress(message.from);
    if (!this.isLocal(callerDomain)) {
      // Likewise, an answer goes to another node only if it is about one of our users.
      if (!this.isLocal(calleeDomain)) return { kind: "drop", reason: "not-our-reply" };
      return { kind: "forward", domain: callerDomain, message };
    }
    const caller = this.#directory.get(callerName);
    if (caller === undefined) {
      if (callerName === PROBE_NAME) return { kind: "drop", reason: "probe-answer" };
      return { kind: "drop", reason: "reply-for-unknown-user" };
    }
    if (caller === null) {
      // A caller taken offline for unanswered look-ups is still where it was: the answer goes there.
      const lapsed = this.#directory.lapsedEndpoint(callerName);
      if (lapsed) return send(lapsed, message);
      return { kind: "drop", reason: "reply-for-offline-user" };
    }
    return send(caller.endpoint, message);
  }
}

function send(to: Endpoint, message: PlumiMessage): SendAction {
  return { kind: "send", to, message };
}
