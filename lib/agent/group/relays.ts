/**
 * The original agents a group member relays: agents that never announced
 * group links, invited by this member over a plain conversation. They see
 * the group as `L` frames only (`<nick>: <text>` for lines, `* …` for
 * notices), and each `L` frame they send is one line of theirs for the group.
 *
 * @module
 */

import { addressKey } from "../addresses.ts";
import type { Conversation, ConversationEnd } from "../chat/conversation.ts";

/** An original agent relayed by this member. */
export interface RelayedAgent {
  /** Its number within this member's relays, in `A`, `D` and `R` records (1–65535). */
  readonly rid: number;
  readonly address: string;
  nick: string;
  /** Number of its last line passed on. */
  seq: number;
  readonly conversation: Conversation;
}

/** What the group hears of its relayed agents. */
export interface RelayEvents {
  /** A line arrived from `agent` (one `L` frame); `agent.seq` is its number. */
  line(agent: RelayedAgent, text: string): void;
  /** The agent's conversation ended (it left, or was lost). */
  ended(agent: RelayedAgent, end: ConversationEnd): void;
}

const MAX_RID = 65_535;
const encoder = new TextEncoder();

/**
 * `items` listed after `head`, comma-separated, over as many lines as needed
 * for each to fit one `L` frame (99 bytes), so an original agent shows each
 * notice line whole.
 *
 * @example
 * ```ts
 * noticeLines("* Members: ", ["Ana", "Bo"]); // ["* Members: Ana, Bo"]
 * ```
 */
export function noticeLines(head: string, items: readonly string[]): string[] {
  const lines: string[] = [];
  let line = head;
  for (const item of items) {
    const next = line === head ? `${line}${item}` : `${line}, ${item}`;
    if (encoder.encode(next).length <= 99 || line === head) line = next;
    else {
      lines.push(`${line},`);
      line = `* ${item}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The original agents this member relays in one group. */
export class Relays {
  readonly #events: RelayEvents;
  readonly #agents = new Map<number, RelayedAgent>();
  readonly #running = new Set<Promise<void>>();
  #nextRid = 1;

  constructor(events: RelayEvents) {
    this.#events = events;
  }

  /** How many agents are relayed. */
  get size(): number {
    return this.#agents.size;
  }

  /** The agents relayed, in the order they joined. */
  values(): IterableIterator<RelayedAgent> {
    return this.#agents.values();
  }

  /** Whether the agent at `address` is relayed here. */
  has(address: string): boolean {
    const key = addressKey(address);
    for (const agent of this.#agents.values()) if (addressKey(agent.address) === key) return true;
    return false;
  }

  /**
   * Relay the agent on `conversation` (nicknames already exchanged): its lines
   * and its end are reported to the events. `undefined` (and the
   * conversation closed) when no number is left.
   */
  add(conversation: Conversation, address: string): RelayedAgent | undefined {
    if (this.#nextRid > MAX_RID) {
      conversation.close();
      return undefined;
    }
    const agent: RelayedAgent = {
      rid: this.#nextRid++,
      address,
      nick: conversation.peerNick,
      seq: 0,
      conversation,
    };
    this.#agents.set(agent.rid, agent);
    const run = conversation.run({
      onLine: (text) => {
        agent.seq++;
        this.#events.line(agent, text);
      },
      onNick: (nick) => (agent.nick = nick),
    }).then((end) => {
      this.#agents.delete(agent.rid);
      this.#events.ended(agent, end);
    });
    this.#running.add(run);
    run.finally(() => this.#running.delete(run));
    return agent;
  }

  /** Send `text` as a line to every relayed agent but `except` (a `rid`). */
  tell(text: string, except?: number): void {
    if (this.#agents.size === 0) return;
    for (const agent of this.#agents.values()) {
      if (agent.rid !== except) agent.conversation.send(text);
    }
  }

  /** Send `notice` to every relayed agent, let it go out (1 s at most), and end every conversation. */
  async close(notice: string): Promise<void> {
    const agents = [...this.#agents.values()];
    for (const agent of agents) agent.conversation.send(notice);
    await Promise.all(agents.map((agent) => agent.conversation.flush(1_000)));
    for (const agent of agents) agent.conversation.close();
    await Promise.all([...this.#running]);
  }
}
