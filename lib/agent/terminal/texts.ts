/**
 * Every text the agent shows, in one place: nothing else in `lib/agent`
 * spells out a sentence for the user. These texts are stable: users,
 * scripts and tests rely on them (listed in `../README.md`).
 *
 * - {@linkcode say} and {@linkcode report}: what happens (calls,
 *   conversations, groups, the node, strangers refused);
 * - {@linkcode ask}: the questions on a terminal; {@linkcode usage}: how a
 *   command is typed, and `/help`;
 * - {@linkcode buddyText} and {@linkcode signUpText}: buddies, presence,
 *   accounts;
 * - {@linkcode problem}: what failed, as the agent's errors say it;
 *   {@linkcode why}: the reasons inside the lines (`Cannot call …: <why>`);
 * - {@linkcode relayText}: what an original agent relayed in a group sees.
 *
 * @module
 */

import { type Endpoint, formatEndpoint } from "../../plumi/address.ts";

/**
 * Make untrusted text (a peer's line or nickname) safe to print: control
 * characters, which could move the cursor or recolour the terminal, are
 * shown as `\xNN`.
 */
export function sanitize(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}
import type { Security } from "../chat/secure.ts";

/** Who someone is in a message: `Joan (joan@bb.com)`, or the nick alone when the address is unknown. */
export function who(nick: string, address: string | undefined): string {
  return address ? `${sanitize(nick)} (${address})` : sanitize(nick);
}

function relayed(relay: string | undefined): string {
  return relay === undefined ? "" : ` (relayed by ${sanitize(relay)})`;
}

/** How a conversation is protected, in words: encrypted and verified, encrypted, or in clear. */
export function describeSecurity(security: Security): string {
  if (security.kind === "clear") {
    return "in clear (an original agent: anyone on the path can read it)";
  }
  if (security.verified) return "encrypted, verified";
  const vouched = security.vouched ? ", vouched for by its node" : "";
  const first = security.firstContact ? `first contact, key pinned${vouched}; ` : "";
  return `encrypted (${first}not verified: /verify ${security.peerAddress})`;
}

/** The agent's stable output lines. */
export const say = {
  findingNode: (address: string): string => `finding the node of ${address}`,
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
  identityCreated: (fingerprint: string): string =>
    `Identity key made (first start), fingerprint ${fingerprint}`,
  identity: (fingerprint: string): string => `Identity key fingerprint ${fingerprint}`,
  keyBound: (domain: string): string =>
    `The node of ${domain} vouches for your identity key (bound to your password account)`,
  keyBoundElsewhere: (address: string): string =>
    `WARNING: the node keeps another identity key for ${address}: callers who ask it will ` +
    "refuse this one. If you made a new key on purpose, ask the administrator to unbind the old one.",
  security: (nick: string, address: string | undefined, security: Security): string =>
    `Conversation with ${who(nick, address)}: ${describeSecurity(security)}`,
  clearRefused: (): string =>
    "it is an original agent (the conversation would be in clear) and --require-encryption is set",
  noEncryption: (): string => "Encryption is off in this agent",
  trusted: (address: string): string =>
    `The new key of ${address} is trusted now; call ${address} again`,
  nothingToTrust: (address: string): string =>
    `No changed key of ${address} is waiting to be trusted`,
  noKeyYet: (address: string): string =>
    `No key of ${address} is known yet: talk to ${address} first (encrypted), then /verify`,
  safetyNumber: (address: string, number: string): string =>
    `Safety number with ${address}: ${number}\n` +
    `  Compare it with ${address} by voice or in person: it must be the same on both sides.` +
    ` ${address} is now marked verified.`,
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
  /** Receipts came for lines sent (shown to a person at a terminal). */
  delivered: (nick: string, lines: number): string =>
    lines === 1
      ? `\u2713 delivered to ${sanitize(nick)}`
      : `\u2713 ${lines} lines delivered to ${sanitize(nick)}`,
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

/** The questions the agent asks on a terminal. */
export const ask = {
  nick: (): string => "Nickname: ",
  address: (): string => "Address (name@domain): ",
  tryAgain: (): string => "Try again? [Y/n] ",
  password: (address: string): string => `Password for ${address}: `,
  /** Waits shown on the status line (`calling joan@bb.test… try 2 of 5`). */
  calling: (address: string): string => `calling ${address}`,
  inviting: (address: string): string => `inviting ${address}`,
  askingNode: (): string => "asking the node",
  creatingAccount: (address: string): string => `creating the account ${address}`,
  registering: (address: string): string => `registering ${address}`,
  deregistering: (address: string): string => `deregistering ${address}`,
} as const;

/** How a command is typed, when it was not; and `/help`. */
export const usage = {
  call: (): string => "Usage: /call <address>",
  switch: (): string => "Usage: /switch <address, nickname or #group>",
  group: (): string => "Usage: /group <name>, 1-32 letters, digits, '.', '_' or '-'",
  invite: (): string => "Usage: /invite <address>",
  buddy: (command: string): string => `Usage: ${command} <address>`,
  signup: (): string => "Usage: /signup <address> [password]",
  me: (): string => "Usage: /me <action>",
  nick: (): string => "Usage: /nick <nickname>",
  whois: (): string => "Usage: /whois <address>",
  needsAddress: (command: string): string => `Usage: /${command} <address>`,
  signupPassword: (): string =>
    "Usage: /signup <address> [password] (the password is asked on a terminal)",
  /** The `/help` text, one line per entry. */
  help: [
    "Commands:",
    "  <address>          call someone, e.g. joan@example.test (when no conversation is open)",
    "  /call <address>    call someone, also while in other conversations",
    "  /msg <address> <text>  send one line to anyone, online or not (left with its node if offline)",
    "  <text>             send a line to the current conversation or group; //text sends /text",
    "  /me <action>       send an action: /me waves shows as * Laura waves",
    "  /list              the open conversations and groups; * marks where typed lines go",
    "  /switch <who>      send typed lines to another conversation: address, nickname or #group",
    "  /close [<who>]     end a conversation (default: the current one)",
    "  /exit              end the current conversation, or leave the current group",
    "  /group <name>      start a group chat; typed lines go to it",
    "  /invite <address>  invite someone to the current group",
    "  /accept, /decline  answer an invitation to a group",
    "  /topic [<text>]    show or set the current group's topic",
    "  /leave [#group]    leave a group (default: the current one)",
    "  /add <address>     add a buddy (any domain); you see its presence once it adds you too",
    "  /del <address>     remove a buddy",
    "  /buddies           your buddies: online, busy, offline or unknown, and where to reach them",
    "  /online            who is online in your domain",
    "  /whois <address>   what is known of someone: presence, conversation, groups, encryption",
    "  /away [<text>]     buddies see you as busy; /back undoes it",
    "  /nick <nickname>   change your nickname",
    "  /clear             clear the screen",
    "  /signup <address>  create an account on your node (the password is asked)",
    "  /verify <address>  show the safety number to compare with <address>; mark its key verified",
    "  /trust <address>   accept the new key of <address> after a changed-key warning",
    "  /history [<address>] [<n>]  the last n lines (20), with someone or with anyone",
    "  /search <text>     the last lines that hold the text",
    "  /wait              wait until a call comes in, or until the current conversation ends",
    "  /quit              deregister and leave (also Ctrl-C, or the end of the input)",
    "  /help              this list",
    "Keys: Left/Right, Home/End, Ctrl-Left/Right (Alt-b/f) move; Up/Down recall lines; Tab completes",
  ] as readonly string[],
} as const;

/** A buddy's state, in words. */
export const STATE_WORDS = { on: "online", busy: "busy", off: "offline", "?": "unknown" } as const;

/** Buddies, presence and accounts (`/add`, `/del`, `/buddies`, `/online`, `/signup`). */
export const buddyText = {
  nodeKeepsThem: (): string => "This node keeps your buddies: /buddies, /add, /del, /online",
  originalNode: (): string =>
    "Your node speaks only the original protocol: it keeps no buddy lists or accounts.",
  nodeSilent: (why: string): string => `The node did not answer: ${why}`,
  addFailed: (address: string, why: string): string => `Cannot add ${address}: ${why}`,
  added: (address: string): string => `Added ${address} to your buddies`,
  removeFailed: (address: string, why: string): string => `Cannot remove ${address}: ${why}`,
  removed: (address: string): string => `Removed ${address} from your buddies`,
  listRefused: (): string =>
    "The node refused the buddy list (session lost); it will be fetched again",
  none: (): string => "No buddies yet: /add <address> adds one",
  header: (): string => `${"BUDDY".padEnd(32)} ${"STATE".padEnd(8)} WHERE`,
  /** One row of the table; `state` comes padded (and maybe tinted). */
  row: (address: string, state: string, where: Endpoint | undefined): string =>
    `${address.padEnd(32)} ${state} ${where ? formatEndpoint(where) : ""}`.trimEnd(),
  summary: (count: number, online: number): string =>
    `${count} ${count === 1 ? "buddy" : "buddies"}, ${online} online ` +
    "(unknown: not shared with you, or not known)",
  onlineHidden: (): string => "The node does not share who is online",
  online: (domain: string, names: readonly string[]): string =>
    `Online in ${domain} (${names.length}): ${names.join(", ")}`,
  /** `state` comes in words (and maybe tinted). */
  changed: (address: string, state: string, where: Endpoint | undefined): string =>
    `Buddy ${address} is now ${state}${where ? ` (${formatEndpoint(where)})` : ""}`,
  /** Why the node refused a buddy change, by its `e=` code. */
  refusals: {
    auth: "the node no longer knows this session",
    invalid: "that is not an address",
    self: "you cannot add yourself",
    full: "your buddy list is full",
    absent: "not on your buddy list",
  } as Readonly<Record<string, string>>,
  refused: (): string => "refused",
} as const;

/** Creating an account (`--signup`, `/signup`). */
export const signUpText = {
  created: (address: string): string => `Account ${address} created`,
  createdUse: (address: string): string =>
    `Account ${address} created: register with it using --address ${address}`,
  /** Why the node did not create it. */
  refused: (address: string, result: "taken" | "invalid" | "closed"): string =>
    `Cannot sign up ${address}: ${
      {
        taken: "the name is taken",
        invalid: "the node refused the name or the request",
        closed: "the node does not allow sign-up (ask its administrator)",
      }[result]
    }`,
  failed: (address: string, why: string): string => `Cannot sign up ${address}: ${why}`,
  needsPassword: (): string => "--signup needs a password: set LUMI_PASSWORD, or run on a terminal",
} as const;

/**
 * What failed and why, as the agent's errors say it (`../errors.ts`): the
 * options, starting up, registering, finding the node, a call.
 */
export const problem = {
  badRelayMode: (mode: string): string => `Bad --relay "${mode}": give fallback, always or off`,
  requireNeedsEncryption: (): string => "--require-encryption needs encryption on",
  missingFlag: (flag: string): string =>
    `Missing ${flag}: it is required when the input is not a terminal`,
  positive: (option: string): string => `${option} must be a positive number`,
  whole: (option: string, min: number, max: number): string =>
    `${option} must be a whole number from ${min} to ${max}`,
  badAddress: (why: string): string => `Bad address: ${why}`,
  addressTooLong: (address: string, max: number): string =>
    `"${address}" is too long for PLUMI (at most ${max} characters)`,
  nickEmpty: (): string => "the nickname is empty",
  nickTooLong: (bytes: number, max: number): string =>
    `the nickname is ${bytes} bytes; at most ${max}`,
  nickControl: (): string => "the nickname contains control characters",
  badNick: (why: string): string => `Bad nickname: ${why}`,
  samePorts: (port: number): string =>
    `The group port ${port} is the conversation port: use another one`,
  badListenIp: (ip: string): string => `Bad listening IP "${ip}"`,
  badNode: (ip: string, port: number): string => `Bad node endpoint ${ip}:${port}`,
  badAdvertise: (ip: string): string =>
    `Bad advertised IP "${ip}": give the IPv4 address peers can reach`,
  emptyLogFile: (): string => "The log file name is empty",
  attemptsWhole: (): string => "attempts must be a whole number",
  logFailed: (path: string, why: string): string => `The packet log ${path} failed: ${why}`,
  logUnavailable: (path: string, why: string): string =>
    `Cannot open the packet log ${path} (${why}); going on without it`,
  listenChats: (ip: string, port: number, why: string): string =>
    `Cannot listen for conversations on ${ip}:${port}: ${why}`,
  listenGroups: (ip: string, port: number, why: string): string =>
    `Cannot listen for group links on ${ip}:${port}: ${why}`,
  udpSocket: (why: string): string => `Cannot open a UDP socket: ${why}`,
  dnsFailed: (domain: string, why: string): string =>
    `cannot find the node of ${domain}: DNS look-up failed (${why})`,
  noSuchDomain: (domain: string): string =>
    `domain ${domain} not found: it has no _plumi._udp SRV record and no DNS address record`,
  nodeSilent: (attempts: number): string => `the node does not respond (${attempts} tries)`,
  cannotRegister: (address: string, why: string): string => `Cannot register ${address}: ${why}`,
  cannotRegisterWith: (address: string, node: Endpoint): string =>
    `Cannot register ${address} with node ${formatEndpoint(node)}`,
  unknownUser: (domain: string): string => `the node of ${domain} does not know this user`,
  longerRequest: (): string => "the node wants a longer request (this agent is out of date)",
  sessionKeyUnproven: (): string =>
    "the node's answer does not prove our session key (changed on the way, or a node of another version)",
  refusedCode: (code: string | undefined): string =>
    `the node refused it (${code ?? "no reason given"})`,
  passwordNeeded: (): string =>
    "this user has a password; give it (LUMI_PASSWORD, or type it when asked)",
  wrongPassword: (address: string): string => `Cannot register ${address}: wrong password`,
  signedInElsewhere: (address: string, at: Endpoint | undefined): string =>
    `${address} is already signed in from ${at ? formatEndpoint(at) : "another place"}`,
  replaceHint: (): string => "--replace signs in here and stops the other agent",
  deregisterRefused: (): string =>
    "the node refused it (it does not know this user, or another agent holds the registration)",
  deregisterReplaced: (): string => "another agent has signed in as this user",
  deregisterUnknownUser: (): string => "the node does not know this user",
  sessionUnknown: (): string => "the node no longer knows this session",
  noConnection: (to: Endpoint, why: string): string =>
    `no connection to ${formatEndpoint(to)} (${why})`,
} as const;

/**
 * What an original agent a group member relays sees of the group: `L`
 * frames of text (`../group/relays.ts`).
 */
export const relayText = {
  line: (nick: string, text: string): string => `${nick}: ${text}`,
  joined: (nick: string): string => `* ${nick} joined`,
  gone: (nick: string, lost: boolean): string => `* ${nick} ${lost ? "vanished" : "left"}`,
  membersHead: (): string => "* Members: ",
  addedYou: (nick: string, label: string): string => `* ${nick} added you to group ${label}`,
  groupEnds: (nick: string, label: string): string =>
    `* ${nick} left ${label}: the group ends here`,
} as const;

/** Group links: their encryption, invitations, and who reads a group in clear (`../group/`). */
export const groupLinkText = {
  clearFrame: (): string => "the peer sent a frame in clear inside the encrypted group link",
  overrun: (): string => "a sealed record's entries overrun it",
  tooLong: (max: number): string => `group record longer than ${max} bytes`,
  notEncrypted: (): string =>
    "the peer did not start the encrypted handshake (group links are always encrypted)",
  otherKey: (proved: string, expected: string): string =>
    `the key that answered claims to be ${proved}, not ${expected}`,
  noKeys: (): string => "group links need the identity key (this agent runs with --no-encryption)",
  noInvitation: (): string => "no valid invitation to this group",
  notForMe: (): string => "the invitation's capability is not for this agent",
  security: (label: string, someone: string, security: Security): string =>
    `[${label}] Link with ${someone}: ${describeSecurity(security)}`,
  inClear: (label: string, someone: string, relay: string): string =>
    `[${label}] ${someone} is in clear (an original agent, or one without encryption): what is ` +
    `said in ${label} reaches them unencrypted (relayed by ${sanitize(relay)})`,
  inClearTag: (): string => "in clear",
  requireEncryption: (): string =>
    "an original agent would read the group in clear, and --require-encryption is set",
} as const;

/** How `/list` describes a group: its size and members (`names` without us). */
export function groupMembers(size: number, names: readonly string[]): string {
  return `group, ${size} member${size === 1 ? "" : "s"}` +
    (names.length > 0 ? `: you, ${names.join(", ")}` : ": only you");
}

/** A member of a group reached through another one, in `/list` (`via` is `you` for ours). */
export function memberVia(someone: string, via: string, inClear = false): string {
  return `${someone} via ${via}${inClear ? `, ${groupLinkText.inClearTag()}` : ""}`;
}

/** The marker line written where `count` lines of output were dropped. */
export function droppedMarker(count: number): string {
  return `[${count} line${count === 1 ? "" : "s"} of output dropped: nobody was reading it]\n`;
}

/**
 * Why something failed or ended, the `why` inside the lines above
 * (`Cannot call joan@bb.com: <why>`, `Conversation with Joan ended (<why>)`).
 * Refusals of group links travel to the peer in `X` records too.
 */
export const why = {
  itIsYou: (): string => "that is you",
  /** Where a password named in a refusal came from, when the caller did not say. */
  passwordOption: (): string => "the password option",
  // Why an incoming connection is refused (`../chat/admission.ts`).
  setUpFromIp: (count: number, ip: string): string =>
    `${count} connections from ${ip} are being set up already`,
  setUp: (count: number): string => `${count} connections are being set up already`,
  conversationOver: (): string => "the conversation is over",
  interrupted: (): string => "interrupted",
  // The handshake of a conversation or a group link (`exchangeNicks`, `../group/link.ts`).
  nothingReceived: (awaited: string, time: string): string =>
    `no ${awaited} received within ${time}`,
  closedBeforeNick: (): string => "the peer closed the connection before its nickname",
  lineBeforeNick: (): string => "the peer sent a line before its nickname",
  extensionBeforeNick: (): string => "the peer sent an extension frame before its nickname",
  badDataInstead: (awaiting: string, error: string): string =>
    `bad data instead of ${awaiting}: ${error}`,
  connectionFailed: (error: string): string => `connection failed: ${error}`,
  peerClosedConnection: (): string => "the peer closed the connection",
  groupRefused: (reason: string): string => `refused: ${reason || "no reason given"}`,
  answeredInstead: (kind: string): string => `the peer answered "${kind}" to a group request`,
  sentInstead: (kind: string): string => `the peer sent "${kind}" instead of a group request`,
  refusedGroupLink: (reason: string): string => `refused a group link: ${reason}`,
  /** What a handshake waits for, as `nothingReceived` and `badDataInstead` name it. */
  awaited: {
    nick: "nickname",
    aNick: "a nickname",
    groupAnswer: "answer to the group request",
    aGroupAnswer: "an answer to the group request",
    groupRequest: "group request",
    aGroupRequest: "a group request",
  },
  // A conversation or a link that ends (`explainEnd`, `../group/group.ts`).
  youLeft: (): string => "you left",
  closedByPeer: (nick: string): string => `${nick} closed the connection`,
  badDataFrom: (nick: string, error: string): string => `bad data from ${nick}: ${error}`,
  channelBroke: (error: string): string => `the encrypted channel broke: ${error}`,
  closedInHandshake: (): string => "the peer closed during the encrypted handshake",
  notAHandshake: (): string => "the peer sent something else than its encrypted handshake",
  handshakeOutOfOrder: (): string => "the handshake went out of order",
  inviterGaveUp: (): string => "the inviter gave up waiting for the answer",
  noInvitationAnswer: (seconds: number): string =>
    `no answer to the invitation within ${seconds} s`,
  badData: (error: string): string => `bad data: ${error}`,
  connectionLost: (error: string): string => `connection lost: ${error}`,
  lost: (): string => "connection lost",
  relayGone: (): string => "relay gone",
  slowFrame: (time: string): string => `took more than ${time} to send one frame`,
  notReading: (kib: number): string => `does not read what is sent (${kib} KiB waiting)`,
  silentFor: (time: string): string => `sent nothing for ${time}`,
  lineOnGroupLink: (): string => "sent an L frame on a group link",
  answeredByOther: (address: string): string => `${address} answered instead`,
  // Why a group link is refused (sent to the peer in `X`).
  leaving: (): string => "the agent is leaving",
  alreadyInGroup: (): string => "already in this group",
  itIsMe: (): string => "that is me",
  notMember: (): string => "not a member of this group",
  groupsFull: (max: number): string => `already in ${max} groups`,
  memberLeaving: (): string => "this member is leaving the group",
  groupFull: (max: number): string => `the group is full (${max} members)`,
  // Errors of the system, in the user's terms (`describeError`).
  connectionRefused: (): string => "connection refused",
  connectionReset: (): string => "connection reset by the peer",
  timedOut: (): string => "timed out",
  addressInUse: (): string => "address already in use",
} as const;

/** How `/list` describes a conversation. */
export function conversationWith(nick: string, security?: string): string {
  return `conversation with ${sanitize(nick)}${security === undefined ? "" : ` (${security})`}`;
}

/** How `/list` marks a conversation's protection. */
export const listText = {
  inClear: "in clear",
  encrypted: "encrypted",
  encryptedVerified: "encrypted, verified",
} as const;

/** Calls through a relay of the callee's node (`../chat/relay_call.ts`). */
export const relayCallText = {
  trying: (address: string, why: string): string =>
    `No direct connection to ${address} (${why}); trying the relay of its node...`,
  connected: (nick: string, address: string): string =>
    `Connected to ${nick} (${address}) through the relay of its node`,
  incoming: (address: string): string => `${address} calls through the relay of our node...`,
  incomingFailed: (address: string, why: string): string =>
    `The call of ${address} through the relay failed: ${why}`,
  nodeOriginal: (): string => "our node does not offer relays (it is an original node)",
  refused: (reason: string): string => `the node refused a relay (${reason})`,
  relayAlways: (): string => "calling through the relay (--relay always)",
  noMeeting: (relay: Endpoint, why: string): string =>
    `no meeting at the relay ${formatEndpoint(relay)} (${why})`,
} as const;

/** The history file (`../history/`): `/history`, `/search`, and what failed. */
export const historyText = {
  /** One line of `/history`; a line sent that the peer acknowledged ends with ✓. */
  line: (
    line: { at: number; peer: string; direction: "in" | "out"; text: string; state?: string },
  ): string =>
    `${new Date(line.at).toISOString().slice(0, 16).replace("T", " ")} ${
      line.direction === "out" ? `you -> ${line.peer}` : `${line.peer} -> you`
    }: ${sanitize(line.text)}${
      line.direction === "out" && line.state === "delivered" ? " \u2713" : ""
    }`,
  lastWith: (peer: string, n: number): string =>
    `Last ${n === 1 ? "line" : `${n} lines`} with ${peer}:`,
  empty: (peer: string | undefined): string =>
    peer === undefined ? "The history is empty" : `No lines with ${peer} in the history`,
  notFound: (text: string): string => `No line holds "${sanitize(text)}"`,
  off: (): string => "No history is kept (give --history FILE)",
  unavailable: (why: string): string => `History off: ${why}`,
  notKept: (why: string): string =>
    `History: lines are not kept for now (${why}); the chat goes on`,
  worksAgain: (lost: number): string =>
    `History: lines are kept again (${lost} ${lost === 1 ? "line was" : "lines were"} not kept)`,
  unreadable: (why: string): string => `Cannot read the history: ${why}`,
  usageHistory: (): string => "Usage: /history [address] [number of lines]",
  usageSearch: (): string => "Usage: /search <text>",
  tooFast: (): string => "lines come faster than the disk takes them",
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
    "  encryption:   off (--no-encryption): every conversation is in clear",
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

/** Offline messages (`/msg`, `lib/agent/node/mailbox.ts`). */
export const offlineText = {
  usage: (): string => "Usage: /msg <address> <text>",
  notForYourself: (): string => "That is your own address: /msg sends to someone else",
  leaving: (to: string): string => `${to} is not reachable now: leaving the message with its node`,
  left: (to: string, id: string): string =>
    `Left with the node of ${to} (message ${id}); you will see a ✓ when it is delivered`,
  delivered: (to: string, id: string, at: string): string =>
    `✓ ${to} received your message ${id} (${at})`,
  received: (from: string, at: string, text: string, note: string): string =>
    `[offline] ${sanitize(from)} (${at})${note}: ${sanitize(text)}`,
  notVouched: (): string => " (its node vouches for no key: not verified)",
  keyChanged: (): string => " (its key changed since you last met: not verified; /trust to accept)",
  forged: (from: string): string =>
    `A message claiming to be from ${from} was sealed with a key its node does not vouch for: not shown`,
  unreadable: (why: string): string => `An offline message could not be opened (${why}): dropped`,
  waiting: (n: number): string =>
    n === 1 ? "1 offline message waits for you" : `${n} offline messages wait for you`,
  fetched: (n: number): string => n === 1 ? "1 offline message" : `${n} offline messages`,
  noKey: (to: string): string =>
    `Cannot leave a message for ${to}: its node vouches for no identity key (the account needs a password, and its agent must have logged in with encryption on)`,
  needsEncryption: (): string =>
    "/msg needs encryption (on by default) and a node with the extensions: neither is there now",
  needsSession: (): string =>
    "Offline messages need an extended node session (this node is original)",
  refused: (to: string, why: string): string => `Cannot leave a message for ${to}: ${why}`,
  reasons: {
    user: "no such user at its node",
    full: "its mailbox is full (messages or bytes); try later",
    quota: "you have left as many messages at that node as it allows; wait for some to be read",
    big: "the message is too long for that node",
    invalid: "the node refused it as malformed",
    auth: "your session was not accepted; log in again",
    store: "the node cannot write its database now; try later",
    off: "that node keeps no offline messages",
  } as Record<string, string>,
  nodeSilent: (to: string): string => `Cannot leave a message for ${to}: its node does not answer`,
  noNode: (to: string, why: string): string => `Cannot leave a message for ${to}: ${why}`,
  fallback: (to: string): string =>
    `The conversation with ${to} is over: the line is left with its node`,
};

/**
 * The group label of an invitation line ({@linkcode client}`.invited`), or `undefined` for any
 * other line: the web page offers Accept and Decline for it.
 */
export function invitationLabel(text: string): string | undefined {
  return text.match(/^.* invites you to group (\S+): \/accept or \/decline \(within \d+ s\)$/)
    ?.[1];
}

/** The lines of the web page (`--web`, `../web/`). */
export const webText = {
  serving: (url: string): string => `Web page: ${url} (the link holds its access token)`,
  notLoopback: (at: string): string =>
    `The web page listens on ${at}, which other machines may reach: anyone with the link ` +
    `drives this agent, and nothing is encrypted (no TLS)`,
  cannotListen: (at: string, why: string): string => `Cannot serve the web page on ${at}: ${why}`,
  badEndpoint: (text: string, why: string): string => `Bad --web "${text}": ${why}`,
  tooManyLines: (): string => "Too many lines waiting: this one was not run",
  refusedToken: (): string =>
    "This page needs the link with its token, as the agent printed it when it started",
  refusedHost: (): string => "Refused: this server answers only at its own address",
  refusedOrigin: (): string => "Refused: the page is not from this server",
  tooManyClients: (max: number): string => `Refused: ${max} pages are open already`,
} as const;

/** What `/whois` says of a peer's key (`chat/keyring.ts`). */
export const whoisKey = {
  unknown: (): string => "no key pinned yet (never talked encrypted, or an original agent)",
  verified: (): string => "encrypted, verified",
  pinned: (address: string): string =>
    `encrypted (key pinned; not verified: /verify ${sanitize(address)})`,
};
