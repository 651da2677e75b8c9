/**
 * `main_node.ts ctl <command>`: one console command sent to the running
 * node of this folder over its control socket (see `ctl.ts`), the answer
 * printed for a person, or as JSON (`--json`), and an exit code a script
 * can rely on ({@linkcode CTL_EXIT}).
 *
 * @module
 */

import { connectUnix } from "../transport/unix.ts";
import { type ControlAnswer, controlPath } from "./ctl.ts";
import { CONTROL_COMMANDS } from "./console.ts";
import { lockHolder } from "./ctl_check.ts";
import { askHidden, askLine } from "./ctl_prompt.ts";

/** Exit codes of `ctl`. */
export const CTL_EXIT = {
  /** Done. */
  ok: 0,
  /** The node refused or could not do it (not a user, not saved, …): the text says why. */
  failed: 1,
  /** No node is running in this folder (no control socket, or nobody answers on it). */
  notRunning: 3,
  /** The node's answer did not come or could not be read, or a node runs here without a control socket. */
  noAnswer: 4,
  /** Unknown command, missing argument, bad flag (EX_USAGE). */
  usage: 64,
} as const;

/** Options of {@linkcode runCtl}. */
export interface CtlOptions {
  /** The node's configuration file, which names its socket. Default: `nodelumi.cfg`. */
  readonly configPath?: string;
  /** Print the answer as JSON. Default: false. */
  readonly json?: boolean;
  /** Do not ask before `del`. Default: false. */
  readonly yes?: boolean;
  /** Where answers go. Default: stdout (stderr for failures). */
  readonly write?: (text: string, failure: boolean) => void;
  /** Longest wait for the answer, in ms. Default: 120 000 (a password's hash is slow on purpose). */
  readonly timeoutMs?: number;
}

const MAX_ANSWER_BYTES = 512 * 2 ** 20;

function defaultWrite(text: string, failure: boolean): void {
  (failure ? console.error : console.log)(text);
}

/** Send `command args…` to the node; resolves to the exit code. */
export async function runCtl(words: readonly string[], options: CtlOptions = {}): Promise<number> {
  const write = options.write ?? defaultWrite;
  const [command = "", ...rest] = words;
  const args = [...rest];
  const name = command.toLowerCase();
  if (!(CONTROL_COMMANDS as readonly string[]).includes(name)) {
    write(
      command
        ? `Unknown command "${command}" (known: ${CONTROL_COMMANDS.join(", ")})`
        : `Usage: ctl [--json] [--yes] <command> [args]  (commands: ${
          CONTROL_COMMANDS.join(", ")
        })`,
      true,
    );
    return CTL_EXIT.usage;
  }
  const terminal = Deno.stdin.isTerminal();
  if (name === "passwd" && args.length === 1) {
    if (!terminal) {
      write(
        "passwd: no password given, and standard input is not a terminal to ask for one " +
          "(give it as a second argument: ctl passwd <user> <password>)",
        true,
      );
      return CTL_EXIT.usage;
    }
    const first = await askHidden(`New password for ${args[0]}: `);
    const second = first && await askHidden("Again: ");
    if (!first) {
      write("No password given: nothing changed.", true);
      return CTL_EXIT.failed;
    }
    if (first !== second) {
      write("The two passwords differ: nothing changed.", true);
      return CTL_EXIT.failed;
    }
    args.push(first);
  }
  if (["del", "delete", "remove", "rm"].includes(name) && args.length > 0 && terminal) {
    if (!options.yes) {
      const answer = await askLine(
        `Remove ${args.join(", ")} with their passwords and buddies? [y/N] `,
      );
      if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
        write("Not removed.", true);
        return CTL_EXIT.failed;
      }
    }
  }
  const configPath = options.configPath ?? "nodelumi.cfg";
  const path = controlPath(configPath);
  let answer: ControlAnswer | string;
  try {
    answer = await exchange(path, { command, args }, options.timeoutMs ?? 120_000);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
      // The node's file lock tells whether one runs here without answering on the socket.
      const holder = await lockHolder(`${configPath}.lock`);
      if (holder) {
        write(
          `A node runs on ${configPath} (${holder}) but does not answer on ${path} ` +
            "(started with --no-control, or its socket was removed).",
          true,
        );
        return CTL_EXIT.noAnswer;
      }
      write(
        `No node is running in this folder (${path} ${
          error instanceof Deno.errors.NotFound
            ? "does not exist"
            : "is left from a node that stopped"
        }).`,
        true,
      );
      return CTL_EXIT.notRunning;
    }
    write(
      `No answer from the node on ${path}: ${error instanceof Error ? error.message : error}`,
      true,
    );
    return CTL_EXIT.noAnswer;
  }
  if (typeof answer === "string") {
    write(`The node's answer could not be read: ${answer}`, true);
    return CTL_EXIT.noAnswer;
  }
  const failure = answer.status !== "ok";
  // JSON always on stdout (a program reads the one stream, and the exit code says how it went).
  if (options.json) write(JSON.stringify(answer.data ?? { message: answer.text }), false);
  else if (answer.text) write(answer.text, failure);
  return answer.status === "ok"
    ? CTL_EXIT.ok
    : answer.status === "usage"
    ? CTL_EXIT.usage
    : CTL_EXIT.failed;
}

/** One request and its answer (or why the answer cannot be read). */
async function exchange(
  path: string,
  request: { command: string; args: string[] },
  timeoutMs: number,
): Promise<ControlAnswer | string> {
  const conn = await connectUnix(path);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const bytes = new TextEncoder().encode(`${JSON.stringify(request)}\n`);
    for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
    const chunks: Uint8Array[] = [];
    let size = 0;
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      size += n;
      if (size > MAX_ANSWER_BYTES) return "too long";
      if (buffer[n - 1] === 0x0a) break;
    }
    const text = new TextDecoder().decode(concat(chunks, size)).trim();
    if (!text) return "the node closed the connection without answering (timed out?)";
    try {
      const answer = JSON.parse(text) as ControlAnswer;
      if (typeof answer.status !== "string" || typeof answer.text !== "string") {
        return "not an answer";
      }
      return answer;
    } catch {
      return "not JSON";
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}
