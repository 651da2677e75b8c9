/**
 * The conversations and groups open at once, how each is labelled, and which
 * one typed lines go to (the **current** one). It decides how a line is shown:
 * with exactly one conversation open and no group, `Joan: hello` (the
 * original agent shows `Joan diu: hello`); otherwise prefixed with the
 * conversation's label, `[joan@bb.com] Joan: hello` or `[#friends] Joan: hello`.
 * No I/O.
 *
 * Focus rules: the first conversation becomes current; a call the user
 * places, a group the user starts, and `/switch` make theirs current; an
 * incoming call or invitation does not take the focus from another
 * conversation (the user is told). When the current one ends, the most
 * recently opened of the others becomes current.
 *
 * @module
 */

import type { Conversation } from "./conversation.ts";
import type { Group } from "../group/group.ts";
import { conversationWith, listText, sanitize, say } from "../terminal/texts.ts";
import { sameAddress } from "../addresses.ts";
import type { Security } from "./secure.ts";

/** A one-to-one conversation in the roster. */
export interface Chat {
  readonly kind: "chat";
  /** How the user names it: the peer's address when known, else its nickname. */
  readonly label: string;
  /** The peer's @MI address, when known. */
  readonly address: string | undefined;
  readonly conversation: Conversation;
  /** Resolves when the conversation has ended and was reported. */
  ended: Promise<void>;
}

/** What typed lines can go to. */
export type Target = Chat | Group;

/** Whether `target` is a one-to-one conversation (not a group). */
export function isChat(target: Target): target is Chat {
  return (target as Partial<Chat>).kind === "chat";
}

/** The open conversations and groups, and the current one. */
export class Roster {
  readonly #info: (text: string) => void;
  readonly #changed: () => void;
  /** Oldest first. */
  #targets: Target[] = [];
  #current: Target | undefined;

  /**
   * `info` prints the notices about where typed lines go; `changed` is
   * called after every change (to redraw a prompt, wake a waiter).
   */
  constructor(info: (text: string) => void, changed: () => void = () => {}) {
    this.#info = info;
    this.#changed = changed;
  }

  /** Where typed lines go, if anywhere. */
  get current(): Target | undefined {
    return this.#current;
  }

  /** One-to-one conversations, oldest first. */
  get chats(): Chat[] {
    return this.#targets.filter(isChat);
  }

  /** Groups, oldest first. */
  get groups(): Group[] {
    return this.#targets.filter((t): t is Group => !isChat(t));
  }

  /** Labels of the open conversations and groups, oldest first. */
  get labels(): string[] {
    return this.#targets.map((t) => t.label);
  }

  /** Conversations and groups open. */
  get size(): number {
    return this.#targets.length;
  }

  /** Whether `target` is still open. */
  has(target: Target): boolean {
    return this.#targets.includes(target);
  }

  /** `base`, or `base~2`, `base~3`… if another conversation already has that label. */
  uniqueLabel(base: string): string {
    const clean = sanitize(base);
    let label = clean;
    for (let n = 2; this.#targets.some((t) => t.label === label); n++) label = `${clean}~${n}`;
    return label;
  }

  /** The label to show before a line of `chat`, or `undefined` when it is the only conversation. */
  prefixFor(chat: Chat): string | undefined {
    return this.#targets.length > 1 ? chat.label : undefined;
  }

  /** Add a conversation or group; `focus` makes it current even if another one is. */
  add(target: Target, focus: boolean): void {
    this.#targets.push(target);
    if (this.#current === undefined) this.#current = target;
    else if (focus) this.switchTo(target);
    else this.#info(say.linesStillGoTo(this.#current.label, target.label));
    this.#changed();
  }

  /** Remove a conversation or group; if it was current, the most recent other one becomes current. */
  remove(target: Target): void {
    const index = this.#targets.indexOf(target);
    if (index < 0) return;
    this.#targets.splice(index, 1);
    if (this.#current === target) {
      this.#current = this.#targets.at(-1);
      if (this.#current) this.#info(say.linesGoTo(this.#current.label));
    }
    this.#changed();
  }

  /** Make `target` current and say so. */
  switchTo(target: Target): void {
    this.#current = target;
    this.#info(say.linesGoTo(target.label));
    this.#changed();
  }

  /** The prompt for a user called `nick`: where typed lines go, once that is not obvious. */
  prompt(nick: string): string {
    const current = this.#current;
    if (!current || (isChat(current) && this.#targets.length === 1)) return `${nick}> `;
    return `${nick} [${current.label}]> `;
  }

  /**
   * The conversation or group `name` designates: a label (`joan@bb.com`,
   * `#friends`, `friends`), an address, or a nickname (any case). Returns the
   * text to show the user when nothing or several match.
   */
  find(name: string): Target | string {
    const wanted = name.trim();
    const byLabel = this.#targets.filter((t) =>
      t.label === wanted || t.label === `#${wanted}` ||
      (isChat(t) && t.address !== undefined && wanted.includes("@") &&
        sameAddress(t.address, wanted))
    );
    if (byLabel.length === 1) return byLabel[0]!;
    const lower = wanted.toLowerCase();
    const byNick = byLabel.length > 0
      ? byLabel
      : this.chats.filter((c) => c.conversation.peerNick.toLowerCase() === lower);
    if (byNick.length === 1) return byNick[0]!;
    if (byNick.length === 0) return say.noSuchConversation(wanted);
    return say.ambiguous(wanted, byNick.map((t) => t.label));
  }

  /** The lines of `/list`. */
  list(): string[] {
    if (this.#targets.length === 0) return [say.listEmpty()];
    // One column of labels for conversations and groups alike.
    const width = Math.max(...this.#targets.map((t) => sanitize(t.label).length));
    return [
      say.listHeader(),
      ...this.#targets.map((t) =>
        say.listEntry(
          t === this.#current,
          t.label,
          isChat(t)
            ? conversationWith(t.conversation.peerNick, securityMark(t.conversation.security))
            : t.describe(),
          width,
        )
      ),
    ];
  }
}

function securityMark(security: Security): string {
  if (security.kind === "clear") return listText.inClear;
  return security.verified ? listText.encryptedVerified : listText.encrypted;
}
