/**
 * The agent's groups: starting one, inviting someone into one (an extended
 * agent over a group link, an original one over a plain call that we relay),
 * answering group links that arrive on the group port, and leaving. Each
 * group itself is a {@linkcode Group}; the groups sit in the roster beside
 * the one-to-one conversations.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { sameAddress } from "../addresses.ts";
import type { Dialer } from "../chat/dialer.ts";
import { describeError } from "../errors.ts";
import { Group, type MemberIdentity } from "./group.ts";
import { answerGroupLink, type GroupLink, type GroupLinkTiming } from "./link.ts";
import { Invitations } from "./invitations.ts";
import type { JoinRecord } from "./wire.ts";
import { say, why } from "../terminal/texts.ts";
import type { Roster } from "../chat/roster.ts";
import type { AgentUi } from "../terminal/ui.ts";

/** Options of {@linkcode Groups}. */
export interface GroupsOptions {
  /** This agent, with its group endpoint. */
  readonly me: MemberIdentity;
  readonly ui: AgentUi;
  readonly clock: Clock;
  /** Where groups are kept beside conversations. */
  readonly roster: Roster;
  /** Looks peers up and opens connections. */
  readonly dialer: Dialer;
  /** Deadlines and bounds of group links. */
  readonly timing: GroupLinkTiming;
  /** Most groups at once. */
  readonly maxGroups: number;
  /** Most members of a group. */
  readonly maxGroupSize: number;
}

/** A random group identifier: 8 letters and digits. */
function newGroupId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => alphabet[b % 36]).join("");
}

/** Starts, joins and leaves groups. */
export class Groups {
  readonly #o: GroupsOptions;
  #closed = false;
  /** Invitations waiting for the user's `/accept` or `/decline`. */
  readonly invitations: Invitations;

  constructor(options: GroupsOptions) {
    this.#o = options;
    this.invitations = new Invitations(options.ui, options.clock);
  }

  /** `/group name`: a new group with this agent as its only member; it becomes current. */
  start(name: string): void {
    const { ui, roster } = this.#o;
    if (roster.groups.length >= this.#o.maxGroups) {
      ui.warn(say.tooManyGroups(this.#o.maxGroups));
      return;
    }
    const group = this.#create(newGroupId(), name);
    ui.info(say.groupCreated(group.label));
    roster.add(group, true);
  }

  /**
   * `/invite address` into `group`. An agent that announced a group port
   * (`g=` in its `RL0`) gets a group link and then links with every member;
   * any other is called on its @sckMI and relayed by us.
   */
  async invite(group: Group, address: string, signal: AbortSignal): Promise<void> {
    const { ui, dialer } = this.#o;
    if (sameAddress(address, this.#o.me.address)) {
      ui.warn(say.inviteFailed(address, why.itIsYou()));
      return;
    }
    if (group.has(address)) {
      ui.warn(say.alreadyMember(address, group.label));
      return;
    }
    if (group.size >= this.#o.maxGroupSize) {
      ui.warn(say.groupFull(group.label, this.#o.maxGroupSize));
      return;
    }
    ui.info(say.inviting(address, group.label));
    const found = await dialer.lookUp(address, signal);
    if (!found || signal.aborted) return;
    const { groupPort } = found.features;
    if (groupPort === undefined) {
      const conversation = await dialer.conversation(
        address,
        found.endpoint,
        signal,
        say.inviteFailed,
      );
      if (conversation) group.attachOriginal(conversation, address);
      return;
    }
    let link: GroupLink;
    try {
      link = await dialer.groupLink(
        { ip: found.endpoint.ip, port: groupPort },
        this.#join(group, "invite"),
      );
    } catch (error) {
      if (!signal.aborted) ui.warn(say.inviteFailed(address, describeError(error)));
      return;
    }
    if (!sameAddress(link.peer.address, address)) {
      link.close();
      ui.warn(say.inviteFailed(address, why.answeredByOther(link.peer.address)));
      return;
    }
    group.attach(link, "i-invited");
  }

  /**
   * A connection arrived on the group port (and was admitted): answer it.
   * An invitation to a group we are not in makes us join it; anything else
   * must be for a group we are in. Throws why the link was not set up.
   * `linked` is called with the address of the member that opened the link
   * (its `RL0` offer is used up) once its request arrived.
   */
  async answer(conn: StreamConn, linked: (address: string) => void): Promise<void> {
    const { ui, roster } = this.#o;
    const { link, join } = await answerGroupLink({
      conn,
      nick: this.#o.me.nick,
      me: { address: this.#o.me.address, endpoint: this.#o.me.endpoint },
      decide: (join, nick) => this.#decide(join, nick),
      ...this.#o.timing,
    });
    if (this.#closed) {
      link.close();
      return;
    }
    linked(join.address);
    const group = roster.groups.find((g) => g.gid === join.gid);
    if (group) {
      group.attach(link, "mesh");
      return;
    }
    const joined = this.#create(join.gid, join.name);
    ui.info(say.addedYou(joined.label, link.peer.nick, join.address));
    roster.add(joined, false);
    joined.attach(link, "invited-me");
  }

  /** Leave `group`: every member is told, and it leaves the roster. */
  async leave(group: Group): Promise<void> {
    await group.leave();
    // "You left #friends" first, then where typed lines go now (issue 19).
    this.#o.ui.info(say.youLeft(group.label));
    this.#o.roster.remove(group);
  }

  /** Leave every group; refuse group links from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    this.invitations.close();
    await Promise.all(this.#o.roster.groups.map((group) => this.leave(group)));
  }

  #decide(join: JoinRecord, nick: string): string | undefined | Promise<string | undefined> {
    if (this.#closed) return why.leaving();
    if (sameAddress(join.address, this.#o.me.address)) return why.itIsMe();
    const group = this.#o.roster.groups.find((g) => g.gid === join.gid);
    if (group) return group.refusal(join.address);
    if (join.mode !== "invite") return why.notMember();
    if (this.#o.roster.groups.length + this.invitations.size >= this.#o.maxGroups) {
      return why.groupsFull(this.#o.maxGroups);
    }
    // Nobody is put in a group without saying yes (issue 19).
    return this.invitations.ask(this.#o.roster.uniqueLabel(`#${join.name}`), nick, join.address)
      .then((refusal) => {
        if (refusal !== undefined) return refusal;
        if (this.#closed) return why.leaving();
        const joined = this.#o.roster.groups.some((g) => g.gid === join.gid);
        return joined ? why.alreadyInGroup() : undefined;
      });
  }

  #join(group: Group, mode: JoinRecord["mode"]): JoinRecord {
    const { address, endpoint } = this.#o.me;
    return { kind: "join", mode, gid: group.gid, name: group.name, address, endpoint };
  }

  #create(gid: string, name: string): Group {
    const { roster } = this.#o;
    return new Group(gid, name, roster.uniqueLabel(`#${name}`), {
      me: this.#o.me,
      ui: this.#o.ui,
      clock: this.#o.clock,
      maxSize: this.#o.maxGroupSize,
      dial: (group, endpoint) => this.#o.dialer.groupLink(endpoint, this.#join(group, "mesh")),
    });
  }
}
