/**
 * What the agent is waiting for, shown on the terminal's status line once a
 * wait passes half a second (`calling joan@bb.test… try 2 of 5`), so that no
 * wait is silent. Each wait is begun and ended around the work; the PLUMI
 * client's retransmissions add their count.
 *
 * @module
 */

import type { PlumiMessage } from "../../plumi/messages.ts";
import { client } from "./texts.ts";
import type { AgentUi } from "./ui.ts";

/** The waits in progress, innermost last, and the UI that shows the innermost. */
export class Activity {
  readonly #ui: AgentUi;
  #waits: string[] = [];

  constructor(ui: AgentUi) {
    this.#ui = ui;
  }

  /** What is shown now, if anything. */
  get current(): string | undefined {
    return this.#waits.at(-1);
  }

  /** Run `work` while `what` (e.g. `calling joan@bb.test`) is shown as the wait in progress. */
  async during<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.#waits.push(what);
    this.#ui.activity?.(`${what}…`);
    try {
      return await work();
    } finally {
      const at = this.#waits.lastIndexOf(what);
      if (at >= 0) this.#waits.splice(at, 1);
      const outer = this.#waits.at(-1);
      this.#ui.activity?.(outer === undefined ? undefined : `${outer}…`);
    }
  }

  /**
   * A PLUMI request is sent (again): from the second try on, the wait in
   * progress says which try it is. Background requests (heartbeats, with no
   * wait begun) show nothing.
   */
  attempt(_message: PlumiMessage, attempt: number, attempts: number): void {
    const what = this.#waits.at(-1);
    if (what === undefined || attempt < 2) return;
    this.#ui.activity?.(client.attempt(what, attempt, attempts));
  }
}
