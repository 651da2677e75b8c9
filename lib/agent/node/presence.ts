/**
 * Buddies and presence in the agent: `/add`, `/del`, `/buddies`, `/online`,
 * `/signup`, and a line whenever a buddy comes online, goes offline or
 * becomes busy. Works on an {@linkcode ExtendedSession}; with an original
 * node (no session) each command explains that the node keeps no buddy lists.
 *
 * @module
 */

import { describeError } from "../errors.ts";
import type { BuddyState, BuddyStatus, ExtendedSession } from "./extended_client.ts";
import { signUp } from "./registration.ts";
import { buddyText, say, signUpText, STATE_WORDS } from "../terminal/texts.ts";
import type { PlumiClient } from "./client.ts";
import type { AgentUi, Tone } from "../terminal/ui.ts";

const STATE_TONES: Record<BuddyState, Tone> = {
  on: "good",
  busy: "warn",
  off: "dim",
  "?": "dim",
};

/** The agent's buddy list as last seen, and the commands on it. */
export class Presence {
  readonly #ui: AgentUi;
  #session: ExtendedSession | undefined;
  /** Each buddy as last seen and announced: a change is announced once, by whichever fetch sees it. */
  #known = new Map<string, BuddyStatus>();
  /** Buddies just added: their state is announced when first seen (unless unknown). */
  #added = new Set<string>();
  /** The node has stopped answering: every buddy shows as unknown. */
  #lost = false;
  /** Fetches run one at a time, so that two of them never announce the same change. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ui: AgentUi) {
    this.#ui = ui;
  }

  /** Use `session` from now on (after a registration, or a new one). */
  attach(session: ExtendedSession | undefined): void {
    this.#session = session;
  }

  /**
   * The session was granted again, maybe by a restarted node whose change
   * counts start afresh: compare states only, until the next fetch.
   */
  forgetCounts(): void {
    this.#known = new Map(
      [...this.#known].map(([address, b]) => [address, { ...b, seq: undefined }]),
    );
  }

  /** A buddy as last seen (for `/whois`), or `undefined` if not a buddy seen yet. */
  status(address: string): BuddyStatus | undefined {
    const key = address.toLowerCase();
    for (const buddy of this.#known.values()) if (buddy.address.toLowerCase() === key) return buddy;
    return undefined;
  }

  /** The buddies' addresses as last seen (for Tab completion). */
  get addresses(): string[] {
    return [...this.#known.keys()];
  }

  /** The node stopped answering (`true`: buddies show as unknown), or answers again. */
  setContact(lost: boolean): void {
    this.#lost = lost;
  }

  #tint(text: string, tone: Tone): string {
    return this.#ui.tint?.(text, tone) ?? text;
  }

  async #guard(work: (session: ExtendedSession) => Promise<void>): Promise<void> {
    if (!this.#session) {
      this.#ui.warn(buddyText.originalNode());
      return;
    }
    try {
      await work(this.#session);
    } catch (error) {
      this.#ui.warn(buddyText.nodeSilent(describeError(error)));
    }
  }

  /** Run `work` after every fetch before it. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** `/add <address>`. */
  add(address: string): Promise<void> {
    return this.#guard(async (session) => {
      const problem = await session.addBuddy(address);
      if (problem) this.#ui.warn(buddyText.addFailed(address, problem));
      else {
        this.#ui.info(buddyText.added(address));
        this.#added.add(address);
        await this.refresh();
      }
    });
  }

  /** `/del <address>`. */
  remove(address: string): Promise<void> {
    return this.#guard(async (session) => {
      const problem = await session.removeBuddy(address);
      if (problem) this.#ui.warn(buddyText.removeFailed(address, problem));
      else {
        this.#known.delete(address);
        this.#ui.info(buddyText.removed(address));
      }
    });
  }

  /**
   * `/buddies`: a table of every buddy with its state and where to reach it.
   * Changes not announced yet are announced first (once); while the node does
   * not answer, the buddies last seen are shown as unknown without asking.
   */
  show(): Promise<void> {
    return this.#guard(async (session) => {
      if (this.#lost) {
        this.#table([...this.#known.values()].map((b) => ({ address: b.address, state: "?" })));
        const domain = session.address.slice(session.address.indexOf("@") + 1);
        this.#ui.warn(say.buddiesUnknown(domain));
        return;
      }
      const buddies = await this.#serial(async () => {
        const fetched = await session.buddies();
        if (fetched) this.#update(fetched);
        return fetched;
      });
      if (!buddies) {
        this.#ui.warn(buddyText.listRefused());
        return;
      }
      this.#table(buddies);
    });
  }

  #table(buddies: readonly BuddyStatus[]): void {
    if (buddies.length === 0) {
      this.#ui.info(buddyText.none());
      return;
    }
    this.#ui.info(buddyText.header());
    for (const buddy of buddies) {
      const state = this.#tint(STATE_WORDS[buddy.state].padEnd(8), STATE_TONES[buddy.state]);
      this.#ui.info(buddyText.row(buddy.address, state, buddy.endpoint));
    }
    const online = buddies.filter((b) => b.state === "on" || b.state === "busy").length;
    this.#ui.info(buddyText.summary(buddies.length, online));
  }

  /** `/online`: who is online in the domain. */
  online(): Promise<void> {
    return this.#guard(async (session) => {
      const names = await session.online();
      if (!names) {
        this.#ui.warn(buddyText.onlineHidden());
        return;
      }
      const domain = session.address.slice(session.address.indexOf("@") + 1);
      this.#ui.info(buddyText.online(domain, names));
    });
  }

  /** `/signup <address>`: create an account on the node (the password is asked). */
  async signUp(
    client: PlumiClient,
    address: string,
    password: string,
    iterations: number,
  ): Promise<void> {
    try {
      const result = await signUp(client, address, password, iterations);
      if (result === "created") this.#ui.info(signUpText.createdUse(address));
      else this.#ui.warn(signUpText.refused(address, result));
    } catch (error) {
      this.#ui.warn(signUpText.failed(address, describeError(error)));
    }
  }

  /**
   * Fetch the buddies' states and print a line for every change since the
   * last fetch, each change once: with an extended node's change counts,
   * also a buddy that left and came back between two fetches.
   */
  refresh(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    return this.#serial(async () => {
      let buddies: BuddyStatus[] | undefined;
      try {
        buddies = await session.buddies();
      } catch {
        return; // the node is silent: the session says so, and the next heartbeat tries again
      }
      if (buddies) this.#update(buddies);
    });
  }

  /** Announce what changed in `buddies` since they were last seen, and remember them. */
  #update(buddies: readonly BuddyStatus[]): void {
    for (const buddy of buddies) {
      const before = this.#known.get(buddy.address) ??
        // First sight: nothing changed that we knew of; a buddy just added is told as it is.
        (this.#added.has(buddy.address) ? { address: buddy.address, state: "?" } : undefined);
      if (!before) continue;
      const steps = changesSince(before, buddy);
      steps.forEach((state, i) => {
        const last = i === steps.length - 1;
        const word = this.#tint(STATE_WORDS[state], STATE_TONES[state]);
        this.#ui.info(buddyText.changed(buddy.address, word, last ? buddy.endpoint : undefined));
      });
    }
    this.#known = new Map(buddies.map((b) => [b.address, b]));
    this.#added.clear();
  }
}

/**
 * The states `now` went through since `before`, one per change, the last
 * being its present state. With the node's change counts (`seq`, `trail`) the
 * changes between two looks are all there (a buddy who left and came back:
 * offline, online); without them, only a different state is a change.
 */
export function changesSince(before: BuddyStatus, now: BuddyStatus): BuddyState[] {
  if (
    before.seq !== undefined && now.seq !== undefined && now.trail !== undefined &&
    now.seq > before.seq && before.state !== "?"
  ) {
    const steps: BuddyState[] = [];
    let previous: BuddyState = before.state;
    for (const state of now.trail.slice(-(now.seq - before.seq))) {
      if (state !== previous) steps.push(state);
      previous = state;
    }
    if (previous !== now.state) steps.push(now.state);
    return steps;
  }
  return before.state === now.state ? [] : [now.state];
}
