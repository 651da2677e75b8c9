/**
 * The status line the terminal client keeps above its prompt: who you are,
 * where typed lines go, the other conversations and groups with how many of
 * their lines you have not seen, and your away text. Pure: state in, text out.
 *
 * @example
 * ```ts
 * const status = new StatusLine();
 * status.identity("Laura");
 * status.targets("#friends", ["#friends", "joan@bb.test"]);
 * status.arrived("joan@bb.test"); // true: not the current one
 * status.text(); // "[Laura → #friends]  joan@bb.test (1 unread)"
 * ```
 *
 * @module
 */

/** Where typed lines go and what else is open, as the status line shows it. */
export class StatusLine {
  #nick: string | undefined;
  #away: string | undefined;
  #current: string | undefined;
  #labels: readonly string[] = [];
  readonly #unread = new Map<string, number>();

  /** Whether there is anything to show yet (the agent has a nickname). */
  get shown(): boolean {
    return this.#nick !== undefined;
  }

  /** The current conversation or group's label, if any. */
  get current(): string | undefined {
    return this.#current;
  }

  /** Labels of every open conversation and group, oldest first. */
  get labels(): readonly string[] {
    return this.#labels;
  }

  /** Unread lines in every conversation together. */
  get unread(): number {
    let total = 0;
    for (const n of this.#unread.values()) total += n;
    return total;
  }

  /** Our nickname and away text (`undefined`: here). */
  identity(nick: string, away?: string): void {
    this.#nick = nick;
    this.#away = away;
  }

  /** The open conversations and groups, and the current one; a target looked at is read. */
  targets(current: string | undefined, labels: readonly string[]): void {
    this.#current = current;
    this.#labels = [...labels];
    if (current !== undefined) this.#unread.delete(current);
    for (const label of [...this.#unread.keys()]) {
      if (!labels.includes(label)) this.#unread.delete(label);
    }
  }

  /** A line arrived in `label`; `true` when it is not the current one (so it counts as unread). */
  arrived(label: string): boolean {
    if (label === this.#current) return false;
    this.#unread.set(label, (this.#unread.get(label) ?? 0) + 1);
    return true;
  }

  /** The status line's text (not fitted to the screen). */
  text(): string {
    const me = this.#nick ?? "";
    const head = this.#current === undefined
      ? `[${me}: no conversation]`
      : `[${me} → ${this.#current}]`;
    const others = this.#labels.filter((l) => l !== this.#current).map((label) => {
      const n = this.#unread.get(label) ?? 0;
      return n > 0 ? `${label} (${n} unread)` : label;
    });
    const away = this.#away === undefined
      ? []
      : [this.#away === "" ? "[away]" : `[away: ${this.#away}]`];
    return [head, ...others, ...away].join("  ");
  }

  /** The terminal title: the program, our nickname, and unread lines if any. */
  title(): string {
    const unread = this.unread;
    const me = this.#nick === undefined ? "LUMI" : `LUMI ${this.#nick}`;
    return unread > 0 ? `${me} (${unread} unread)` : me;
  }
}
