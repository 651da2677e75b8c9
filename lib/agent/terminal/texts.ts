/**
 * Every line the agent prints about what happens, in one place. These texts
 * are stable: users, scripts and tests rely on them (listed in README.md).
 *
 * @module
 */

import { type Endpoint, formatEndpoint } from "../../plumi/address.ts";
import { sanitize } from "./ui.ts";

/** Who someone is in a message: `Joan (joan@bb.com)`, or the nick alone when the address is unknown. */
export function who(nick: string, address: string | undefined): string {
  return address ? `${sanitize(nick)} (${address})` : sanitize(nick);
}

function relayed(relay: string | undefined): string {
  return relay === undefined ? "" : ` (relayed by ${sanitize(relay)})`;
}

/** The agent's stable output lines. */
export const say = {
  listening: (local: Endpoint, advertised: Endpoint): string =>
    `Listening for conversations on ${formatEndpoint(local)}, advertised as ${
      formatEndpoint(advertised)
    }`,
  listeningGroups: (local: Endpoint, advertised: Endpoint): string =>
    `Listening for group links on ${formatEndpoint(local)}, advertised as ${
      formatEndpoint(advertised)
    }`,
  locating: (domain: string): string => `Looking up the node of ${domain}…`,
  registered: (address: string, node: Endpoint): string =>
    `Registered ${address} with node ${formatEndpoint(node)}`,
  ready: (): string => "Type an address to call someone, /help for the commands.",
  calling: (address: string): string => `Calling ${address}…`,
  busy: (address: string): string => `${address} is busy`,
  noSuchUser: (address: string): string => `${address} does not exist`,
  offline: (address: string): string => `${address} is offline`,
  callFailed: (address: string, why: string): string => `Cannot call ${address}: ${why}`,
  connected: (nick: string, address: string): string => `Connected to ${who(nick, address)}`,
  incoming: (nick: string, address: string | undefined): string =>
    `Incoming call from ${who(nick, address)}`,
  incomingFailed: (from: Endpoint, why: string): string =>
    `Incoming connection from ${formatEndpoint(from)} dropped: ${why}`,
  refusedBusy: (from: Endpoint, count = 1): string =>
    `Refused a connection from ${formatEndpoint(from)}: already in ${
      count === 1 ? "a conversation" : `${count} conversations`
    }`,
  refused: (from: Endpoint, why: string): string =>
    `Refused a connection from ${formatEndpoint(from)}: ${why}`,
  refusedMore: (count: number): string =>
    `Refused ${count} more connection${count === 1 ? "" : "s"} (too many at once)`,
  tooManyChats: (address: string, count: number): string =>
    `Cannot call ${address}: already in ${count} conversations (raise --max-chats for more)`,
  linesGoTo: (label: string): string => `Typed lines now go to ${sanitize(label)}`,
  linesStillGoTo: (label: string, other: string): string =>
    `Typed lines still go to ${sanitize(label)} (/switch ${sanitize(other)} to change)`,
  listHeader: (): string => "Conversations (typed lines go to the one marked *):",
  listEntry: (current: boolean, label: string, what: string, width = 0): string =>
    `${current ? "*" : " "} ${sanitize(label).padEnd(width)}  ${what}`,
  listEmpty: (): string =>
    "No conversations: type an address to call someone, /group <name> to start a group",
  noSuchConversation: (name: string): string =>
    `No conversation matches "${sanitize(name)}": /list shows them`,
  ambiguous: (name: string, labels: readonly string[]): string =>
    `"${sanitize(name)}" matches ${labels.map(sanitize).join(", ")}: give the address`,
  groupCreated: (label: string): string =>
    `Group ${label} created: /invite <address> adds members, /leave leaves`,
  tooManyGroups: (max: number): string =>
    `Cannot start a group: already in ${max} groups (the most --max-groups allows)`,
  groupsDisabled: (): string => "Groups are switched off (--max-groups 0)",
  notInGroup: (): string => "Typed lines do not go to a group: /switch #<group> first",
  inviting: (address: string, label: string): string => `Inviting ${address} to ${label}…`,
  inviteFailed: (address: string, why: string): string => `Cannot invite ${address}: ${why}`,
  alreadyMember: (address: string, label: string): string => `${address} is already in ${label}`,
  groupFull: (label: string, max: number): string =>
    `${label} is full (${max} members, the most --max-group-size allows)`,
  addedYou: (label: string, nick: string, address: string): string =>
    `${who(nick, address)} added you to group ${label}`,
  memberJoined: (label: string, someone: string, relay?: string): string =>
    `[${label}] ${someone} joined${relayed(relay)}`,
  memberPresent: (label: string, someone: string, relay?: string): string =>
    `[${label}] ${someone} is in the group${relayed(relay)}`,
  memberLeft: (label: string, someone: string, relay?: string): string =>
    `[${label}] ${someone} left${relayed(relay)}`,
  memberVanished: (label: string, someone: string, why: string, relay?: string): string =>
    `[${label}] ${someone} vanished (${why}${
      relay === undefined ? "" : `; relayed by ${sanitize(relay)}`
    })`,
  cannotReach: (label: string, someone: string, why: string): string =>
    `[${label}] Cannot reach ${someone}: ${why}; their lines will not reach you`,
  youLeft: (label: string): string => `You left ${label}`,
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
  alreadyCalling: (): string => "A call is being set up: wait a moment",
  notAnAddress: (why: string): string => `Not an address: ${sanitize(why)}`,
  unknownCommand: (command: string): string =>
    `Unknown command ${sanitize(command)}: /help lists the commands`,
  waiting: (): string => "Waiting for a call…",
  deregistered: (address: string): string => `Deregistered ${address}`,
  deregisterFailed: (address: string, why: string): string =>
    `Could not deregister ${address}: ${why}`,
  ignored: (count: number): string =>
    `Ignored ${count} malformed or unexpected datagram${count === 1 ? "" : "s"}`,
  bye: (): string => "Bye.",

  // The node and the session (issue 14, items 4, 5, 7).
  lostContact: (domain: string): string =>
    `Lost contact with the node of ${domain}; retrying (buddies show as unknown meanwhile)`,
  backInContact: (domain: string): string => `Back in contact with the node of ${domain}`,
  buddiesUnknown: (domain: string): string =>
    `No contact with the node of ${domain}: every buddy shows as unknown until it answers`,
  registeredAgain: (address: string): string =>
    `Registered ${address} again (the node had forgotten the session)`,
  cannotRegisterAgain: (address: string, why: string): string =>
    `Cannot register ${address} again: ${why}`,
  replaced: (address: string, at: Endpoint | undefined): string =>
    `${address} signed in from another place${
      at ? ` (${formatEndpoint(at)})` : ""
    }: this agent stops`,
  wrongPassword: (address: string): string => `Wrong password for ${address}; try again`,
  wrongPasswordFrom: (address: string, origin: string): string =>
    `Cannot register ${address}: ${origin} holds a wrong password`,
  takeOver: (): string => "Sign in here and stop the other agent? [y/N] ",
} as const;

/**
 * More of the agent's stable output lines: its defences against strangers,
 * and what exactly failed when a call does not go through.
 */
export const report = {
  handshakeCut: (from: Endpoint): string =>
    `Refused a connection from ${
      formatEndpoint(from)
    }: cut while being set up, to make room for newer ones`,
  quietCut: (from: Endpoint, nick: string): string =>
    `Refused a connection from ${formatEndpoint(from)}: ${
      sanitize(nick)
    } said nothing, cut to make room for newer callers`,
  pushedOut: (): string => "it said nothing and was cut to make room for newer callers",
  agentSilent: (address: string, domain: string): string =>
    `the agent of ${address} does not answer (the node of ${domain} does: the agent may have crashed or be frozen)`,
  remoteSilent: (address: string, ourDomain: string): string =>
    `no answer from the agent of ${address} or the node of its domain (the node of ${ourDomain} does answer)`,
  stillTrying: (address: string, ourDomain: string): string =>
    `No answer yet from the agent of ${address} (the node of ${ourDomain} answers); still trying…`,
  noSuchDomain: (domain: string): string => `${domain}: no such domain`,
  noSuchUserThere: (address: string, domain: string): string =>
    `${address} does not exist (the node of ${domain} has no such user)`,
  bareName: (name: string): string =>
    `"${sanitize(name)}" is not an address: add @ and the domain, e.g. ${
      sanitize(name)
    }@example.test`,
  bareWordWhileFree: (word: string): string =>
    `Not in a conversation, and "${sanitize(word)}" is not an address: add @ and the domain, e.g. ${
      sanitize(word)
    }@example.test`,
  signupHint: (address: string): string =>
    `this node allows sign-up: run again with --signup to create ${address}`,
} as const;

// ---------------------------------------------------------------------------
// The terminal client (issue 19): its commands, profile and waits. Section kept by "terminal".
// ---------------------------------------------------------------------------

/** The chat client's lines: `/away`, `/nick`, `/whois`, `/topic`, the profile, waits. */
export const client = {
  away: (text: string): string =>
    text === ""
      ? "You are away: your buddies see you as busy until /back"
      : `You are away (${sanitize(text)}): your buddies see you as busy until /back`,
  back: (): string => "You are back: your buddies see you online",
  notAway: (): string => "You were not away",
  badNick: (why: string): string => `Cannot change the nickname: ${sanitize(why)}`,
  nickUnsupported: (): string => "The nickname cannot be changed while the agent runs",
  nickIs: (old: string, nick: string): string =>
    `You are now known as ${sanitize(nick)} (was ${
      sanitize(old)
    }): conversations and groups you open from now on see it`,
  whoisHeader: (address: string): string => `${sanitize(address)}:`,
  whoisPresence: (state: string, where: string | undefined): string =>
    `  presence:     ${state}${where ? ` at ${where}` : ""}`,
  whoisNotBuddy: (address: string): string =>
    `  presence:     not a buddy (/add ${sanitize(address)} to see it)`,
  whoisTalking: (label: string, nick: string): string =>
    `  conversation: ${sanitize(label)}, nickname ${sanitize(nick)}`,
  whoisNoConversation: (): string => "  conversation: none",
  whoisGroups: (labels: readonly string[]): string =>
    `  groups:       ${labels.map(sanitize).join(", ")}`,
  whoisEncryption: (state: string, fingerprint: string | undefined): string =>
    `  encryption:   ${state}${fingerprint ? `, key ${fingerprint}` : ""}`,
  whoisEncryptionUnknown: (): string =>
    "  encryption:   not known (this agent does not encrypt yet)",
  topicNotInGroup: (): string => "Typed lines do not go to a group: /switch #<group> first",
  noTopic: (label: string): string => `${sanitize(label)} has no topic: /topic <text> sets one`,
  topic: (label: string, text: string): string => `Topic of ${sanitize(label)}: ${sanitize(text)}`,
  /** The line that carries a topic to every member. */
  topicLine: (nick: string, text: string): string => `* ${nick} set the topic: ${text}`,
  invited: (label: string, nick: string, address: string, seconds: number): string =>
    `${sanitize(nick)} (${sanitize(address)}) invites you to group ${sanitize(label)}: ` +
    `/accept or /decline (within ${seconds} s)`,
  accepted: (label: string): string => `You accepted the invitation to ${sanitize(label)}`,
  declined: (label: string): string => `You declined the invitation to ${sanitize(label)}`,
  invitationExpired: (label: string): string =>
    `The invitation to ${sanitize(label)} expired (not accepted in time)`,
  noInvitation: (): string => "No invitation is waiting for an answer",
  whichInvitation: (labels: readonly string[]): string =>
    `Several invitations wait: /accept ${labels.map(sanitize).join(" or /accept ")}`,
  /** A wait shown on the status line: `calling joan@bb.test… try 2 of 5`. */
  attempt: (what: string, attempt: number, of: number): string =>
    `${what}… try ${attempt} of ${of}`,
  profileCreated: (path: string): string =>
    `Created your profile ${path}: next time, the agent starts with these settings`,
  aloneInGroup: (label: string): string =>
    `Nobody else is in ${sanitize(label)}: the line reached nobody (/invite someone, or /leave)`,
  profileNotSaved: (path: string, why: string): string =>
    `Cannot save your profile ${path} (${why}); the next start needs the flags again`,
  listeningEverywhere: (ip: string): string =>
    `${ip} is not an address of this host (behind NAT?): listening on every interface instead`,
} as const;
