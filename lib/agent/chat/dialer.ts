/**
 * Reaching a peer: look it up through the node (each answer explained to the
 * user), then open a conversation to its @sckMI or a group link to its group
 * port. Used for calls, for invitations, and by groups linking members.
 *
 * @module
 */

import { type Endpoint, PROBE_NAME } from "../../plumi/address.ts";
import type { LookupReply } from "../../plumi/messages.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { closeOnAbort, unlessAborted } from "../abort.ts";
import { sameAddress } from "../addresses.ts";
import { Conversation, type SecureConversationOptions } from "./conversation.ts";
import { AbortedError, describeError, NodeSilentError } from "../errors.ts";
import { parseFeatures, type PeerFeatures } from "./features.ts";
import {
  dialGroupLink,
  type GroupLink,
  type GroupLinkRequest,
  type GroupLinkTiming,
} from "../group/link.ts";
import { problem, relayCallText, report, say } from "../terminal/texts.ts";
import { type AgentRelay, RelayUnavailableError } from "./relay_call.ts";
import { ORIGINAL_PACE_MS } from "./pmi_link.ts";
import type { PlumiClient } from "../node/client.ts";
import type { AgentUi } from "../terminal/ui.ts";

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
  /**
   * Whether DNS knows `domain` (to tell a missing domain from a missing user
   * when the node answers `RL2`). Default: never known.
   */
  readonly domainExists?: (domain: string) => Promise<DomainCheck>;
  /**
   * The relay of the callee's node, tried when a direct connection to an
   * extended callee fails (behind NAT). Default: none.
   */
  readonly relay?: AgentRelay;
  /** Call extended callees through the relay without trying directly (`--relay always`). */
  readonly relayAlways?: boolean;
}

/** What DNS says of a domain: it has a node, it does not exist, or DNS did not say. */
export type DomainCheck = "found" | "missing" | "unknown";

/**
 * The user a look-up probe asks for: a name no node has (names do not start
 * with a dot in practice), so the node answers `RL2` itself, changing nothing.
 */
/** The user name of the probes (see `lib/plumi/address.ts`). */
export { PROBE_NAME };

function domainOf(address: string): string {
  return address.slice(address.indexOf("@") + 1).toLowerCase().replace(/\.$/, "");
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
   * `RL0` gives its @sckMI and features; `RL1`–`RL3` and silence are
   * reported and give `undefined`. Silence is blamed on the node only when
   * the node itself said nothing meanwhile: after a second without an answer
   * the node is probed with a look-up it answers itself, so a crashed or
   * frozen callee agent is told apart from a silent node.
   */
  async lookUp(address: string, signal: AbortSignal): Promise<Found | undefined> {
    const { ui, client } = this.#o;
    const me = this.#o.address;
    const since = this.#o.timing.clock.now();
    const probeStop = new AbortController();
    const probing = this.#probeNode(
      address,
      since,
      AbortSignal.any([signal, probeStop.signal]),
    );
    let answer: LookupReply;
    try {
      answer = await client.request(
        { kind: "lookup", from: me, to: address },
        (m) => m.kind === "lookup-reply" && sameAddress(m.from, me) && sameAddress(m.to, address),
        signal,
      ) as LookupReply;
    } catch (error) {
      if (error instanceof NodeSilentError) {
        ui.warn(say.callFailed(address, this.#whySilent(address, since, error)));
      } else if (!(error instanceof AbortedError)) throw error;
      return undefined;
    } finally {
      probeStop.abort();
      await probing;
    }
    switch (answer.code) {
      case 0:
        return { endpoint: answer.endpoint!, features: parseFeatures(answer.extra) };
      case 1:
        ui.info(say.busy(address));
        return undefined;
      case 2:
        await this.#explainMissing(address);
        return undefined;
      case 3:
        ui.info(say.offline(address));
        return undefined;
    }
  }

  /** Who is silent: the node (it said nothing since `since`), or the callee's agent. */
  #whySilent(address: string, since: number, error: NodeSilentError): string {
    if (this.#o.client.heardAt < since) return error.message;
    const ours = domainOf(this.#o.address);
    const theirs = domainOf(address);
    return theirs === ours ? report.agentSilent(address, ours) : report.remoteSilent(address, ours);
  }

  /**
   * One interval after `since`, unless the node was heard meanwhile, ask it
   * about nobody; two intervals after, if the node was heard and the look-up
   * of `address` is still unanswered, say so (the look-up goes on).
   */
  async #probeNode(address: string, since: number, signal: AbortSignal): Promise<void> {
    const { client, ui } = this.#o;
    const interval = client.retryIntervalMs;
    if (!await this.#sleep(interval, signal)) return;
    const me = this.#o.address;
    const ours = domainOf(me);
    if (client.heardAt < since) {
      const probe = `${PROBE_NAME}@${ours}`;
      try {
        await client.request(
          { kind: "lookup", from: me, to: probe },
          (m) => m.kind === "lookup-reply" && sameAddress(m.from, me) && sameAddress(m.to, probe),
          signal,
        );
      } catch {
        // silent too, or given up: the look-up's own outcome says what matters
      }
    }
    const left = since + 2 * interval - this.#o.timing.clock.now();
    if (!await this.#sleep(Math.max(0, left), signal)) return;
    if (client.heardAt >= since) ui.info(report.stillTrying(address, ours));
  }

  /** Wait `ms`; `false` if `signal` aborted first. */
  #sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    const { clock } = this.#o.timing;
    return new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      const timer = clock.setTimeout(() => finish(true), ms);
      const onAbort = () => finish(false);
      signal.addEventListener("abort", onAbort, { once: true });
      function finish(ok: boolean) {
        clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(ok);
      }
    });
  }

  /** `RL2`: a user its node does not know, or (as DNS tells) a domain that does not exist. */
  async #explainMissing(address: string): Promise<void> {
    const { ui } = this.#o;
    const domain = domainOf(address);
    if (domain === domainOf(this.#o.address) || !this.#o.domainExists) {
      ui.info(say.noSuchUser(address));
      return;
    }
    const known = await this.#o.domainExists(domain).catch((): DomainCheck => "unknown");
    if (known === "missing") ui.warn(say.callFailed(address, report.noSuchDomain(domain)));
    else if (known === "found") ui.info(report.noSuchUserThere(address, domain));
    else ui.info(say.noSuchUser(address));
  }

  /**
   * Connect to `endpoint` and exchange nicknames as the caller: a
   * conversation of `N` and `L` frames only. Failures are reported with
   * `fail(address, why)` and give `undefined`. Unless the peer is known to be
   * `extended`, frames go out one per write, paced, as an original agent
   * needs them. With `secure`, the conversation is encrypted when
   * `secure.calledAddress` is set (the callee said `e=1`).
   */
  async conversation(
    address: string,
    endpoint: Endpoint,
    signal: AbortSignal,
    fail: (address: string, why: string) => string,
    extended = false,
    secure?: SecureConversationOptions,
  ): Promise<Conversation | undefined> {
    const { ui } = this.#o;
    let conn: StreamConn | null;
    try {
      if (extended && this.#o.relayAlways && this.#o.relay?.available) {
        throw new RelayUnavailableError(relayCallText.relayAlways());
      }
      conn = await unlessAborted(this.#o.connect(endpoint, this.#o.connectTimeoutMs), signal);
    } catch (error) {
      const direct = problem.noConnection(endpoint, describeError(error));
      const relay = this.#o.relay;
      if (!extended || !relay?.available) {
        ui.warn(fail(address, direct));
        return undefined;
      }
      // Behind NAT, perhaps: meet at the relay of the callee's node.
      ui.info(relayCallText.trying(address, describeError(error)));
      try {
        conn = await unlessAborted(relay.call(address, signal), signal);
      } catch (relayError) {
        if (!signal.aborted) ui.warn(fail(address, `${direct}; ${describeError(relayError)}`));
        return undefined;
      }
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
        secure,
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

  /** Open an encrypted group link to a group port, as `request` says. Throws why it failed. */
  async groupLink(endpoint: Endpoint, request: GroupLinkRequest): Promise<GroupLink> {
    const { stop } = this.#o;
    const conn = await unlessAborted(this.#o.connect(endpoint, this.#o.connectTimeoutMs), stop);
    if (conn === null) throw new AbortedError();
    const release = closeOnAbort(conn, stop);
    try {
      return await dialGroupLink({ conn, nick: this.#o.nick, ...request, ...this.#o.timing });
    } finally {
      release();
    }
  }
}
