/**
 * Invitations to a group waiting for the user's answer: nobody is put in a
 * group without saying yes. An invitation is shown (with the bell) and held
 * open until the user types `/accept` or `/decline`, or until it expires; the
 * inviter's group link waits for that answer ({@linkcode INVITATION_ANSWER_MS}).
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import { client } from "../terminal/texts.ts";
import type { AgentUi } from "../terminal/ui.ts";

/** How long an inviter waits for the invitee's answer, ms. */
export const INVITATION_ANSWER_MS = 60_000;
/** How long an invitation waits for the user, ms: less than the inviter waits. */
export const INVITATION_DECIDE_MS = 50_000;

interface Pending {
  readonly label: string;
  readonly settle: (refusal: string | undefined) => void;
}

/** The invitations waiting for an answer, oldest first. */
export class Invitations {
  readonly #ui: AgentUi;
  readonly #clock: Clock;
  readonly #decideMs: number;
  #pending: Pending[] = [];

  constructor(ui: AgentUi, clock: Clock, decideMs = INVITATION_DECIDE_MS) {
    this.#ui = ui;
    this.#clock = clock;
    this.#decideMs = decideMs;
  }

  /** How many wait for an answer. */
  get size(): number {
    return this.#pending.length;
  }

  /**
   * Ask the user about an invitation to `label` from `nick` (`address`):
   * resolves `undefined` when accepted, or the refusal the inviter is told.
   */
  ask(label: string, nick: string, address: string): Promise<string | undefined> {
    const seconds = Math.round(this.#decideMs / 1000);
    return new Promise((resolve) => {
      const pending: Pending = {
        label,
        settle: (refusal) => {
          this.#clock.clearTimeout(timer);
          this.#pending = this.#pending.filter((p) => p !== pending);
          resolve(refusal);
        },
      };
      const timer: TimerHandle = this.#clock.setTimeout(() => {
        this.#ui.info(client.invitationExpired(label));
        pending.settle("not accepted in time");
      }, this.#decideMs);
      this.#pending.push(pending);
      const text = client.invited(label, nick, address, seconds);
      this.#ui.info(text);
      this.#ui.ring?.(text);
    });
  }

  /** `/accept [#group]`: the named invitation, or the only one. */
  accept(name: string | undefined): void {
    const pending = this.#find(name);
    if (!pending) return;
    this.#ui.info(client.accepted(pending.label));
    pending.settle(undefined);
  }

  /** `/decline [#group]`: the named invitation, or the only one. */
  decline(name: string | undefined): void {
    const pending = this.#find(name);
    if (!pending) return;
    this.#ui.info(client.declined(pending.label));
    pending.settle("declined");
  }

  /** Refuse every invitation still waiting (the agent is leaving). */
  close(): void {
    for (const pending of [...this.#pending]) pending.settle("the agent is leaving");
  }

  #find(name: string | undefined): Pending | undefined {
    if (this.#pending.length === 0) {
      this.#ui.warn(client.noInvitation());
      return undefined;
    }
    if (name === undefined) {
      if (this.#pending.length === 1) return this.#pending[0];
      this.#ui.warn(client.whichInvitation(this.#pending.map((p) => p.label)));
      return undefined;
    }
    const wanted = name.startsWith("#") ? name : `#${name}`;
    const found = this.#pending.find((p) => p.label === wanted || p.label === name);
    if (!found) this.#ui.warn(client.whichInvitation(this.#pending.map((p) => p.label)));
    return found;
  }
}
