/**
 * The one dispatch of the packet path: a decoded message that passed the
 * guards goes to exactly one handler, and what the handler decides comes
 * back as one action (or none) for the server to perform:
 *
 * | message                                       | handler                                   |
 * | --------------------------------------------- | ----------------------------------------- |
 * | `RP` (another node's presence answer)         | `RemotePresence.onAnswer`                 |
 * | `RR` from a node a capability probe went to   | `RemotePresence.onProbeAnswer`            |
 * | `RV`, `RJ` (other nodes' answers, verified)   | `Federation` (`federation.ts`)            |
 * | `v=2` `PR`/`PD`, every `P?` extension request | `NodeCore.admit`, then `ExtendedService`  |
 * | everything else (the original protocol)       | `NodeCore.handle`                         |
 *
 * Without accounts (no extensions) the first three rows do not exist and
 * the core drops extension messages (`extension-not-enabled`).
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import type { Action, NodeCore, ProbeVerdict } from "./core.ts";
import type { Directory, Registration } from "./directory.ts";
import type { ExtendedService } from "./extended.ts";
import { claimedNode, type Inbound } from "./guards.ts";
import type { Liveness } from "./liveness.ts";
import type { RemotePresence } from "./remote_presence.ts";
import { type Federation, takeFederatedAnswer } from "./federation.ts";

/** What a handler decided: one action, or nothing to do. */
export type Outcome = Action | undefined;

/** Options of {@linkcode Dispatcher}. */
export interface DispatcherOptions {
  /** The original protocol (and liveness). */
  readonly core: NodeCore;
  /** The user table; without it every source counts as unregistered. Default: none. */
  readonly directory?: Directory;
  /** The `v=2` extensions. Default: none. */
  readonly extended?: ExtendedService;
  /** Other domains' presence answers and capability probes. Default: none. */
  readonly remote?: RemotePresence;
  /** Vouching and relays across domains: their answers. Default: none. */
  readonly federation?: Federation;
}

/** Routes each message to its handler; see the module doc. */
export class Dispatcher {
  readonly #core: NodeCore;
  readonly #liveness: Liveness;
  readonly #directory: Directory | undefined;
  readonly #extended: ExtendedService | undefined;
  readonly #remote: RemotePresence | undefined;
  readonly #federation: Federation | undefined;

  constructor(options: DispatcherOptions) {
    this.#core = options.core;
    this.#liveness = options.core.liveness;
    this.#directory = options.directory;
    this.#extended = options.extended;
    this.#remote = options.remote;
    this.#federation = options.federation;
  }

  /**
   * A datagram arrived from `from` at `now` (monotonic ms): a sign of life
   * of an agent registered there. Is the source a registered agent?
   */
  heard(from: Endpoint, now: number): boolean {
    return this.#directory ? this.#liveness.heard(from, now) : false;
  }

  /**
   * The domain whose node alone may send `message` (the node verification
   * guard), or `undefined` when the message claims nothing or no handler
   * here would take it.
   */
  claim(message: PlumiMessage): string | undefined {
    if (message.kind === "ext-reply" ? !this.#remote : !this.#extended) return undefined;
    return claimedNode(message);
  }

  /**
   * The one dispatch. `probed`: the registration a move probe found silent
   * (the message is a registration handled again, see {@linkcode Dispatcher.settle}).
   */
  dispatch(
    message: PlumiMessage,
    request: Inbound,
    probed?: Registration,
  ): Outcome | Promise<Outcome> {
    const remote = this.#remote;
    if (remote) {
      if (message.kind === "ext-reply" && message.type === "P") {
        remote.onAnswer(message);
        return undefined;
      }
      if (
        message.kind === "ext-reply" && this.#federation &&
        takeFederatedAnswer(this.#federation, message)
      ) return undefined;
      if (message.kind === "register-reply" && remote.expectsProbeAnswer(request.from)) {
        remote.onProbeAnswer(message, request.from);
        return undefined;
      }
    }
    const extended = this.#extended;
    if (extended?.wants(message)) {
      if (message.kind === "register" || message.kind === "deregister") {
        const verdict = this.#core.admit(message, request.from, probed);
        if (verdict) return verdict;
      }
      return extended.handle(message, request.from, request.size);
    }
    return this.#core.handle(message, request.from, probed);
  }

  /**
   * A move probe ended: the agent where the user is online answered
   * (`alive`: the move is refused) or stayed silent (its agent is gone, as
   * offline detection would have found in time: the user lapses and the
   * registration is handled again).
   */
  settle(verdict: ProbeVerdict, alive: boolean, request: Inbound): Outcome | Promise<Outcome> {
    if (alive) return verdict.refusal;
    const directory = this.#directory;
    directory?.lapse(verdict.name, verdict.registration.id);
    return this.dispatch(verdict.message, request, verdict.registration);
  }
}
