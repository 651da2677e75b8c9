/**
 * Meeting a peer at its node's relay (docs/PROTOCOL.md, "Relay"), both
 * sides. The caller, whose direct connection failed, asks its node (`PY`),
 * gets the relay's endpoint and its key (`RY0`), and connects out to it; the
 * callee hears of it from its node (the offer, `PY` to it) and connects out
 * too. The relay joins the two connections; the conversation then runs
 * through it exactly as it would directly.
 *
 * @module
 */

import type { Endpoint } from "../../plumi/address.ts";
import {
  decodeRelayAnswer,
  encodeRelayRequest,
  type RelayAnswer,
  type RelayOffer,
} from "../../plumi/extensions/mod.ts";
import { connectRelay } from "../../transport/relay.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { AbortedError, NodeSilentError } from "../errors.ts";
import type { PlumiClient } from "../node/client.ts";
import { relayCallText } from "../terminal/texts.ts";

/** Options of {@linkcode AgentRelay}. */
export interface AgentRelayOptions {
  /** Our @MI address. */
  readonly address: string;
  /** The PLUMI client, registered with the node. */
  readonly client: PlumiClient;
  /** Is there an extended session (whose seal the client adds to `PY`)? False when the node is original. */
  readonly extended: () => boolean;
  /** Opens the TCP connection to the relay. */
  readonly connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn>;
  /** How long to wait for the other party at the relay, in ms. Default: 15 000. */
  readonly waitMs?: number;
}

/** The relay could not be used: why, in the user's terms. */
export class RelayUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RelayUnavailableError";
  }
}

/** Both sides of a meeting at a relay. */
export class AgentRelay {
  readonly #o: AgentRelayOptions;

  constructor(options: AgentRelayOptions) {
    this.#o = options;
  }

  /** Whether the node speaks the extensions (only then can it offer a relay). */
  get available(): boolean {
    return this.#o.extended();
  }

  /**
   * Ask the node for a relay to `callee` and connect to it. Resolves with
   * the connection, ready for the PMI handshake as the caller; throws
   * {@linkcode RelayUnavailableError} (or {@linkcode AbortedError}).
   */
  async call(callee: string, signal: AbortSignal): Promise<StreamConn> {
    if (!this.#o.extended()) throw new RelayUnavailableError(relayCallText.nodeOriginal());
    let answer: RelayAnswer | undefined;
    try {
      const reply = await this.#o.client.request(
        encodeRelayRequest({ kind: "relay-request", caller: this.#o.address, callee }),
        (m) => m.kind === "ext-reply" && m.type === "Y",
        signal,
      );
      answer = reply.kind === "ext-reply" ? decodeRelayAnswer(reply) : undefined;
    } catch (error) {
      if (error instanceof NodeSilentError) {
        throw new RelayUnavailableError(error.message, { cause: error });
      }
      throw error;
    }
    if (!answer) throw new RelayUnavailableError(relayCallText.refused("unreadable answer"));
    if (answer.kind === "relay-refused") {
      throw new RelayUnavailableError(relayCallText.refused(answer.reason));
    }
    return await this.#meet(answer.relay, answer.key, signal);
  }

  /** Answer the node's offer: connect to the relay. Resolves with the connection, for the callee's handshake. */
  async answer(offer: RelayOffer, signal: AbortSignal): Promise<StreamConn> {
    return await this.#meet(offer.relay, offer.key, signal);
  }

  async #meet(relay: Endpoint, key: string, signal: AbortSignal): Promise<StreamConn> {
    if (signal.aborted) throw new AbortedError();
    try {
      return await connectRelay(relay, key, this.#o.waitMs ?? 15_000, this.#o.connect);
    } catch (error) {
      throw new RelayUnavailableError(
        relayCallText.noMeeting(relay, error instanceof Error ? error.message : String(error)),
        { cause: error },
      );
    }
  }
}
