import { deepStrictEqual, strictEqual } from "#assert";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../plumi/codec.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { type Action, NodeCore } from "./core.ts";
import { Directory } from "./directory.ts";

const AGENT_U1: Endpoint = { ip: "10.0.0.1", port: 4001 };
const AGENT_U2: Endpoint = { ip: "10.0.0.2", port: 4002 };
const STRANGER: Endpoint = { ip: "10.0.0.9", port: 4009 };
const NODE_D: Endpoint = { ip: "10.0.0.100", port: 3344 };
const SCK_U2 = "10.100.100.102:43038";

function message(text: string): PlumiMessage {
  const decoded = decodePlumi(new TextEncoder().encode(text));
  if (!decoded.ok) throw new Error(`bad test packet "${text}": ${decoded.error.message}`);
  return decoded.message;
}

/** An action as a short tuple of strings, wire text included, for exact comparison. */
type Outcome =
  | ["send", string, string]
  | ["forward", string, string, ...([] | [string, string])]
  | ["drop", string];

function outcome(action: Action): Outcome {
  switch (action.kind) {
    case "send":
      return ["send", `${action.to.ip}:${action.to.port}`, formatPlumi(action.message)];
    case "forward": {
      const fallback = action.ifUnresolved ? outcome(action.ifUnresolved).slice(1) : [];
      return ["forward", action.domain, formatPlumi(action.message), ...fallback] as Outcome;
    }
    case "drop":
      return ["drop", action.reason];
  }
}

/** A node of PC-c with users u1, u2, u3 (u1 and u2 optionally online). */
function node(options: { online?: boolean; offlineAfter?: number; domain?: string } = {}) {
  const directory = new Directory(["u1", "u2", "u3"]);
  const core = new NodeCore({
    domain: options.domain ?? "PC-c",
    directory,
    now: () => 42,
    ...(options.offlineAfter !== undefined && { offlineAfter: options.offlineAfter }),
  });
  const handle = (text: string, from: Endpoint) => outcome(core.handle(message(text), from));
  if (options.online) {
    deepStrictEqual(handle("PRu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
    deepStrictEqual(handle("PRu2@PC-c", AGENT_U2), ["send", "10.0.0.2:4002", "RR0"]);
  }
  return { core, directory, handle };
}

Deno.test("PR of a user of the domain registers it at the sender's address: RR0", () => {
  const { directory, handle } = node();
  deepStrictEqual(handle("PRu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
  deepStrictEqual(directory.get("u1"), {
    endpoint: AGENT_U1,
    unanswered: 0,
    since: 42,
    lastSeen: 42,
  });
  strictEqual(directory.onlineCount, 1);
});

Deno.test("PR compares the domain without case and ignores a final dot", () => {
  const { directory, handle } = node();
  deepStrictEqual(handle("PRu1@pc-C", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
  deepStrictEqual(handle("PRu2@PC-C.", AGENT_U2), ["send", "10.0.0.2:4002", "RR0"]);
  strictEqual(directory.onlineCount, 2);
});

Deno.test("PR with extension parameters is answered with a bare RR0, as the original", () => {
  const { handle } = node();
  deepStrictEqual(handle("PRu1@PC-c;v=2", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
});

Deno.test("PR of an unknown user, of another domain, or a name in another case: RR1", () => {
  const { directory, handle } = node();
  deepStrictEqual(handle("PRmarta@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR1"]);
  deepStrictEqual(handle("PRu1@PC-d", AGENT_U1), ["send", "10.0.0.1:4001", "RR1"]);
  deepStrictEqual(handle("PRU1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR1"]);
  strictEqual(directory.onlineCount, 0);
});

Deno.test("PD takes a user offline (RD0); an unknown user or domain gets RD1", () => {
  const { directory, handle } = node({ online: true });
  deepStrictEqual(handle("PDu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RD0"]);
  strictEqual(directory.get("u1"), null);
  // Already offline: still done.
  deepStrictEqual(handle("PDu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RD0"]);
  deepStrictEqual(handle("PDmarta@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RD1"]);
  deepStrictEqual(handle("PDu2@PC-d", AGENT_U1), ["send", "10.0.0.1:4001", "RD1"]);
  strictEqual(directory.onlineCount, 1);
});

Deno.test("PL for an unknown user of the domain: RL2 to whoever asked", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle("PLu1@PC-c:marta@PC-c", AGENT_U1), [
    "send",
    "10.0.0.1:4001",
    "RL2u1@PC-c:marta@PC-c",
  ]);
  // From another node, for a caller of its domain: the answer goes back to that node.
  deepStrictEqual(handle("PLx@PC-d:marta@pc-c", NODE_D), [
    "send",
    "10.0.0.100:3344",
    "RL2x@PC-d:marta@pc-c",
  ]);
});

Deno.test("PL for an offline user: RL3", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle("PLu1@PC-c:u3@PC-c", AGENT_U1), [
    "send",
    "10.0.0.1:4001",
    "RL3u1@PC-c:u3@PC-c",
  ]);
});

Deno.test("PL for an online user is forwarded unchanged to its agent", () => {
  const { directory, handle } = node({ online: true });
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), [
    "send",
    "10.0.0.2:4002",
    "PLu1@PC-c:u2@PC-c",
  ]);
  deepStrictEqual(handle("PLu1@PC-d:u2@pc-c", NODE_D), [
    "send",
    "10.0.0.2:4002",
    "PLu1@PC-d:u2@pc-c",
  ]);
  strictEqual(directory.get("u2")!.unanswered, 2);
});

Deno.test("PL for another domain is forwarded to that domain's node, RL2 if it does not resolve", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-d", AGENT_U1), [
    "forward",
    "PC-d",
    "PLu1@PC-c:u2@PC-d",
    "10.0.0.1:4001",
    "RL2u1@PC-c:u2@PC-d",
  ]);
});

Deno.test("PL between two other domains is not relayed: RL2", () => {
  const { handle } = node();
  deepStrictEqual(handle("PLx@PC-d:y@PC-e", STRANGER), [
    "send",
    "10.0.0.9:4009",
    "RL2x@PC-d:y@PC-e",
  ]);
});

Deno.test("RL from the callee's agent goes back to the caller's agent unchanged", () => {
  const { handle } = node({ online: true });
  handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  deepStrictEqual(handle(`RL0u1@PC-c:u2@PC-c:${SCK_U2}`, AGENT_U2), [
    "send",
    "10.0.0.1:4001",
    `RL0u1@PC-c:u2@PC-c:${SCK_U2}`,
  ]);
  deepStrictEqual(handle(`RL0u1@PC-c:u2@PC-c:${SCK_U2}:v=2:tls`, AGENT_U2), [
    "send",
    "10.0.0.1:4001",
    `RL0u1@PC-c:u2@PC-c:${SCK_U2}:v=2:tls`,
  ]);
  deepStrictEqual(handle("RL1u1@PC-c:u2@PC-c", AGENT_U2), [
    "send",
    "10.0.0.1:4001",
    "RL1u1@PC-c:u2@PC-c",
  ]);
});

Deno.test("RL for a caller of another domain goes to that domain's node", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle(`RL0x@PC-d:u2@PC-c:${SCK_U2}`, AGENT_U2), [
    "forward",
    "PC-d",
    `RL0x@PC-d:u2@PC-c:${SCK_U2}`,
  ]);
});

Deno.test("RL from another node for a caller of this domain goes to the caller's agent", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle(`RL0u1@pc-c:u2@PC-d:${SCK_U2}`, NODE_D), [
    "send",
    "10.0.0.1:4001",
    `RL0u1@pc-c:u2@PC-d:${SCK_U2}`,
  ]);
});

Deno.test("RL for an unknown or offline caller, or between two other domains, is dropped", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle("RL1marta@PC-c:u2@PC-c", AGENT_U2), ["drop", "reply-for-unknown-user"]);
  deepStrictEqual(handle("RL1u3@PC-c:u2@PC-c", AGENT_U2), ["drop", "reply-for-offline-user"]);
  deepStrictEqual(handle("RL1x@PC-d:y@PC-e", STRANGER), ["drop", "not-our-reply"]);
});

Deno.test("RR and RD sent to a node are dropped", () => {
  const { handle } = node({ online: true });
  deepStrictEqual(handle("RR0", AGENT_U1), ["drop", "unexpected-reply"]);
  deepStrictEqual(handle("RR1", AGENT_U1), ["drop", "unexpected-reply"]);
  deepStrictEqual(handle("RD0", AGENT_U1), ["drop", "unexpected-reply"]);
  deepStrictEqual(handle("RD1;v=2", AGENT_U1), ["drop", "unexpected-reply"]);
});

/** Send `count` look-ups for u2 and assert each is forwarded to its agent. */
function forwardUnanswered(handle: ReturnType<typeof node>["handle"], count: number): void {
  for (let i = 0; i < count; i++) {
    deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), [
      "send",
      "10.0.0.2:4002",
      "PLu1@PC-c:u2@PC-c",
    ], `look-up ${i + 1} of ${count}`);
  }
}

const RL3_FOR_U1: Outcome = ["send", "10.0.0.1:4001", "RL3u1@PC-c:u2@PC-c"];

Deno.test("five unanswered look-ups mark the user offline: the sixth gets RL3", () => {
  const { directory, handle } = node({ online: true });
  forwardUnanswered(handle, 5);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
  strictEqual(directory.get("u2"), null);
  strictEqual(directory.onlineCount, 1);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("offline-after sets how many unanswered look-ups are allowed", () => {
  const { handle } = node({ online: true, offlineAfter: 2 });
  forwardUnanswered(handle, 2);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("an RL from the user's registered agent resets the unanswered count", () => {
  const { directory, handle } = node({ online: true });
  forwardUnanswered(handle, 4);
  handle("RL1u1@PC-c:u2@PC-c", AGENT_U2);
  strictEqual(directory.get("u2")!.unanswered, 0);
  forwardUnanswered(handle, 5);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("an RL for the user from any other address does not reset the count", () => {
  const { directory, handle } = node({ online: true });
  forwardUnanswered(handle, 5);
  // Same IP, other port; other IP, same port; another node.
  handle("RL1u1@PC-c:u2@PC-c", { ip: AGENT_U2.ip, port: AGENT_U2.port + 1 });
  handle("RL1u1@PC-c:u2@PC-c", { ip: "10.0.0.3", port: AGENT_U2.port });
  handle("RL1u1@PC-c:u2@PC-c", NODE_D);
  strictEqual(directory.get("u2")!.unanswered, 5);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("an RL about another user does not reset this user's count", () => {
  const { directory, handle } = node({ online: true });
  forwardUnanswered(handle, 5);
  // u2's agent answers, but about u1 (as if it were u1's agent): not u2's answer.
  handle("RL1u2@PC-c:u1@PC-c", AGENT_U2);
  strictEqual(directory.get("u2")!.unanswered, 5);
});

Deno.test("a new registration resets the unanswered count", () => {
  const { handle } = node({ online: true });
  forwardUnanswered(handle, 5);
  deepStrictEqual(handle("PRu2@PC-c", AGENT_U2), ["send", "10.0.0.2:4002", "RR0"]);
  forwardUnanswered(handle, 5);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("a user marked offline is back after registering again", () => {
  const { handle } = node({ online: true });
  forwardUnanswered(handle, 5);
  deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
  handle("PRu2@PC-c", AGENT_U2);
  forwardUnanswered(handle, 1);
});

Deno.test("isLocal compares domains without case and ignores a final dot", () => {
  const { core } = node({ domain: "Bb.Com" });
  strictEqual(core.domain, "Bb.Com");
  strictEqual(core.isLocal("bb.com"), true);
  strictEqual(core.isLocal("BB.COM."), true);
  strictEqual(core.isLocal("bb.co"), false);
  strictEqual(core.isLocal("bb.com.es"), false);
});
