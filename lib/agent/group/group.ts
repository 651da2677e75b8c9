/**
 * One group chat as one member sees it. Extended members form a full mesh:
 * each pair of members is joined by one group link (`link.ts`), so a
 * line goes straight from its sender to every other member and no member
 * carries anyone else's traffic. Original agents are members through the
 * agent that invited them (their **relay**): it shows them every line as an
 * `L` frame `<nick>: <text>` and passes their lines on to everyone.
 *
 * Exactly once, in order: every sender numbers its lines 1, 2, 3… (a relay
 * numbers its relayed agents' lines), sends each on every link to every
 * member, and a receiver shows a line only if its number is above the last
 * one shown from that sender. TCP keeps each link in order; the numbers make
 * a second link between the same pair (two members dialling each other at
 * once) harmless.
 *
 * Membership: when a link comes up, both sides send each other the members
 * they know (`P`) and the original agents they relay (`A`), and the side that
 * learns of a new member tells its other links. Of two members that learn of
 * each other, the one with the smaller address dials. A member whose last
 * link ends is gone: "left" after a `Q`, "vanished" otherwise; so are the
 * agents it relayed. Nothing waits on a slow member: writes are queued per
 * link, and a link whose queue overflows is cut.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { PmiStreamError } from "../../pmi/decoder.ts";
import { addressKey } from "../addresses.ts";
import type { Conversation } from "../chat/conversation.ts";
import { ChannelError } from "../chat/secure.ts";
import { noticeLines, Relays } from "./relays.ts";
import { describeError, GroupProtocolError, OverloadError, PeerTimeoutError } from "../errors.ts";
import { formatRecord, type GroupRecord, splitGroupText } from "./wire.ts";
import { capability, checkCapability, secretFromText, secretToText } from "./capability.ts";
import type { GroupLink, LinkEvent } from "./link.ts";
import {
  groupLinkText,
  groupMembers,
  memberVia,
  relayText,
  say,
  who,
  why,
} from "../terminal/texts.ts";
import type { AgentUi } from "../terminal/ui.ts";

/** A member's identity as this agent knows it. */
export interface MemberIdentity {
  readonly address: string;
  readonly nick: string;
  /** Where members open group links to it. */
  readonly endpoint: Endpoint;
  /** Its identity key (what its capabilities are bound to). */
  readonly key: Uint8Array;
}

/** What a {@linkcode Group} needs from the agent around it. */
export interface GroupHost {
  /** This agent. */
  readonly me: MemberIdentity;
  readonly ui: AgentUi;
  readonly clock: Clock;
  /** Most members, this agent and relayed agents included. */
  readonly maxSize: number;
  /** Open a mesh link to the member `address` at `endpoint`. */
  dial(group: Group, address: string, endpoint: Endpoint): Promise<GroupLink>;
}

/** How a link joined the group, for what is announced. */
export type AttachKind = "invited-me" | "i-invited" | "mesh";

interface Relayed {
  readonly rid: number;
  readonly address: string;
  nick: string;
}

interface Member {
  readonly key: string;
  readonly address: string;
  nick: string;
  readonly endpoint: Endpoint;
  readonly links: Set<GroupLink>;
  /** Original agents this member relays, by their number. */
  readonly relayed: Map<number, Relayed>;
  quit: boolean;
}

const encoder = new TextEncoder();

/** Why a member's link ended, in words. */
function explainLoss(error: Error | undefined, nick: string): string {
  if (error === undefined) return why.closedByPeer(nick);
  if (error instanceof PmiStreamError) return why.badData(error.message);
  if (error instanceof ChannelError) return why.channelBroke(error.message);
  if (
    error instanceof PeerTimeoutError || error instanceof OverloadError ||
    error instanceof GroupProtocolError
  ) {
    return error.message;
  }
  return why.connectionLost(describeError(error));
}

/** A group this agent is a member of. */
export class Group {
  /** The group's random identifier, the same for every member. */
  readonly gid: string;
  /** The group's name. */
  readonly name: string;
  /** How the user names it here: `#name` (with a suffix if two groups share a name). */
  readonly label: string;
  readonly #host: GroupHost;
  readonly #myKey: string;
  readonly #members = new Map<string, Member>();
  /** Members told about and not linked with yet. */
  readonly #known = new Map<string, { address: string; endpoint: Endpoint }>();
  readonly #dialing = new Set<string>();
  /** Keys of members that were in the group before this agent joined. */
  readonly #old = new Set<string>();
  readonly #relays: Relays;
  readonly #lastSeq = new Map<string, number>();
  /** Loops reading links and relayed conversations (dials in progress are not waited for). */
  readonly #serving = new Set<Promise<void>>();
  #seq = 0;
  #left = false;
  #full = false;
  /** The group secret: who holds it can make capabilities (`capability.ts`). */
  readonly #secret: Uint8Array;
  /** Lines received twice (over two links) and shown once. */
  duplicates = 0;

  /** A group as this member knows it; `secret` is the group secret (from the invitation). */
  constructor(gid: string, name: string, label: string, host: GroupHost, secret: Uint8Array) {
    this.gid = gid;
    this.name = name;
    this.label = label;
    this.#host = host;
    this.#secret = secret;
    this.#myKey = addressKey(host.me.address);
    this.#relays = new Relays({
      line: (agent, text) => {
        host.ui.chat(agent.nick, text, this.label, agent.address);
        this.#broadcast({ kind: "relayed-line", rid: agent.rid, seq: agent.seq, text });
        this.#relays.tell(relayText.line(agent.nick, text), agent.rid);
      },
      ended: (agent, end) => {
        if (this.#left) return;
        const someone = who(agent.nick, agent.address);
        if (end.reason === "error") {
          const reason = explainLoss(end.error, agent.nick);
          host.ui.info(say.memberVanished(this.label, someone, reason, "you"));
        } else host.ui.info(say.memberLeft(this.label, someone, "you"));
        const lost = end.reason === "error";
        this.#relays.tell(relayText.gone(agent.nick, lost));
        this.#broadcast({ kind: "unrelayed", rid: agent.rid, lost });
      },
    });
  }

  /** Members, this agent and relayed agents included. */
  get size(): number {
    let size = 1 + this.#members.size + this.#relays.size;
    for (const member of this.#members.values()) size += member.relayed.size;
    return size;
  }

  /** Whether this agent left the group. */
  get left(): boolean {
    return this.#left;
  }

  /** Whether `address` is a member (directly linked or relayed by us). */
  has(address: string): boolean {
    const key = addressKey(address);
    if (key === this.#myKey || this.#members.has(key) || this.#relays.has(address)) return true;
    for (const member of this.#members.values()) {
      for (const r of member.relayed.values()) if (addressKey(r.address) === key) return true;
    }
    return false;
  }

  /** Our own capability (sent in every `J m`), as it travels. */
  get capability(): string {
    return secretToText(
      capability(this.#secret, this.gid, this.#host.me.address, this.#host.me.key),
    );
  }

  /** The group secret, as it travels in an invitation. */
  get secretText(): string {
    return secretToText(this.#secret);
  }

  /** The capability that admits `address` with identity key `key` (an invitee), as it travels. */
  capabilityFor(address: string, key: Uint8Array): string {
    return secretToText(capability(this.#secret, this.gid, address, key));
  }

  /**
   * Whether `presented` admits `address`, whose link proved `key`: it must be
   * the capability made with this group's secret for that address and key.
   */
  admits(address: string, key: Uint8Array, presented: string | undefined): boolean {
    const bytes = presented === undefined ? undefined : secretFromText(presented);
    return checkCapability(this.#secret, this.gid, address, key, bytes);
  }

  /** Why `address` cannot join now, or `undefined` if it can. */
  refusal(address: string): string | undefined {
    if (this.#left) return why.memberLeaving();
    if (this.#members.has(addressKey(address))) return undefined;
    if (this.size >= this.#host.maxSize) return why.groupFull(this.#host.maxSize);
    return undefined;
  }

  /** One line per member, for `/list`. */
  describe(): string {
    const names: string[] = [];
    for (const m of this.#members.values()) {
      names.push(who(m.nick, m.address));
      for (const r of m.relayed.values()) {
        names.push(memberVia(who(r.nick, r.address), m.nick, true));
      }
    }
    for (const r of this.#relays.values()) {
      names.push(memberVia(who(r.nick, r.address), "you", true));
    }
    return groupMembers(this.size, names);
  }

  /** Send a line typed by the user to every member. */
  say(text: string): void {
    for (const piece of splitGroupText(text)) {
      this.#seq++;
      this.#broadcast({ kind: "line", seq: this.#seq, text: piece });
      this.#relays.tell(relayText.line(this.#host.me.nick, piece));
    }
  }

  /** A group link came up: add its peer as a member (or as a second link to one). */
  attach(link: GroupLink, how: AttachKind): void {
    const key = addressKey(link.peer.address);
    if (this.#left || key === this.#myKey) {
      link.close();
      return;
    }
    let member = this.#members.get(key);
    const isNew = member === undefined;
    if (member === undefined) {
      member = {
        key,
        address: link.peer.address,
        nick: link.peer.nick,
        endpoint: link.peer.endpoint,
        links: new Set(),
        relayed: new Map(),
        quit: false,
      };
      this.#members.set(key, member);
      this.#known.delete(key);
    }
    member.links.add(link);
    if (isNew) {
      const someone = who(member.nick, member.address);
      const { ui } = this.#host;
      if (how === "i-invited" || (how === "mesh" && !this.#old.has(key))) {
        ui.info(say.memberJoined(this.label, someone));
        this.#relays.tell(relayText.joined(member.nick));
      } else if (how === "mesh") {
        ui.info(say.memberPresent(this.label, someone));
      }
      ui.info(groupLinkText.security(this.label, someone, link.peer.security));
      this.#broadcast(
        {
          kind: "peer",
          fresh: true,
          address: member.address,
          endpoint: member.endpoint,
          nick: member.nick,
        },
        link,
      );
    }
    for (const other of this.#members.values()) {
      if (other === member) continue;
      link.send({
        kind: "peer",
        fresh: false,
        address: other.address,
        endpoint: other.endpoint,
        nick: other.nick,
      });
    }
    for (const agent of this.#relays.values()) {
      link.send({
        kind: "relayed",
        fresh: false,
        rid: agent.rid,
        address: agent.address,
        nick: agent.nick,
      });
    }
    this.#track(this.#serve(member, link), this.#serving);
  }

  /** Add an original agent, connected by us, whose lines we relay. */
  attachOriginal(conversation: Conversation, address: string): void {
    if (this.#left) {
      conversation.close();
      return;
    }
    const { ui, me } = this.#host;
    const others = [...this.#members.values()].map((m) => m.nick)
      .concat([...this.#relays.values()].map((r) => r.nick));
    const agent = this.#relays.add(conversation, address);
    if (!agent) return;
    ui.info(say.memberJoined(this.label, who(agent.nick, address), "you"));
    ui.info(groupLinkText.inClear(this.label, who(agent.nick, address), "you"));
    conversation.send(relayText.addedYou(me.nick, this.label));
    for (const line of noticeLines(relayText.membersHead(), [me.nick, ...others])) {
      conversation.send(line);
    }
    this.#relays.tell(relayText.joined(agent.nick), agent.rid);
    this.#broadcast({ kind: "relayed", fresh: true, rid: agent.rid, address, nick: agent.nick });
  }

  /** Leave: tell every member (`Q`), tell relayed agents, close everything. */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.#broadcast({ kind: "quit" });
    const links = [...this.#members.values()].flatMap((m) => [...m.links]);
    await Promise.all([
      ...links.map((link) => link.flush(1_000)),
      this.#relays.close(relayText.groupEnds(this.#host.me.nick, this.label)),
    ]);
    for (const link of links) link.close();
    await Promise.all([...this.#serving]);
  }

  #track(task: Promise<void>, into?: Set<Promise<void>>): void {
    into?.add(task);
    task.catch(() => {}).finally(() => into?.delete(task));
  }

  #broadcast(record: GroupRecord, except?: GroupLink): void {
    const bytes = encoder.encode(formatRecord(record));
    for (const member of this.#members.values()) {
      for (const link of member.links) if (link !== except) link.sendEncoded(bytes);
    }
  }

  async #serve(member: Member, link: GroupLink): Promise<void> {
    let error: Error | undefined;
    try {
      for (;;) {
        const event = await link.next();
        if (event === null) break;
        if (event.kind === "quit") {
          member.quit = true;
          break;
        }
        this.#handle(member, event);
      }
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    link.close();
    member.links.delete(link);
    if (member.links.size > 0 || this.#members.get(member.key) !== member) return;
    this.#members.delete(member.key);
    this.#lastSeq.delete(`d:${member.key}`);
    if (this.#left) return;
    const { ui } = this.#host;
    const someone = who(member.nick, member.address);
    const reason = explainLoss(error, member.nick);
    if (member.quit) ui.info(say.memberLeft(this.label, someone));
    else ui.info(say.memberVanished(this.label, someone, reason));
    this.#relays.tell(relayText.gone(member.nick, !member.quit));
    for (const r of member.relayed.values()) {
      this.#lastSeq.delete(`r:${addressKey(r.address)}`);
      const relayedOne = who(r.nick, r.address);
      if (member.quit) ui.info(say.memberLeft(this.label, relayedOne, member.nick));
      else {
        ui.info(say.memberVanished(this.label, relayedOne, why.relayGone(), member.nick));
      }
      this.#relays.tell(relayText.gone(r.nick, !member.quit));
    }
  }

  #handle(member: Member, event: LinkEvent): void {
    switch (event.kind) {
      case "nick":
        member.nick = event.nick;
        return;
      case "peer":
        this.#learn(event.address, event.endpoint, !event.fresh);
        return;
      case "relayed": {
        const known = member.relayed.get(event.rid);
        member.relayed.set(event.rid, {
          rid: event.rid,
          address: event.address,
          nick: event.nick,
        });
        if (known) return;
        const someone = who(event.nick, event.address);
        if (event.fresh) {
          this.#host.ui.info(say.memberJoined(this.label, someone, member.nick));
          this.#relays.tell(relayText.joined(event.nick));
        } else this.#host.ui.info(say.memberPresent(this.label, someone, member.nick));
        this.#host.ui.info(groupLinkText.inClear(this.label, someone, member.nick));
        return;
      }
      case "unrelayed": {
        const r = member.relayed.get(event.rid);
        if (!r) return;
        member.relayed.delete(event.rid);
        this.#lastSeq.delete(`r:${addressKey(r.address)}`);
        const someone = who(r.nick, r.address);
        this.#host.ui.info(
          event.lost
            ? say.memberVanished(this.label, someone, why.lost(), member.nick)
            : say.memberLeft(this.label, someone, member.nick),
        );
        this.#relays.tell(relayText.gone(r.nick, event.lost));
        return;
      }
      case "line":
        this.#deliver(`d:${member.key}`, event.seq, member.nick, event.text);
        return;
      case "relayed-line": {
        const r = member.relayed.get(event.rid);
        if (r) this.#deliver(`r:${addressKey(r.address)}`, event.seq, r.nick, event.text);
        return;
      }
      default:
        // `K`, records of later versions, and handshake records out of place: nothing to do.
        return;
    }
  }

  #deliver(sender: string, seq: number, nick: string, text: string): void {
    if (seq <= (this.#lastSeq.get(sender) ?? 0)) {
      this.duplicates++;
      return;
    }
    this.#lastSeq.set(sender, seq);
    this.#host.ui.chat(nick, text, this.label, sender);
    this.#relays.tell(relayText.line(nick, text));
  }

  /** A member was named (`P`): link with it if we have no link and our address is the smaller. */
  #learn(address: string, endpoint: Endpoint, old: boolean): void {
    const key = addressKey(address);
    if (key === this.#myKey) return;
    if (old) this.#old.add(key);
    if (this.#members.has(key) || this.#left) return;
    if (this.size + this.#known.size >= this.#host.maxSize && !this.#known.has(key)) {
      if (!this.#full) this.#host.ui.warn(say.groupFull(this.label, this.#host.maxSize));
      this.#full = true;
      return;
    }
    this.#known.set(key, { address, endpoint });
    if (this.#myKey < key && !this.#dialing.has(key)) this.#dial(key, address, endpoint);
  }

  #dial(key: string, address: string, endpoint: Endpoint): void {
    this.#dialing.add(key);
    this.#track((async () => {
      try {
        const link = await this.#host.dial(this, address, endpoint);
        if (addressKey(link.peer.address) !== key) {
          link.close();
          throw new Error(why.answeredByOther(link.peer.address));
        }
        this.attach(link, "mesh");
      } catch (error) {
        this.#known.delete(key);
        if (!this.#left) {
          this.#host.ui.warn(say.cannotReach(this.label, address, describeError(error)));
        }
      } finally {
        this.#dialing.delete(key);
      }
    })());
  }
}
