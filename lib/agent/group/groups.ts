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
import { HandshakeError } from "../errors.ts";
import { Group, type GroupHost, type MemberIdentity } from "./group.ts";
import { checkCapability, newGroupSecret, secretFromText } from "./capability.ts";
import {
  answerGroupLink,
  type GroupLink,
  type GroupLinkKeys,
  type GroupLinkTiming,
} from "./link.ts";
import { Invitations } from "./invitations.ts";
import type { JoinRecord } from "./wire.ts";
import { groupLinkText, say, why } from "../terminal/texts.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { Roster } from "../chat/roster.ts";
import type { AgentUi } from "../terminal/ui.ts";

/** Options of {@linkcode Groups}. */
export interface GroupsOptions {
  /** This agent, with its group endpoint. */
  readonly me: { readonly address: string; readonly nick: string; readonly endpoint: Endpoint };
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
  /**
   * Our identity and pins: every group link is encrypted with them. Without
   * them (`--no-encryption`) group links are refused and everyone invited is
   * relayed in clear, as an original agent. Default: none.
   */
  readonly keys?: GroupLinkKeys;
  /** Refuse to relay an original agent into a group (`--require-encryption`). Default: false. */
  readonly requireEncryption?: boolean;
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
    const group = this.#create(newGroupId(), name, newGroupSecret());
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
    const { groupPort, encrypted } = found.features;
    const keys = this.#o.keys;
    if (groupPort === undefined || !encrypted || keys === undefined) {
      // An original agent (or one without keys): relayed by us, in clear, and every member told.
      if (this.#o.requireEncryption) {
        ui.warn(say.inviteFailed(address, groupLinkText.requireEncryption()));
        return;
      }
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
      link = await dialer.groupLink({ ip: found.endpoint.ip, port: groupPort }, {
        to: address,
        // The invitation: the group secret, and the capability bound to the key that answered.
        join: (key) => this.#join(group, "invite", group.capabilityFor(address, key)),
        keys,
      });
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
    const keys = this.#o.keys;
    if (keys === undefined) {
      conn.close();
      throw new HandshakeError(groupLinkText.noKeys());
    }
    const { link, join } = await answerGroupLink({
      conn,
      nick: this.#o.me.nick,
      me: { address: this.#o.me.address, endpoint: this.#o.me.endpoint },
      keys,
      decide: (join, nick, key) => this.#decide(join, nick, key),
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
    const joined = this.#create(join.gid, join.name, secretFromText(join.secret!)!);
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

  #decide(
    join: JoinRecord,
    nick: string,
    key: Uint8Array,
  ): string | undefined | Promise<string | undefined> {
    if (this.#closed) return why.leaving();
    if (sameAddress(join.address, this.#o.me.address)) return why.itIsMe();
    const group = this.#o.roster.groups.find((g) => g.gid === join.gid);
    if (join.mode === "mesh") {
      // Knowing the group's id is not enough: the caller's capability must be its own.
      if (!group) return why.notMember();
      if (!group.admits(join.address, key, join.capability)) return groupLinkText.noInvitation();
      return group.refusal(join.address);
    }
    if (group) return why.alreadyInGroup();
    const secret = join.secret === undefined ? undefined : secretFromText(join.secret);
    const me = this.#o.keys!.keyring;
    const presented = join.capability === undefined ? undefined : secretFromText(join.capability);
    if (
      !secret ||
      !checkCapability(secret, join.gid, me.address, me.identity.publicKey, presented)
    ) return groupLinkText.notForMe();
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

  /** A `J` record: an invitation carries the invitee's capability and the secret. */
  #join(group: Group, mode: JoinRecord["mode"], invitation?: string): JoinRecord {
    const { address, endpoint } = this.#o.me;
    const base = {
      kind: "join",
      mode,
      gid: group.gid,
      name: group.name,
      address,
      endpoint,
    } as const;
    return mode === "invite"
      ? { ...base, capability: invitation, secret: group.secretText }
      : { ...base, capability: group.capability };
  }

  #host(): GroupHost {
    const me = this.#o.me;
    const key = this.#o.keys?.keyring.identity.publicKey ?? new Uint8Array(32);
    // The nickname may change (`/nick`): read it at each use.
    const identity: MemberIdentity = {
      get address() {
        return me.address;
      },
      get nick() {
        return me.nick;
      },
      get endpoint() {
        return me.endpoint;
      },
      key,
    };
    return {
      me: identity,
      ui: this.#o.ui,
      clock: this.#o.clock,
      maxSize: this.#o.maxGroupSize,
      dial: (group, address, endpoint) => {
        const keys = this.#o.keys;
        if (keys === undefined) return Promise.reject(new HandshakeError(groupLinkText.noKeys()));
        return this.#o.dialer.groupLink(endpoint, {
          to: address,
          join: () => this.#join(group, "mesh"),
          keys,
        });
      },
    };
  }

  #create(gid: string, name: string, secret: Uint8Array): Group {
    return new Group(gid, name, this.#o.roster.uniqueLabel(`#${name}`), this.#host(), secret);
  }
}
