/**
 * What the user types, as commands. Pure.
 *
 * @module
 */

import { parseAddress } from "../../plumi/address.ts";
import { GROUP_NAME } from "../group/wire.ts";
import { historyText, offlineText, report, say, usage } from "./texts.ts";

/** One line of user input, interpreted. */
export type Command =
  | { readonly kind: "call"; readonly address: string }
  | { readonly kind: "say"; readonly text: string }
  | { readonly kind: "msg"; readonly address: string; readonly text: string }
  | { readonly kind: "exit" }
  | { readonly kind: "quit" }
  | { readonly kind: "help" }
  | { readonly kind: "wait" }
  | { readonly kind: "list" }
  | { readonly kind: "switch"; readonly target: string }
  | { readonly kind: "close"; readonly target?: string }
  | { readonly kind: "group"; readonly name: string }
  | { readonly kind: "invite"; readonly address: string }
  | { readonly kind: "leave"; readonly target?: string }
  | { readonly kind: "buddy-add"; readonly address: string }
  | { readonly kind: "buddy-del"; readonly address: string }
  | { readonly kind: "buddies" }
  | { readonly kind: "online" }
  | { readonly kind: "signup"; readonly address: string; readonly password?: string }
  | { readonly kind: "history"; readonly address?: string; readonly lines?: number }
  | { readonly kind: "search"; readonly text: string }
  | { readonly kind: "trust"; readonly address: string }
  | { readonly kind: "verify"; readonly address: string }
  | { readonly kind: "me"; readonly text: string }
  | { readonly kind: "away"; readonly text: string }
  | { readonly kind: "back" }
  | { readonly kind: "nick"; readonly nick: string }
  | { readonly kind: "clear" }
  | { readonly kind: "whois"; readonly address: string }
  | { readonly kind: "accept"; readonly target?: string }
  | { readonly kind: "decline"; readonly target?: string }
  | { readonly kind: "topic"; readonly text?: string }
  | { readonly kind: "nothing" }
  | { readonly kind: "invalid"; readonly message: string };

/** The `/help` text, one line per entry. */
export const HELP: readonly string[] = usage.help;

/** Every command's name, for Tab completion. */
export const COMMAND_NAMES: readonly string[] = HELP.flatMap((line) =>
  [...line.matchAll(/(?<=^ {2}|, )\/[a-z]+/g)].map((m) => m[0])
);

/**
 * Interpret one typed line; `talking` says whether typed lines go to a
 * conversation or group.
 *
 * @example
 * ```ts
 * parseCommand("joan@bb.com", false); // { kind: "call", address: "joan@bb.com" }
 * parseCommand("joan@bb.com", true); // { kind: "say", text: "joan@bb.com" }
 * parseCommand("//exit", true); // { kind: "say", text: "/exit" }
 * parseCommand("/switch #friends", true); // { kind: "switch", target: "#friends" }
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
        if (argument === "") return { kind: "invalid", message: usage.call() };
        return addressCommand("call", argument);
      case "/msg": {
        const [to = "", ...words] = rest;
        // The text as typed after the address (its own spaces kept).
        const text = words.length === 0 ? "" : line.trimStart().slice(word.length).trimStart()
          .slice(to.length).replace(/^\s/, "");
        if (to === "" || text.trim() === "") {
          return { kind: "invalid", message: offlineText.usage() };
        }
        const parsed = parseAddress(to);
        if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
        return { kind: "msg", address: to, text };
      }
      case "/exit":
        return { kind: "exit" };
      case "/quit":
        return { kind: "quit" };
      case "/help":
        return { kind: "help" };
      case "/wait":
        return { kind: "wait" };
      case "/list":
        return { kind: "list" };
      case "/switch":
        if (argument === "") {
          return { kind: "invalid", message: usage.switch() };
        }
        return { kind: "switch", target: argument };
      case "/close":
        return argument === "" ? { kind: "close" } : { kind: "close", target: argument };
      case "/group": {
        const name = argument.startsWith("#") ? argument.slice(1) : argument;
        if (!GROUP_NAME.test(name)) {
          return { kind: "invalid", message: usage.group() };
        }
        return { kind: "group", name };
      }
      case "/invite":
        if (argument === "") return { kind: "invalid", message: usage.invite() };
        return addressCommand("invite", argument);
      case "/leave":
        return argument === "" ? { kind: "leave" } : { kind: "leave", target: argument };
      case "/add":
      case "/del": {
        if (argument === "") return { kind: "invalid", message: usage.buddy(word.toLowerCase()) };
        const parsed = parseAddress(argument);
        if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
        return {
          kind: word.toLowerCase() === "/add" ? "buddy-add" : "buddy-del",
          address: argument,
        };
      }
      case "/buddies":
        return { kind: "buddies" };
      case "/online":
        return { kind: "online" };
      case "/trust":
      case "/verify": {
        const kind = word.toLowerCase() === "/trust" ? "trust" : "verify";
        if (argument === "") return { kind: "invalid", message: usage.needsAddress(kind) };
        const parsed = parseAddress(argument);
        if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
        return { kind, address: argument };
      }
      case "/signup": {
        const [address = "", password] = rest;
        if (address === "") {
          return { kind: "invalid", message: usage.signup() };
        }
        const parsed = parseAddress(address);
        if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
        return password === undefined
          ? { kind: "signup", address }
          : { kind: "signup", address, password };
      }
      case "/history":
        return historyCommand(rest);
      case "/search":
        if (argument === "") return { kind: "invalid", message: historyText.usageSearch() };
        return { kind: "search", text: argument };
      case "/me":
        if (argument === "") return { kind: "invalid", message: usage.me() };
        return { kind: "me", text: argument };
      case "/away":
        return { kind: "away", text: argument };
      case "/back":
        return { kind: "back" };
      case "/nick":
        if (argument === "") return { kind: "invalid", message: usage.nick() };
        return { kind: "nick", nick: argument };
      case "/clear":
        return { kind: "clear" };
      case "/whois": {
        if (argument === "") return { kind: "invalid", message: usage.whois() };
        const parsed = parseAddress(argument);
        if (!parsed.ok) return { kind: "invalid", message: say.notAnAddress(parsed.message) };
        return { kind: "whois", address: argument };
      }
      case "/accept":
      case "/decline": {
        const kind = word.toLowerCase() === "/accept" ? "accept" : "decline";
        return argument === "" ? { kind } : { kind, target: argument };
      }
      case "/topic":
        return argument === "" ? { kind: "topic" } : { kind: "topic", text: argument };
      default:
        return { kind: "invalid", message: say.unknownCommand(word) };
    }
  }
  // An empty line sends nothing (issue 19).
  if (talking) return line.trim() === "" ? { kind: "nothing" } : { kind: "say", text: line };
  const text = line.trim();
  if (text === "") return { kind: "nothing" };
  if (!text.includes("@")) {
    // A bare name is most likely an address without its domain.
    const bare = /^[^\s@:;]{1,64}$/.test(text) && !text.startsWith("/");
    return {
      kind: "invalid",
      message: bare ? report.bareWordWhileFree(text) : say.notInConversation(),
    };
  }
  return addressCommand("call", text);
}

/** `/history [address] [n]`, in either order. */
function historyCommand(words: readonly string[]): Command {
  let address: string | undefined;
  let lines: number | undefined;
  for (const word of words) {
    if (/^\d{1,6}$/.test(word) && lines === undefined) lines = Math.max(1, Number(word));
    else if (address === undefined && parseAddress(word).ok) address = word;
    else return { kind: "invalid", message: historyText.usageHistory() };
  }
  return {
    kind: "history",
    ...(address !== undefined && { address }),
    ...(lines !== undefined && { lines }),
  };
}

function addressCommand(kind: "call" | "invite", text: string): Command {
  const parsed = parseAddress(text);
  if (!parsed.ok) {
    const message = parsed.kind === "missing-at"
      ? report.bareName(text)
      : say.notAnAddress(parsed.message);
    return { kind: "invalid", message };
  }
  return { kind, address: text };
}
