/**
 * The administrator console: commands read line by line from the terminal
 * (or a pipe), answers written back. Every change to the user list is on
 * disk before the console says it is done. A command that fails says why,
 * and the console goes on reading.
 *
 * @module
 */

import { userNameProblem } from "../plumi/address.ts";
import { readTerminalLines } from "./console_terminal.ts";
import { statsTable } from "./ctl_format.ts";
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
  /** Ask for a confirmation before `del` (a person at a terminal). Default: false. */
  readonly confirm?: boolean;
  /**
   * Read from the process's terminal with line editing and history
   * (`node:readline`) instead of `input`. Default: false.
   */
  readonly terminal?: boolean;
  /** The console to run commands on. Default: a new one on the target. */
  readonly admin?: AdminConsole;
}

/**
 * How a command ended, for the exit code of `ctl`: done; refused or failed
 * (not a user, not saved…); or not understood (unknown command, missing argument).
 */
export type CommandStatus = "ok" | "failed" | "usage";

/** The full answer to one command. */
export interface CommandResult {
  /** Text for a person. */
  readonly text: string;
  /** How it ended. */
  readonly status: CommandStatus;
  /** The answer for a program (`--json`). Default: `{ message: text }`. */
  readonly data?: unknown;
  /** The node is to stop (`exit`). */
  readonly exit: boolean;
}

/** The commands the control channel runs (`exit` is the console's alone: `ctl` does not stop a node). */
export const CONTROL_COMMANDS = [
  "list",
  "online",
  "add",
  "del",
  "passwd",
  "nopasswd",
  "buddies",
  "reload",
  "stats",
  "help",
] as const;

/** How the console ended: `exit` asked for, or the input ended. */
export type ConsoleEnd = "exit" | "eof";

const HELP = `Commands:
  list              every user with its LUMI address and state
  online            the users online now
  add <user>...     add users to the domain (saved at once)
  del <user>...     remove users (saved at once), with their password and buddies
  passwd <user> <password>   set a user's password (then only extended agents with it log in;
                    "ctl passwd <user>" asks for it, hidden)
  nopasswd <user>   remove a user's password
  buddies <user>    a user's buddy list
  reload            read nodelumi.cfg again (after editing it by hand)
  stats             packet counters (a word "--json" anywhere: any answer as JSON)
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

  /**
   * Run one command line; returns the answer text, and whether to exit. A
   * `--json` word anywhere asks for the answer as JSON. Never rejects.
   */
  async execute(line: string): Promise<{ output: string; exit: boolean }> {
    const words = line.trim().split(/\s+/);
    const json = words.includes("--json");
    const [command = "", ...args] = words.filter((w) => w !== "--json");
    const result = await this.run(command, args);
    return {
      output: json ? JSON.stringify(result.data ?? { message: result.text }, null, 2) : result.text,
      exit: result.exit,
    };
  }

  /** Run one command with its arguments (a password may hold spaces). Never rejects. */
  async run(command: string, args: readonly string[], color = this.#color): Promise<CommandResult> {
    try {
      return await this.#run(command.toLowerCase(), [...args], color);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { text: paint(color, 31, `Not done: ${reason}`), status: "failed", exit: false };
    }
  }

  async #run(command: string, args: string[], color: boolean): Promise<CommandResult> {
    const ok = (text: string, data?: unknown): CommandResult => ({
      text,
      status: "ok",
      exit: false,
      ...(data !== undefined && { data }),
    });
    switch (command) {
      case "":
        return ok("");
      case "help":
      case "?":
        return ok(HELP);
      case "list":
        return this.#list(false, color);
      case "online":
        return this.#list(true, color);
      case "add":
        return await this.#change(args, "add", color);
      case "del":
      case "delete":
      case "remove":
      case "rm":
        return await this.#change(args, "remove", color);
      case "passwd":
        return await this.#passwd(args, color);
      case "nopasswd":
        return this.#withAccounts(
          args,
          (a, name) =>
            a.clearPassword(name)
              ? ok(`Password removed for ${name}@${this.#target.domain} (saved)`, { user: name })
              : { text: `${name} has no password`, status: "failed", exit: false },
        );
      case "buddies":
        return this.#withAccounts(args, (a, name) => {
          const list = a.buddiesOf(name);
          return ok(
            list.length ? list.map((b) => `  ${b}`).join("\n") : `${name} has no buddies`,
            { user: name, buddies: list },
          );
        });
      case "reload":
        return await this.#reload();
      case "stats": {
        const counters = { ...this.#target.stats, ...this.#target.moreStats?.() };
        return ok(statsTable(counters), counters);
      }
      case "exit":
      case "quit":
        return { text: "Stopping the node.", status: "ok", exit: true };
      default:
        return {
          text: `Unknown command "${command}". Type "help" for the list.`,
          status: "usage",
          exit: false,
        };
    }
  }

  #bare(name: string): string {
    return name.replace(new RegExp(`@${this.#target.domain.replace(/\./g, "\\.")}$`, "i"), "");
  }

  #withAccounts(
    args: string[],
    action: (accounts: ConsoleAccounts, name: string) => CommandResult,
  ): CommandResult {
    const accounts = this.#target.accounts;
    if (!accounts) return failed(NO_DATABASE);
    const name = this.#bare(args[0] ?? "");
    if (!args[0]) return { text: "Usage: <command> <user>", status: "usage", exit: false };
    if (!this.#target.directory.has(name)) return failed(`${name} is not a user`);
    return action(accounts, name);
  }

  async #passwd(args: string[], color: boolean): Promise<CommandResult> {
    const accounts = this.#target.accounts;
    if (!accounts) return failed(NO_DATABASE);
    const [user, ...rest] = args;
    // From the console a password is one word; through ctl, one argument that may hold spaces.
    const password = rest.join(" ");
    if (!user || !password) {
      return { text: "Usage: passwd <user> <password>", status: "usage", exit: false };
    }
    const name = this.#bare(user);
    if (!this.#target.directory.has(name)) return failed(`${name} is not a user`);
    try {
      await accounts.setPassword(name, password);
    } catch (error) {
      return failed(
        paint(color, 31, `Not saved: ${error instanceof Error ? error.message : error}`),
      );
    }
    return {
      text: paint(color, 32, `Password set for ${name}@${this.#target.domain} (saved)`),
      status: "ok",
      exit: false,
      data: { user: name },
    };
  }

  async #reload(): Promise<CommandResult> {
    const reload = this.#target.reload;
    if (!reload) return failed("This node cannot reload its configuration.");
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
    return {
      text: lines.join("\n"),
      status: "ok",
      exit: false,
      data: { users: directory.size, added, removed, ...(note && { note }) },
    };
  }

  #list(onlineOnly: boolean, color: boolean): CommandResult {
    const { directory, domain } = this.#target;
    const accounts = this.#target.accounts;
    const rows: string[][] = [];
    const users: unknown[] = [];
    for (const { name, registration } of directory.entries()) {
      if (onlineOnly && !registration) continue;
      const address = `${name}@${domain}`;
      const at = registration
        ? `${registration.endpoint.ip}:${registration.endpoint.port}`
        : undefined;
      const state = at ? `${paint(color, 32, "online ")} ${at}` : paint(color, 90, "offline");
      const password = accounts?.isProtected(name) ?? false;
      const signedUp = accounts?.isSignedUp(name) ?? false;
      const marks = [...(password ? ["password"] : []), ...(signedUp ? ["signed-up"] : [])];
      rows.push([
        `  ${address.padEnd(32)} ${state}${marks.length ? `  [${marks.join(", ")}]` : ""}`,
      ]);
      users.push({ address, online: at !== undefined, ...(at && { at }), password, signedUp });
    }
    const total = `${directory.size} users, ${directory.onlineCount} online`;
    return {
      text: [...rows.map((r) => r[0]!), total].join("\n"),
      status: "ok",
      exit: false,
      data: { domain, users, total: directory.size, online: directory.onlineCount },
    };
  }

  async #change(names: string[], op: "add" | "remove", color: boolean): Promise<CommandResult> {
    if (names.length === 0) {
      return {
        text: `Usage: ${op === "add" ? "add" : "del"} <user>...`,
        status: "usage",
        exit: false,
      };
    }
    const { directory } = this.#target;
    const out: string[] = [];
    const changed: string[] = [];
    for (const name of names) {
      const bare = this.#bare(name);
      if (op === "add") {
        const problem = userNameProblem(bare);
        if (problem !== undefined) {
          out.push(problem.replace(`"${bare}"`, `"${name}"`));
        } else if (!directory.add(bare)) out.push(`${bare} is already a user`);
        else changed.push(bare);
      } else if (!directory.has(bare)) out.push(`${bare} is not a user`);
      else changed.push(bare);
    }
    const result = (done: readonly string[]): CommandResult => ({
      text: out.join("\n"),
      status: done.length === names.length ? "ok" : "failed",
      exit: false,
      data: { [op === "add" ? "added" : "removed"]: done, problems: out.slice() },
    });
    if (changed.length === 0) return result([]);
    // Removal happens after the save succeeds, so a failed save changes nothing.
    const gone = new Set(op === "remove" ? changed : []);
    const accounts = this.#target.accounts;
    // Signed-up accounts live in the database only, never in nodelumi.cfg.
    const next = directory.configuredNames().filter((n) => !gone.has(n));
    const fail = (error: unknown, what = "Not saved, nothing changed") => {
      if (op === "add") { for (const name of changed) directory.remove(name); }
      out.push(paint(color, 31, `${what}: ${error instanceof Error ? error.message : error}`));
      return result([]);
    };
    if (op === "remove" && accounts) {
      try {
        await this.#target.verify?.();
      } catch (error) {
        return fail(error);
      }
      // The account database first: if it cannot be changed, nothing is (no password left behind).
      const done: string[] = [];
      try {
        for (const name of changed) {
          accounts.forget(name);
          done.push(name);
        }
      } catch (error) {
        return fail(
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
      return fail(
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
        color,
        32,
        `${verb} ${changed.map((n) => `${n}@${this.#target.domain}`).join(", ")} (saved)`,
      ),
    );
    return result(changed);
  }
}

const NO_DATABASE = "This node has no account database (started with --no-database).";

function failed(text: string): CommandResult {
  return { text, status: "failed", exit: false };
}

/** The users a `del` line names, when it is one (for the console's confirmation). */
function deletion(line: string): string[] | undefined {
  const [command = "", ...args] = line.trim().split(/\s+/);
  return ["del", "delete", "remove", "rm"].includes(command.toLowerCase()) && args.length > 0
    ? args
    : undefined;
}

/** Lines of a byte stream, the last one without its newline too. */
async function* streamLines(
  input: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const reader = input.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  let pending = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        yield pending.slice(0, newline);
        pending = pending.slice(newline + 1);
      }
    }
    if (pending.trim()) yield pending;
  } finally {
    signal?.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}

/** Read commands from `input` (or the terminal) until `exit` or the end of input. */
export async function runConsole(
  target: ConsoleTarget,
  options: ConsoleOptions,
): Promise<ConsoleEnd> {
  const admin = options.admin ?? new AdminConsole(target, options.color ?? false);
  const promptText = options.prompt ? "lumi> " : "";
  // The terminal shows the prompt itself, as the question of its next line.
  const ask = { text: promptText };
  const lines = options.terminal
    ? readTerminalLines(ask, options.signal)
    : streamLines(options.input, options.signal);
  const prompt = (text: string) => {
    if (options.terminal) ask.text = text;
    else options.write(text);
  };
  prompt(promptText);
  let confirming: string | undefined;
  for await (const line of lines) {
    let command = line;
    if (confirming !== undefined) {
      command = /^\s*y(es)?\s*$/i.test(line) ? confirming : "";
      if (!command) options.write("Not removed.\n");
      confirming = undefined;
    } else if (options.confirm) {
      const names = deletion(line);
      if (names) {
        confirming = line;
        prompt(`Remove ${names.join(", ")} with their passwords and buddies? [y/N] `);
        continue;
      }
    }
    const { output, exit } = await admin.execute(command);
    if (output) options.write(`${output}\n`);
    if (exit) {
      await lines.return(undefined);
      return "exit";
    }
    prompt(promptText);
  }
  return "eof";
}
