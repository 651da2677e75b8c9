/**
 * What the user types, as commands. Pure.
 *
 * @module
 */

import { parseAddress } from "../plumi/address.ts";
import { say } from "./messages.ts";

/** One line of user input, interpreted. */
export type Command =
  | { readonly kind: "call"; readonly address: string }
  | { readonly kind: "say"; readonly text: string }
  | { readonly kind: "exit" }
  | { readonly kind: "quit" }
  | { readonly kind: "help" }
  | { readonly kind: "wait" }
  | { readonly kind: "nothing" }
  | { readonly kind: "invalid"; readonly message: string };

/** The `/help` text, one line per entry. */
export const HELP: readonly string[] = [
  "Commands:",
  "  <address>          call someone, e.g. joan@bb.com (when not in a conversation)",
  "  /call <address>    the same",
  "  <text>             send a line (in a conversation); //text sends /text",
  "  /exit              end the conversation and wait for calls",
  "  /wait              wait until a call comes in (for scripts)",
  "  /quit              deregister and leave (also Ctrl-C, or the end of the input)",
  "  /help              this list",
];

/**
 * Interpret one typed line; `talking` says whether a conversation is open.
 *
 * @example
 * ```ts
 * parseCommand("joan@bb.com", false); // { kind: "call", address: "joan@bb.com" }
 * parseCommand("joan@bb.com", true); // { kind: "say", text: "joan@bb.com" }
 * parseCommand("//exit", true); // { kind: "say", text: "/exit" }
 * ```
 */
export function parseCommand(line: string, talking: boolean): Command {
  const start = line.trimStart();
  if (start.startsWith("//")) return { kind: "say", text: start.slice(1) };
  if (start.startsWith("/")) {
    const [word = "", ...rest] = line.trim().split(/\s+/);
    const argument = rest.join(" ");
    switch (word.toLowerCase()) {
      case "/call":
        if (argument === "") return { kind: "invalid", message: "Usage: /call <address>" };
        return callCommand(argument);
      case "/exit":
        return { kind: "exit" };
      case "/quit":
        return { kind: "quit" };
      case "/help":
        return { kind: "help" };
      case "/wait":
        return { kind: "wait" };
      default:
        return { kind: "invalid", message: say.unknownCommand(word) };
    }
  }
  if (talking) return { kind: "say", text: line };
  const text = line.trim();
  if (text === "") return { kind: "nothing" };
  if (!text.includes("@")) return { kind: "invalid", message: say.notInConversation() };
  return callCommand(text);
}

function callCommand(text: string): Command {
  const parsed = parseAddress(text);
  if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
  return { kind: "call", address: text };
}
