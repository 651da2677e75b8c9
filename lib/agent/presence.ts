/**
 * Buddies and presence in the agent: `/add`, `/del`, `/buddies`, `/online`,
 * `/signup`, and a line whenever a buddy comes online, goes offline or
 * becomes busy. Works on an {@linkcode ExtendedSession}; with an original
 * node (no session) each command explains that the node keeps no buddy lists.
 *
 * @module
 */

import { formatEndpoint } from "../plumi/address.ts";
import { describeError } from "./errors.ts";
import { type BuddyStatus, type ExtendedSession, signUp } from "./extended_client.ts";
import type { PlumiClient } from "./plumi_client.ts";
import type { AgentUi, Tone } from "./ui.ts";

const STATE_WORDS: Record<BuddyStatus["state"], string> = {
  on: "online",
  busy: "busy",
  off: "offline",
  "?": "unknown",
};
const STATE_TONES: Record<BuddyStatus["state"], Tone> = {
  on: "good",
  busy: "warn",
  off: "dim",
  "?": "dim",
};

const ORIGINAL_NODE =
  "Your node speaks only the original protocol: it keeps no buddy lists or accounts.";

/** The agent's buddy list as last seen, and the commands on it. */
export class Presence {
  readonly #ui: AgentUi;
  #session: ExtendedSession | undefined;
  #known = new Map<string, BuddyStatus>();

  constructor(ui: AgentUi) {
    this.#ui = ui;
  }

  /** Use `session` from now on (after a registration, or a new one). */
  attach(session: ExtendedSession | undefined): void {
    this.#session = session;
  }

  #tint(text: string, tone: Tone): string {
    return this.#ui.tint?.(text, tone) ?? text;
  }

  async #guard(work: (session: ExtendedSession) => Promise<void>): Promise<void> {
    if (!this.#session) {
      this.#ui.warn(ORIGINAL_NODE);
      return;
    }
    try {
      await work(this.#session);
    } catch (error) {
      this.#ui.warn(`The node did not answer: ${describeError(error)}`);
    }
  }

  /** `/add <address>`. */
  add(address: string): Promise<void> {
    return this.#guard(async (session) => {
      const problem = await session.addBuddy(address);
      if (problem) this.#ui.warn(`Cannot add ${address}: ${problem}`);
      else {
        this.#ui.info(`Added ${address} to your buddies`);
        await this.refresh(false);
      }
    });
  }

  /** `/del <address>`. */
  remove(address: string): Promise<void> {
    return this.#guard(async (session) => {
      const problem = await session.removeBuddy(address);
      if (problem) this.#ui.warn(`Cannot remove ${address}: ${problem}`);
      else {
        this.#known.delete(address);
        this.#ui.info(`Removed ${address} from your buddies`);
      }
    });
  }

  /** `/buddies`: a table of every buddy with its state and where to reach it. */
  show(): Promise<void> {
    return this.#guard(async (session) => {
      const buddies = await session.buddies();
      if (!buddies) {
        this.#ui.warn("The node refused the buddy list (session lost); it will be fetched again");
        return;
      }
      this.#remember(buddies);
      if (buddies.length === 0) {
        this.#ui.info("No buddies yet: /add <address> adds one");
        return;
      }
      this.#ui.info(`${"BUDDY".padEnd(32)} ${"STATE".padEnd(8)} WHERE`);
      for (const buddy of buddies) {
        const state = this.#tint(STATE_WORDS[buddy.state].padEnd(8), STATE_TONES[buddy.state]);
        this.#ui.info(
          `${buddy.address.padEnd(32)} ${state} ${
            buddy.endpoint ? formatEndpoint(buddy.endpoint) : ""
          }`.trimEnd(),
        );
      }
      const online = buddies.filter((b) => b.state === "on" || b.state === "busy").length;
      this.#ui.info(
        `${buddies.length} buddies, ${online} online (unknown: not shared with you, or not known)`,
      );
    });
  }

  /** `/online`: who is online in the domain. */
  online(): Promise<void> {
    return this.#guard(async (session) => {
      const names = await session.online();
      if (!names) {
        this.#ui.warn("The node does not share who is online");
        return;
      }
      const domain = session.address.slice(session.address.indexOf("@") + 1);
      this.#ui.info(`Online in ${domain} (${names.length}): ${names.join(", ")}`);
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
      const lines: Record<typeof result, string> = {
        created: `Account ${address} created: register with it using --address ${address}`,
        taken: `Cannot sign up ${address}: the name is taken`,
        invalid: `Cannot sign up ${address}: the node refused the name or the request`,
        closed:
          `Cannot sign up ${address}: the node does not allow sign-up (ask its administrator)`,
      };
      if (result === "created") this.#ui.info(lines[result]);
      else this.#ui.warn(lines[result]);
    } catch (error) {
      this.#ui.warn(`Cannot sign up ${address}: ${describeError(error)}`);
    }
  }

  /**
   * Fetch the buddies' states; when `announce`, print a line for each buddy
   * whose state changed since the last fetch.
   */
  async refresh(announce = true): Promise<void> {
    const session = this.#session;
    if (!session) return;
    let buddies: BuddyStatus[] | undefined;
    try {
      buddies = await session.buddies();
    } catch {
      return; // the node is silent: the next heartbeat tries again
    }
    if (!buddies) return;
    if (announce) {
      for (const buddy of buddies) {
        const before = this.#known.get(buddy.address)?.state;
        if (before === undefined || before === buddy.state) continue;
        const where = buddy.endpoint ? ` (${formatEndpoint(buddy.endpoint)})` : "";
        const word = this.#tint(STATE_WORDS[buddy.state], STATE_TONES[buddy.state]);
        this.#ui.info(`Buddy ${buddy.address} is now ${word}${where}`);
      }
    }
    this.#remember(buddies);
  }

  #remember(buddies: BuddyStatus[]): void {
    this.#known = new Map(buddies.map((b) => [b.address, b]));
  }
}
