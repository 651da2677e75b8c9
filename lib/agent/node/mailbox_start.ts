/**
 * Wiring the offline messages into the agent (`agent.ts`): the clients of
 * other domains' nodes, the node's notices, `/msg` through a conversation
 * when the peer is reachable, and the first fetch after logging in.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { FetchExt } from "../../plumi/extensions/mod.ts";
import type { ExtensionRequest } from "../../plumi/messages.ts";
import type { PacketLog } from "../../packet_log.ts";
import type { DnsClient } from "../../transport/dns.ts";
import type { DatagramSocket } from "../../transport/udp.ts";
import { sameAddress } from "../addresses.ts";
import type { Switchboard } from "../chat/switchboard.ts";
import { offlineText } from "../terminal/texts.ts";
import { PlumiClient } from "./client.ts";
import { locateNodes } from "./find_node.ts";
import { AgentMailbox, type AgentMailboxOptions } from "./mailbox.ts";

/** How the agent reaches another domain's node. */
export interface NodeOpener {
  readonly dns: DnsClient;
  readonly bindUdp: (at: Endpoint) => DatagramSocket;
  readonly clock: Clock;
  readonly retryIntervalMs: number;
  readonly attempts: number;
  readonly log?: PacketLog;
}

/** A client of `domain`'s node, found as the agent finds its own (SRV, then A). */
export async function openNode(opener: NodeOpener, domain: string): Promise<PlumiClient> {
  const nodes = await locateNodes(domain, opener.dns);
  const client = new PlumiClient({
    socket: opener.bindUdp({ ip: "0.0.0.0", port: 0 }),
    node: nodes[0]!,
    trusted: nodes,
    clock: opener.clock,
    retryIntervalMs: opener.retryIntervalMs,
    attempts: opener.attempts,
    ...(opener.log && { log: opener.log }),
  });
  client.start();
  return client;
}

/** Where the node's notices go: set once the mailbox exists. */
export interface MailboxRoute {
  mailbox?: AgentMailbox;
}

/** The client's `onMailboxNotice`: a notice for `address` starts a fetch. */
export function noticeHandler(
  route: MailboxRoute,
  address: string,
): (request: ExtensionRequest) => boolean {
  return (request) => {
    const notice = FetchExt.decodeRequest(request);
    if (!notice.ok || notice.value.kind !== "notice") return false;
    if (!sameAddress(notice.value.address, address) || !route.mailbox) return false;
    route.mailbox.notice();
    return true;
  };
}

/**
 * `/msg` through a conversation: the one open with `to`, or a call now;
 * `false` when the peer cannot be reached that way (then the line is left).
 */
export function talkThrough(
  switchboard: Switchboard,
  signal: AbortSignal,
): (to: string, text: string) => Promise<boolean> {
  return async (address, text) => {
    await switchboard.call(address, signal);
    const chat = switchboard.roster.chats.find((c) =>
      c.address !== undefined && sameAddress(c.address, address)
    );
    if (!chat || switchboard.roster.current !== chat) return false;
    switchboard.send(text);
    return true;
  };
}

/** Start the mailbox, and its first fetch (what waited while we were away). */
export function startMailbox(options: AgentMailboxOptions, route: MailboxRoute): AgentMailbox {
  const mailbox = new AgentMailbox(options);
  route.mailbox = mailbox;
  void mailbox.fetch().then(
    (n) => n > 0 && options.ui.info(offlineText.fetched(n)),
    () => {},
  );
  return mailbox;
}
