/**
 * The administrator console: commands read line by line from the terminal
 * (or a pipe), answers written back. Every change to the user list is on
 * disk before the console says it is done.
 *
 * @module
 */

import { isValidName } from "../plumi/address.ts";
import type { Directory } from "./directory.ts";
import type { NodeStats } from "./server.ts";

/** What the console works on. */
export interface ConsoleTarget {
  readonly domain: string;
  readonly directory: Directory;
  readonly stats: NodeStats;
  /** Persist the current user list; rejects if it could not be saved. */
  save(users: Iterable<string>): Promise<void>;
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
  del <user>...     remove users (saved at once); also: remove
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

  /** Run one command line; returns the answer text, and whether to exit. */
  async execute(line: string): Promise<{ output: string; exit: boolean }> {
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
      case "stats":
        return { output: JSON.stringify(this.#target.stats, null, 2), exit: false };
      case "exit":
      case "quit":
        return { output: "Stopping the node.", exit: true };
      default:
        return { output: `Unknown command "${command}". Type "help" for the list.`, exit: false };
    }
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
      lines.push(`  ${address.padEnd(32)} ${state}`);
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
        if (!isValidName(bare)) {
          out.push(`"${name}" is not a valid user name (printable ASCII without @ : ;)`);
        } else if (!directory.add(bare)) out.push(`${bare} is already a user`);
        else changed.push(bare);
      } else if (!directory.has(bare)) out.push(`${bare} is not a user`);
      else changed.push(bare);
    }
    if (changed.length === 0) return out.join("\n");
    // Removal happens after the save succeeds, so a failed save changes nothing.
    const gone = new Set(op === "remove" ? changed : []);
    const next = [...directory.names()].filter((n) => !gone.has(n));
    try {
      await this.#target.save(next);
    } catch (error) {
      if (op === "add") { for (const name of changed) directory.remove(name); }
      out.push(
        paint(
          this.#color,
          31,
          `Not saved, nothing changed: ${error instanceof Error ? error.message : error}`,
        ),
      );
      return out.join("\n");
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
