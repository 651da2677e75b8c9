/**
 * Reaching a peer: look it up through the node (each answer explained to the
 * user), then open a conversation to its @sckMI or a group link to its group
 * port. Used for calls, for invitations, and by groups linking members.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { formatEndpoint } from "../plumi/address.ts";
import type { LookupReply } from "../plumi/messages.ts";
import type { StreamConn } from "../transport/tcp.ts";
import { closeOnAbort, unlessAborted } from "./abort.ts";
import { sameAddress } from "./addresses.ts";
import { Conversation } from "./conversation.ts";
import { AbortedError, describeError, NodeSilentError } from "./errors.ts";
import { parseFeatures, type PeerFeatures } from "./features.ts";
import { dialGroupLink, type GroupLink, type GroupLinkTiming } from "./group_link.ts";
import type { JoinRecord } from "./group_wire.ts";
import { say } from "./messages.ts";
import { ORIGINAL_PACE_MS } from "./pmi_link.ts";
import type { PlumiClient } from "./plumi_client.ts";
import type { AgentUi } from "./ui.ts";

/** Options of {@linkcode Dialer}. */
export interface DialerOptions {
  /** Our @MI address. */
  readonly address: string;
  /** Our nickname. */
  readonly nick: string;
  /** The PLUMI client, registered with the node. */
  readonly client: PlumiClient;
  /** Opens outgoing connections. */
  readonly connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn>;
  readonly connectTimeoutMs: number;
  readonly ui: AgentUi;
  /** Deadlines and bounds of the connections opened. */
  readonly timing: GroupLinkTiming;
  /** Aborts when the agent closes: everything in progress gives up. */
  readonly stop: AbortSignal;
}

/** Where a look-up found someone, and what their agent understands. */
export interface Found {
  readonly endpoint: Endpoint;
  readonly features: PeerFeatures;
}

/** Looks peers up and connects to them; every failure is reported to the user. */
export class Dialer {
  readonly #o: DialerOptions;

  constructor(options: DialerOptions) {
    this.#o = options;
  }

  /**
   * Ask the node where `address` is (`PL`, retried as PLUMI requires). An
   * `RL0` gives its @sckMI and features; `RL1`–`RL3` and a silent node are
   * reported and give `undefined`.
   */
  async lookUp(address: string, signal: AbortSignal): Promise<Found | undefined> {
    const { ui, client } = this.#o;
    const me = this.#o.address;
    let answer: LookupReply;
    try {
      answer = await client.request(
        { kind: "lookup", from: me, to: address },
        (m) => m.kind === "lookup-reply" && sameAddress(m.from, me) && sameAddress(m.to, address),
        signal,
      ) as LookupReply;
    } catch (error) {
      if (error instanceof NodeSilentError) ui.warn(say.callFailed(address, error.message));
      else if (!(error instanceof AbortedError)) throw error;
      return undefined;
    }
    switch (answer.code) {
      case 0:
        return { endpoint: answer.endpoint!, features: parseFeatures(answer.extra) };
      case 1:
        ui.info(say.busy(address));
        return undefined;
      case 2:
        ui.info(say.noSuchUser(address));
        return undefined;
      case 3:
        ui.info(say.offline(address));
        return undefined;
    }
  }

  /**
   * Connect to `endpoint` and exchange nicknames as the caller: a
   * conversation of `N` and `L` frames only. Failures are reported with
   * `fail(address, why)` and give `undefined`. Unless the peer is known to be
   * `extended`, frames go out one per write, paced, as an original agent
   * needs them.
   */
  async conversation(
    address: string,
    endpoint: Endpoint,
    signal: AbortSignal,
    fail: (address: string, why: string) => string,
    extended = false,
  ): Promise<Conversation | undefined> {
    const { ui } = this.#o;
    let conn: StreamConn | null;
    try {
      conn = await unlessAborted(this.#o.connect(endpoint, this.#o.connectTimeoutMs), signal);
    } catch (error) {
      ui.warn(
        fail(address, `no connection to ${formatEndpoint(endpoint)} (${describeError(error)})`),
      );
      return undefined;
    }
    if (conn === null) return undefined;
    const release = closeOnAbort(conn, signal);
    let conversation: Conversation;
    try {
      conversation = await Conversation.open({
        conn,
        role: "caller",
        nick: this.#o.nick,
        ...this.#o.timing,
        paceMs: extended ? undefined : ORIGINAL_PACE_MS,
      });
    } catch (error) {
      if (!signal.aborted) ui.warn(fail(address, describeError(error)));
      return undefined;
    } finally {
      release();
    }
    if (signal.aborted) {
      conversation.close();
      return undefined;
    }
    return conversation;
  }

  /** Open a group link to a group port with the join request `join`. Throws why it failed. */
  async groupLink(endpoint: Endpoint, join: JoinRecord): Promise<GroupLink> {
    const { stop } = this.#o;
    const conn = await unlessAborted(this.#o.connect(endpoint, this.#o.connectTimeoutMs), stop);
    if (conn === null) throw new AbortedError();
    const release = closeOnAbort(conn, stop);
    try {
      return await dialGroupLink({ conn, nick: this.#o.nick, join, ...this.#o.timing });
    } finally {
      release();
    }
  }
}
