/**
 * What the web page shows beside the lines: who the user is, the open
 * conversations and groups with their encryption and verification state,
 * and the buddies with their presence. Built from the command loop's
 * {@linkcode ClientContext} (read only), sent to the pages after each event.
 *
 * @module
 */

import { isChat } from "../chat/roster.ts";
import { describeSecurity } from "../terminal/texts.ts";
import type { ClientContext } from "../terminal/client_commands.ts";

/** A conversation or group as the page lists it. */
export interface TargetState {
  readonly label: string;
  readonly kind: "chat" | "group";
  /** The peer's address (conversations, when known). */
  readonly address?: string;
  /** The peer's nickname (conversations). */
  readonly nick?: string;
  /** `clear`, `encrypted` or `verified` (conversations); groups: `group`. */
  readonly protection: "clear" | "encrypted" | "verified" | "group";
  /** The protection in words, or the members of a group. */
  readonly detail: string;
  /** The topic of a group, if set. */
  readonly topic?: string;
}

/** A buddy as the page lists it. */
export interface BuddyState {
  readonly address: string;
  /** `online`, `busy`, `offline` or `unknown`. */
  readonly state: string;
}

/** Everything the page shows besides the lines. */
export interface WebState {
  readonly address: string;
  readonly nick: string;
  readonly away?: string;
  readonly current?: string;
  readonly targets: readonly TargetState[];
  readonly buddies: readonly BuddyState[];
}

/** The state of the agent of `address`, as `ctx` knows it now. */
export function webState(address: string, ctx: ClientContext): WebState {
  const roster = ctx.roster();
  const targets: TargetState[] = [];
  for (const target of [...roster.chats, ...roster.groups]) {
    if (isChat(target)) {
      const security = target.conversation.security;
      targets.push({
        label: target.label,
        kind: "chat",
        ...(target.address !== undefined && { address: target.address }),
        nick: target.conversation.peerNick,
        protection: security.kind === "clear"
          ? "clear"
          : security.verified
          ? "verified"
          : "encrypted",
        detail: describeSecurity(security),
      });
    } else {
      const topic = ctx.topics.get(target.label);
      targets.push({
        label: target.label,
        kind: "group",
        protection: "group",
        detail: target.describe(),
        ...(topic !== undefined && { topic }),
      });
    }
  }
  const buddies = (ctx.buddies?.() ?? []).map((buddy) => ({
    address: buddy,
    state: ctx.presence?.(buddy)?.state ?? "unknown",
  }));
  return {
    address,
    nick: ctx.me.nick,
    ...(ctx.me.away !== undefined && { away: ctx.me.away }),
    ...(roster.current !== undefined && { current: roster.current.label }),
    targets,
    buddies,
  };
}
