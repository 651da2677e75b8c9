/**
 * Every line the agent prints about what happens, in one place. These texts
 * are stable: users, scripts and tests rely on them (listed in README.md).
 *
 * @module
 */

import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import { sanitize } from "./ui.ts";

/** Who someone is in a message: `Joan (joan@bb.com)`, or the nick alone when the address is unknown. */
export function who(nick: string, address: string | undefined): string {
  return address ? `${sanitize(nick)} (${address})` : sanitize(nick);
}

/** The agent's stable output lines. */
export const say = {
  listening: (local: Endpoint, advertised: Endpoint): string =>
    `Listening for conversations on ${formatEndpoint(local)}, advertised as ${
      formatEndpoint(advertised)
    }`,
  locating: (domain: string): string => `Looking up the node of ${domain}...`,
  registered: (address: string, node: Endpoint): string =>
    `Registered ${address} with node ${formatEndpoint(node)}`,
  ready: (): string => "Type an address to call someone, /help for the commands.",
  calling: (address: string): string => `Calling ${address}...`,
  busy: (address: string): string => `${address} is busy`,
  noSuchUser: (address: string): string => `${address} does not exist`,
  offline: (address: string): string => `${address} is offline`,
  callFailed: (address: string, why: string): string => `Cannot call ${address}: ${why}`,
  connected: (nick: string, address: string): string => `Connected to ${who(nick, address)}`,
  incoming: (nick: string, address: string | undefined): string =>
    `Incoming call from ${who(nick, address)}`,
  incomingFailed: (from: Endpoint, why: string): string =>
    `Incoming connection from ${formatEndpoint(from)} dropped: ${why}`,
  refusedBusy: (from: Endpoint): string =>
    `Refused a connection from ${formatEndpoint(from)}: already in a conversation`,
  missedCall: (address: string): string => `${address} tried to call you (answered busy)`,
  nickChanged: (old: string, nick: string): string =>
    `${sanitize(old)} is now known as ${sanitize(nick)}`,
  ended: (nick: string, why: string): string =>
    `Conversation with ${sanitize(nick)} ended (${why})`,
  sendFailed: (why: string): string => `Cannot send: ${why}`,
  notInConversation: (): string =>
    "Not in a conversation: type an address to call someone, /help for the commands.",
  alreadyTalking: (nick: string): string =>
    `Already in a conversation with ${sanitize(nick)}: /exit first`,
  notAnAddress: (why: string): string => `Not an address: ${sanitize(why)}`,
  unknownCommand: (command: string): string =>
    `Unknown command ${sanitize(command)}: /help lists the commands`,
  waiting: (): string => "Waiting for a call...",
  deregistered: (address: string): string => `Deregistered ${address}`,
  deregisterFailed: (address: string, why: string): string =>
    `Could not deregister ${address}: ${why}`,
  ignored: (count: number): string =>
    `Ignored ${count} malformed or unexpected datagram${count === 1 ? "" : "s"}`,
  bye: (): string => "Bye.",
} as const;
