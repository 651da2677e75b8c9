/**
 * The chat client's own commands, run by the agent's command loop: `/me`,
 * `/away` and `/back`, `/nick`, `/clear`, `/whois`, `/topic`, and the
 * lines typed to the current conversation (shown with your nickname). Also
 * what Tab completes. Everything printed comes from `texts.ts` ({@linkcode client}).
 *
 * @module
 */

import { sameAddress } from "../addresses.ts";
import { isChat, type Roster } from "../chat/roster.ts";
import { checkNick } from "../options.ts";
import type { Command } from "./commands.ts";
import { COMMAND_NAMES } from "./commands.ts";
import type { Completer } from "./line_editor.ts";
import { client, offlineText } from "./texts.ts";
import type { AgentUi } from "./ui.ts";

/** What the encryption layer knows of a peer, for `/whois` (filled in by the encryption code). */
export interface EncryptionFacts {
  /** E.g. `encrypted, verified` or `not encrypted (an original agent)`. */
  readonly state: string;
  /** The peer's key fingerprint, when there is one. */
  readonly fingerprint?: string;
}

/** What a buddy's presence says, for `/whois`. */
export interface PresenceFacts {
  /** `online`, `busy`, `offline` or `unknown`. */
  readonly state: string;
  /** Where the node says it is, `ip:port`. */
  readonly where?: string;
}

/** The user as the client shows them: nickname and away text. */
export interface Me {
  nick: string;
  /** The away text (`""`: away without a text); `undefined`: here. */
  away: string | undefined;
}

/** What the client commands work with. */
export interface ClientContext {
  readonly ui: AgentUi;
  readonly me: Me;
  /** The open conversations and groups. */
  readonly roster: () => Roster;
  /** Send a line to the current conversation or group. */
  readonly send: (text: string) => void;
  /** Change the nickname used from now on (and told to open conversations); why not, if refused. */
  readonly setNick?: (nick: string) => string | undefined;
  /** A buddy's presence, if it is a buddy. */
  readonly presence?: (address: string) => PresenceFacts | undefined;
  /** Buddies' addresses, for completion. */
  readonly buddies?: () => readonly string[];
  /** Encryption state of `address` (the encryption layer's hook). Default: not known. */
  readonly encryption?: (address: string) => EncryptionFacts | undefined;
  /** Topics set in groups, by label. */
  readonly topics: Map<string, string>;
  /** `/msg`: send one line to anyone, online or not (`lib/agent/node/mailbox.ts`). Default: none. */
  readonly msg?: (address: string, text: string) => Promise<unknown>;
}

/** The commands this module runs. */
export type ClientCommand = Extract<
  Command,
  { kind: "say" | "me" | "away" | "back" | "nick" | "clear" | "whois" | "topic" | "msg" }
>;

/** Whether `command` is one of {@linkcode ClientCommand}. */
export function isClientCommand(command: Command): command is ClientCommand {
  return ["say", "me", "away", "back", "nick", "clear", "whois", "topic", "msg"].includes(
    command.kind,
  );
}

/** Run one client command; `/msg` resolves once its line is delivered or left (or refused). */
export function runClientCommand(command: ClientCommand, ctx: ClientContext): void | Promise<void> {
  const { ui, me } = ctx;
  switch (command.kind) {
    case "msg":
      if (!ctx.msg) {
        ui.warn(offlineText.needsEncryption());
        return;
      }
      return ctx.msg(command.address, command.text).then(() => {});
    case "say":
      return say(ctx, command.text);
    case "me":
      return say(ctx, `* ${me.nick} ${command.text}`);
    case "away":
      me.away = command.text;
      ui.setIdentity?.(me.nick, me.away);
      ui.info(client.away(command.text));
      return;
    case "back":
      if (me.away === undefined) ui.info(client.notAway());
      else ui.info(client.back());
      me.away = undefined;
      ui.setIdentity?.(me.nick, undefined);
      return;
    case "nick": {
      const problem = checkNick(command.nick) ?? ctx.setNick?.(command.nick);
      if (problem) {
        ui.warn(client.badNick(problem));
        return;
      }
      if (!ctx.setNick) {
        ui.warn(client.nickUnsupported());
        return;
      }
      const old = me.nick;
      me.nick = command.nick;
      ui.setIdentity?.(me.nick, me.away);
      ui.info(client.nickIs(old, me.nick));
      return;
    }
    case "clear":
      ui.clear?.();
      return;
    case "whois":
      for (const line of whois(ctx, command.address)) ui.info(line);
      return;
    case "topic":
      return topic(ctx, command.text);
  }
}

function say(ctx: ClientContext, text: string): void {
  const current = ctx.roster().current;
  if (current) ctx.ui.own?.(ctx.me.nick, text);
  ctx.send(text);
}

function topic(ctx: ClientContext, text: string | undefined): void {
  const current = ctx.roster().current;
  if (!current || isChat(current)) {
    ctx.ui.warn(client.topicNotInGroup());
    return;
  }
  if (text === undefined) {
    const now = ctx.topics.get(current.label);
    ctx.ui.info(
      now === undefined ? client.noTopic(current.label) : client.topic(current.label, now),
    );
    return;
  }
  ctx.topics.set(current.label, text);
  // It travels as a line, which every member sees, original agents included.
  say(ctx, client.topicLine(ctx.me.nick, text));
}

/** A group line that sets the topic (`* Joan set the topic: …`): the topic, else `undefined`. */
export function topicOf(nick: string, text: string): string | undefined {
  const prefix = client.topicLine(nick, "");
  return text.startsWith(prefix) ? text.slice(prefix.length) : undefined;
}

/**
 * Remember the topics set in groups from the lines that arrive (`* Joan set
 * the topic: …`), for `/topic`: `ui`'s `chat` is wrapped.
 */
export function watchTopics(ui: AgentUi, topics: Map<string, string>): void {
  const chat = ui.chat.bind(ui);
  ui.chat = (nick, text, context, address) => {
    if (context?.startsWith("#")) {
      const topic = topicOf(nick, text);
      if (topic !== undefined) topics.set(context, topic);
    }
    chat(nick, text, context, address);
  };
}

/** The lines of `/whois address`. */
export function whois(ctx: ClientContext, address: string): string[] {
  const roster = ctx.roster();
  const lines = [client.whoisHeader(address)];
  const presence = ctx.presence?.(address);
  lines.push(
    presence ? client.whoisPresence(presence.state, presence.where) : client.whoisNotBuddy(address),
  );
  const chat = roster.chats.find((c) => c.address && sameAddress(c.address, address));
  lines.push(
    chat
      ? client.whoisTalking(chat.label, chat.conversation.peerNick)
      : client.whoisNoConversation(),
  );
  const groups = roster.groups.filter((g) => g.has(address)).map((g) => g.label);
  if (groups.length > 0) lines.push(client.whoisGroups(groups));
  const encryption = ctx.encryption?.(address);
  lines.push(
    encryption
      ? client.whoisEncryption(encryption.state, encryption.fingerprint)
      : client.whoisEncryptionUnknown(),
  );
  return lines;
}

/**
 * Tab completion: command names as the first word (and `/` alone); else
 * addresses of buddies and peers, conversation labels, and group names.
 */
export function completer(ctx: ClientContext): Completer {
  return (word, first) => {
    if (first && word.startsWith("/")) return COMMAND_NAMES;
    const roster = ctx.roster();
    const words = new Set<string>();
    for (const chat of roster.chats) {
      if (chat.address) words.add(chat.address);
      words.add(chat.label);
    }
    for (const group of roster.groups) words.add(group.label);
    for (const buddy of ctx.buddies?.() ?? []) words.add(buddy);
    return [...words];
  };
}
