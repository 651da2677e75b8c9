/**
 * The administrator console: commands read line by line from the terminal
 * (or a pipe), answers written back. Every change to the user list is on
 * disk before the console says it is done. A command that fails says why,
 * and the console goes on reading.
 *
 * @module
 */

import { userNameProblem } from "../plumi/address.ts";
import type { Directory } from "./directory.ts";
import type { NodeStats } from "./server.ts";

/** Accounts, passwords and buddy lists, when the node has an account database. */
export interface ConsoleAccounts {
  /** Set a user's password (hashes it; slow on purpose). */
  setPassword(name: string, password: string): Promise<void>;
  /** Remove a user's password; false if it had none. */
  clearPassword(name: string): boolean;
  /** Delete everything stored about a user. */
  forget(name: string): void;
  isProtected(name: string): boolean;
  /** Created by sign-up, so not written to nodelumi.cfg. */
  isSignedUp(name: string): boolean;
  buddiesOf(name: string): string[];
}

/** What the console works on. */
export interface ConsoleTarget {
  readonly domain: string;
  readonly directory: Directory;
  readonly stats: NodeStats;
  /** Persist the user list of nodelumi.cfg; rejects if it could not be saved (or changed on disk). */
  save(users: Iterable<string>): Promise<void>;
  /** Reject (with the reason) if `save` would refuse now: before changes that come first. Default: none. */
  verify?(): Promise<void>;
  /**
   * Read nodelumi.cfg again: its user list, and a note when other settings
   * changed (they take effect at the next start). Rejects with the reason
   * when the file cannot be used. Default: no `reload` command.
   */
  reload?(): Promise<{ readonly users: readonly string[]; readonly note?: string }>;
  /** More counters for `stats` (the account database's). Default: none. */
  moreStats?(): Record<string, number>;
  /** The account database, if the node has one. */
  readonly accounts?: ConsoleAccounts;
}

/** Options of {@linkcode runConsole}. */
export interface ConsoleOptions {
  /** Command lines. */
  readonly input: ReadableStream<Uint8Array>;
  /** Where answers go. */
  readonly write: (text: string) => void;
  /** Use ANSI colours. Default: false. */
  readonly color?: boolean;
  /** Show a prompt (interactive terminals). Default: false. */
  readonly prompt?: boolean;
  /** Stop reading when aborted (resolves `eof`). */
  readonly signal?: AbortSignal;
}

/** How the console ended: `exit` asked for, or the input ended. */
export type ConsoleEnd = "exit" | "eof";

const HELP = `Commands:
  list              every user with its LUMI address and state
  online            the users online now
  add <user>...     add users to the domain (saved at once)
  del <user>...     remove users (saved at once), with their password and buddies
  passwd <user> <password>   set a user's password (then only extended agents with it log in)
  nopasswd <user>   remove a user's password
  buddies <user>    a user's buddy list
  reload            read nodelumi.cfg again (after editing it by hand)
  stats             packet counters
  help              this text
  exit              stop the node (also: quit)`;

function paint(color: boolean, code: number, text: string): string {
  return color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** A console bound to a node: parses and runs one command at a time. */
export class AdminConsole {
  readonly #target: ConsoleTarget;
  readonly #color: boolean;

  constructor(target: ConsoleTarget, color = false) {
    this.#target = target;
    this.#color = color;
  }

  /** Run one command line; returns the answer text, and whether to exit. Never rejects. */
  async execute(line: string): Promise<{ output: string; exit: boolean }> {
    try {
      return await this.#execute(line);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { output: paint(this.#color, 31, `Not done: ${reason}`), exit: false };
    }
  }

  async #execute(line: string): Promise<{ output: string; exit: boolean }> {
    const [command = "", ...args] = line.trim().split(/\s+/);
    switch (command.toLowerCase()) {
      case "":
        return { output: "", exit: false };
      case "help":
      case "?":
        return { output: HELP, exit: false };
      case "list":
        return { output: this.#list(false), exit: false };
      case "online":
        return { output: this.#list(true), exit: false };
      case "add":
        return { output: await this.#change(args, "add"), exit: false };
      case "del":
      case "delete":
      case "remove":
      case "rm":
        return { output: await this.#change(args, "remove"), exit: false };
      case "passwd":
        return { output: await this.#passwd(args), exit: false };
      case "nopasswd":
        return {
          output: this.#withAccounts(
            args,
            (a, name) =>
              a.clearPassword(name)
                ? `Password removed for ${name}@${this.#target.domain} (saved)`
                : `${name} has no password`,
          ),
          exit: false,
        };
      case "buddies":
        return {
          output: this.#withAccounts(args, (a, name) => {
            const list = a.buddiesOf(name);
            return list.length ? list.map((b) => `  ${b}`).join("\n") : `${name} has no buddies`;
          }),
          exit: false,
        };
      case "reload":
        return { output: await this.#reload(), exit: false };
      case "stats":
        return {
          output: JSON.stringify({ ...this.#target.stats, ...this.#target.moreStats?.() }, null, 2),
          exit: false,
        };
      case "exit":
      case "quit":
        return { output: "Stopping the node.", exit: true };
      default:
        return { output: `Unknown command "${command}". Type "help" for the list.`, exit: false };
    }
  }

  #bare(name: string): string {
    return name.replace(new RegExp(`@${this.#target.domain.replace(/\./g, "\\.")}$`, "i"), "");
  }

  #withAccounts(
    args: string[],
    action: (accounts: ConsoleAccounts, name: string) => string,
  ): string {
    const accounts = this.#target.accounts;
    if (!accounts) return "This node has no account database (started with --no-database).";
    const name = this.#bare(args[0] ?? "");
    if (!this.#target.directory.has(name)) {
      return args[0] ? `${name} is not a user` : "Usage: <command> <user>";
    }
    return action(accounts, name);
  }

  async #passwd(args: string[]): Promise<string> {
    const accounts = this.#target.accounts;
    if (!accounts) return "This node has no account database (started with --no-database).";
    const [user, password] = args;
    if (!user || !password) return "Usage: passwd <user> <password>";
    const name = this.#bare(user);
    if (!this.#target.directory.has(name)) return `${name} is not a user`;
    try {
      await accounts.setPassword(name, password);
    } catch (error) {
      return paint(this.#color, 31, `Not saved: ${error instanceof Error ? error.message : error}`);
    }
    return paint(this.#color, 32, `Password set for ${name}@${this.#target.domain} (saved)`);
  }

  async #reload(): Promise<string> {
    const reload = this.#target.reload;
    if (!reload) return "This node cannot reload its configuration.";
    const { users, note } = await reload.call(this.#target);
    const { directory, domain } = this.#target;
    // Signed-up accounts are users without being in the file: the directory keeps them.
    const { added, removed } = directory.setConfigured(users);
    const names = (list: string[]) => list.map((n) => `${n}@${domain}`).join(", ");
    const lines = [
      `Reloaded: ${directory.size} users` +
      (added.length ? `; added ${names(added)}` : "") +
      (removed.length ? `; removed ${names(removed)}` : "") +
      (added.length || removed.length ? "" : "; no change to the user list"),
    ];
    if (note) lines.push(note);
    return lines.join("\n");
  }

  #list(onlineOnly: boolean): string {
    const { directory, domain } = this.#target;
    const lines: string[] = [];
    for (const { name, registration } of directory.entries()) {
      if (onlineOnly && !registration) continue;
      const address = `${name}@${domain}`;
      const state = registration
        ? `${
          paint(this.#color, 32, "online ")
        } ${registration.endpoint.ip}:${registration.endpoint.port}`
        : paint(this.#color, 90, "offline");
      const accounts = this.#target.accounts;
      const marks = [
        ...(accounts?.isProtected(name) ? ["password"] : []),
        ...(accounts?.isSignedUp(name) ? ["signed-up"] : []),
      ];
      lines.push(
        `  ${address.padEnd(32)} ${state}${marks.length ? `  [${marks.join(", ")}]` : ""}`,
      );
    }
    lines.push(`${directory.size} users, ${directory.onlineCount} online`);
    return lines.join("\n");
  }

  async #change(names: string[], op: "add" | "remove"): Promise<string> {
    if (names.length === 0) return `Usage: ${op === "add" ? "add" : "del"} <user>...`;
    const { directory } = this.#target;
    const out: string[] = [];
    const changed: string[] = [];
    for (const name of names) {
      const bare = name.replace(
        new RegExp(`@${this.#target.domain.replace(/\./g, "\\.")}$`, "i"),
        "",
      );
      if (op === "add") {
        const problem = userNameProblem(bare);
        if (problem !== undefined) {
          out.push(problem.replace(`"${bare}"`, `"${name}"`));
        } else if (!directory.add(bare)) out.push(`${bare} is already a user`);
        else changed.push(bare);
      } else if (!directory.has(bare)) out.push(`${bare} is not a user`);
      else changed.push(bare);
    }
    if (changed.length === 0) return out.join("\n");
    // Removal happens after the save succeeds, so a failed save changes nothing.
    const gone = new Set(op === "remove" ? changed : []);
    const accounts = this.#target.accounts;
    // Signed-up accounts live in the database only, never in nodelumi.cfg.
    const next = directory.configuredNames().filter((n) => !gone.has(n));
    const failed = (error: unknown, what = "Not saved, nothing changed") => {
      if (op === "add") { for (const name of changed) directory.remove(name); }
      out.push(
        paint(this.#color, 31, `${what}: ${error instanceof Error ? error.message : error}`),
      );
      return out.join("\n");
    };
    if (op === "remove" && accounts) {
      try {
        await this.#target.verify?.();
      } catch (error) {
        return failed(error);
      }
      // The account database first: if it cannot be changed, nothing is (no password left behind).
      const done: string[] = [];
      try {
        for (const name of changed) {
          accounts.forget(name);
          done.push(name);
        }
      } catch (error) {
        return failed(
          error,
          done.length
            ? `Not removed; the password and buddies of ${done.join(", ")} were deleted already`
            : "Not removed, nothing changed",
        );
      }
    }
    try {
      await this.#target.save(next);
    } catch (error) {
      return failed(
        error,
        op === "remove" && accounts
          ? "Not saved: their passwords and buddies are deleted, but they stay users"
          : undefined,
      );
    }
    if (op === "remove") { for (const name of changed) directory.remove(name); }
    const verb = op === "add" ? "Added" : "Removed";
    out.push(
      paint(
        this.#color,
        32,
        `${verb} ${changed.map((n) => `${n}@${this.#target.domain}`).join(", ")} (saved)`,
      ),
    );
    return out.join("\n");
  }
}

/** Read commands from `input` until `exit` or the end of input. */
export async function runConsole(
  target: ConsoleTarget,
  options: ConsoleOptions,
): Promise<ConsoleEnd> {
  const admin = new AdminConsole(target, options.color ?? false);
  const promptText = options.prompt ? "lumi> " : "";
  options.write(promptText);
  let pending = "";
  const reader = options.input.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => void reader.cancel().catch(() => {});
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const { output, exit } = await admin.execute(line);
        if (output) options.write(`${output}\n`);
        if (exit) return "exit";
        options.write(promptText);
      }
    }
    if (pending.trim()) {
      const { output, exit } = await admin.execute(pending);
      if (output) options.write(`${output}\n`);
      if (exit) return "exit";
    }
    return "eof";
  } finally {
    options.signal?.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}
