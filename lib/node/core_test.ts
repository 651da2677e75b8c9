import { deepStrictEqual, strictEqual } from "#assert";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../plumi/codec.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { ManualClock } from "../clock.ts";
import { type Action, NodeCore } from "./core.ts";
import { MemoryDirectory } from "./memory_directory.ts";

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
  | ["drop", string]
  | ["probe", string, string];

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
    case "probe":
      return ["probe", action.name, formatPlumi(action.refusal.message)];
  }
}

/** A node of PC-c with users u1, u2, u3 (u1 and u2 optionally online). */
function node(
  options: {
    online?: boolean;
    offlineAfter?: number;
    domain?: string;
    isProtected?: (name: string) => boolean;
    send?: (to: Endpoint, message: PlumiMessage) => void;
  } = {},
) {
  const directory = new MemoryDirectory(["u1", "u2", "u3"]);
  const clock = new ManualClock();
  const probes: string[] = [];
  const core = new NodeCore({
    domain: options.domain ?? "PC-c",
    directory,
    clock,
    now: () => 42,
    send: options.send ?? ((to, m) => probes.push(`${to.ip}:${to.port} ${formatPlumi(m)}`)),
    ...(options.offlineAfter !== undefined && { offlineAfter: options.offlineAfter }),
    ...(options.isProtected && { isProtected: options.isProtected }),
  });
  // As the server does: every datagram is first a sign of life of its source.
  const handle = (text: string, from: Endpoint) => {
    core.liveness.heard(from, clock.now());
    return outcome(core.handle(message(text), from));
  };
  if (options.online) {
    deepStrictEqual(handle("PRu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
    deepStrictEqual(handle("PRu2@PC-c", AGENT_U2), ["send", "10.0.0.2:4002", "RR0"]);
  }
  return { core, directory, handle, clock, probes };
}

Deno.test("PR of a user of the domain registers it at the sender's address: RR0", () => {
  const { directory, handle } = node();
  deepStrictEqual(handle("PRu1@PC-c", AGENT_U1), ["send", "10.0.0.1:4001", "RR0"]);
  const registration = directory.get("u1")!;
  deepStrictEqual(
    [registration.endpoint, registration.since, registration.lastSeen],
    [AGENT_U1, 42, 42],
  );
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
  const { core, handle } = node({ online: true });
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
  // Nothing is unanswered before its deadline.
  strictEqual(core.liveness.unanswered("u2"), 0);
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

type Node = ReturnType<typeof node>;

/**
 * `count` look-ups for u2, each forwarded to its agent and left unanswered
 * past its deadline (a second apart, as an agent retries).
 */
function forwardUnanswered({ handle, clock }: Node, count: number): void {
  for (let i = 0; i < count; i++) {
    deepStrictEqual(handle("PLu1@PC-c:u2@PC-c", AGENT_U1), [
      "send",
      "10.0.0.2:4002",
      "PLu1@PC-c:u2@PC-c",
    ], `look-up ${i + 1} of ${count}`);
    clock.advance(1_000);
  }
}

const RL3_FOR_U1: Outcome = ["send", "10.0.0.1:4001", "RL3u1@PC-c:u2@PC-c"];

Deno.test("four unanswered look-ups are forwarded, the fifth is answered RL3, as the original", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 4);
  strictEqual(n.core.liveness.unanswered("u2"), 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
  strictEqual(n.directory.get("u2"), null);
  strictEqual(n.directory.onlineCount, 1);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("offline-after sets which unanswered look-up is answered RL3", () => {
  const n = node({ online: true, offlineAfter: 2 });
  forwardUnanswered(n, 1);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("a look-up counts as unanswered only once its deadline passes in silence", () => {
  const n = node({ online: true });
  n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  n.clock.advance(700);
  strictEqual(n.core.liveness.unanswered("u2"), 0);
  n.clock.advance(300);
  strictEqual(n.core.liveness.unanswered("u2"), 1);
});

Deno.test("look-ups arriving while one awaits its answer add nothing: a burst is one", () => {
  const n = node({ online: true });
  for (let round = 0; round < 10; round++) {
    // A stranger's burst of twenty, every five seconds: one window each time.
    for (let i = 0; i < 20; i++) {
      deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", STRANGER)[0], "send");
    }
    n.clock.advance(5_000);
    if (round < 3) strictEqual(n.core.liveness.unanswered("u2"), round + 1);
  }
  // A dead agent is found dead (one window per burst)...
  strictEqual(n.directory.get("u2"), null);
});

Deno.test("a burst of look-ups does not take an agent that answers offline", () => {
  const n = node({ online: true });
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 20; i++) n.handle("PLu1@PC-c:u2@PC-c", STRANGER);
    // The agent answers one of them (the others may be lost): that is enough.
    n.handle("RL0u1@PC-c:u2@PC-c:10.0.0.2:40000", AGENT_U2);
    n.clock.advance(5_000);
  }
  strictEqual(n.core.liveness.unanswered("u2"), 0);
  strictEqual(n.directory.onlineCount, 2);
});

Deno.test("a silent window is probed: the awaited look-up goes again until its deadline", () => {
  const n = node({ online: true });
  n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  n.handle("PLu3@PC-c:u2@PC-c", AGENT_U1); // a later one, while the first awaits: the one sent again
  n.clock.advance(1_000);
  // After 400 ms of silence, then 200 ms later; at 800 ms the window has failed.
  deepStrictEqual(n.probes, [
    "10.0.0.2:4002 PLu3@PC-c:u2@PC-c",
    "10.0.0.2:4002 PLu3@PC-c:u2@PC-c",
  ]);
  strictEqual(n.core.liveness.unanswered("u2"), 1);
  // The answer to a copy is a sign of life, and reaches its caller as any answer.
  n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  n.clock.advance(300);
  deepStrictEqual(n.handle(`RL0u1@PC-c:u2@PC-c:${SCK_U2}`, AGENT_U2), [
    "send",
    "10.0.0.1:4001",
    `RL0u1@PC-c:u2@PC-c:${SCK_U2}`,
  ]);
  n.clock.advance(1_000);
  strictEqual(n.core.liveness.unanswered("u2"), 0);
  deepStrictEqual(n.probes.slice(2), [], "answered within 400 ms: nothing sent again");
});

Deno.test("the answer to one of the node's own probes is a sign of life, and goes nowhere", () => {
  const n = node({ online: true });
  deepStrictEqual(n.handle("RL0.lumi-probe@PC-c:u2@PC-c:10.0.0.2:40000", AGENT_U2), [
    "drop",
    "probe-answer",
  ]);
});

Deno.test("any datagram from the user's registered address clears the unanswered count", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 3);
  n.clock.advance(10);
  // Not an answer at all: u2's agent asks for someone itself.
  n.handle("PLu2@PC-c:u1@PC-c", AGENT_U2);
  strictEqual(n.core.liveness.unanswered("u2"), 3);
  forwardUnanswered(n, 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("datagrams from any other address do not clear the count", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 4);
  // Same IP, other port; other IP, same port; another node.
  n.handle("RL1u1@PC-c:u2@PC-c", { ip: AGENT_U2.ip, port: AGENT_U2.port + 1 });
  n.handle("RL1u1@PC-c:u2@PC-c", { ip: "10.0.0.3", port: AGENT_U2.port });
  n.handle("RL1u1@PC-c:u2@PC-c", NODE_D);
  strictEqual(n.core.liveness.unanswered("u2"), 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("a user with a heartbeat session is never judged by look-ups", () => {
  const n = node({ online: true });
  n.directory.register("u2", AGENT_U2, 42, { token: "t", heartbeatMs: 30_000, busy: false });
  for (let i = 0; i < 20; i++) {
    deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", STRANGER)[1], "10.0.0.2:4002");
    n.clock.advance(1_000);
  }
  strictEqual(n.core.liveness.unanswered("u2"), 0);
  deepStrictEqual(n.probes, []);
});

Deno.test("a new registration resets the unanswered count", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 4);
  deepStrictEqual(n.handle("PRu2@PC-c", AGENT_U2), ["send", "10.0.0.2:4002", "RR0"]);
  forwardUnanswered(n, 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
});

Deno.test("a user taken offline comes back with any datagram from its address, and is still answered", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
  strictEqual(n.directory.get("u2"), null);
  // An answer for u2 as a caller still reaches its agent while it is offline.
  deepStrictEqual(n.handle(`RL0u2@PC-c:u9@PC-d:${SCK_U2}`, NODE_D), [
    "send",
    "10.0.0.2:4002",
    `RL0u2@PC-c:u9@PC-c:${SCK_U2}`.replace("u9@PC-c", "u9@PC-d"),
  ]);
  // u2's agent calls someone: it is online again, and can be called.
  deepStrictEqual(n.handle("PLu2@PC-c:u1@PC-c", AGENT_U2), [
    "send",
    "10.0.0.1:4001",
    "PLu2@PC-c:u1@PC-c",
  ]);
  deepStrictEqual(n.directory.get("u2")?.endpoint, AGENT_U2);
  forwardUnanswered(n, 1);
});

Deno.test("a user that registered again after going offline is forwarded to again", () => {
  const n = node({ online: true });
  forwardUnanswered(n, 4);
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1), RL3_FOR_U1);
  n.handle("PRu2@PC-c", { ip: "10.0.0.7", port: 4007 });
  deepStrictEqual(n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1)[1], "10.0.0.7:4007");
  // Its old address no longer brings it back there.
  n.handle("PLu2@PC-c:u1@PC-c", AGENT_U2);
  strictEqual(n.directory.get("u2")?.endpoint.ip, "10.0.0.7");
});

Deno.test("PD is accepted only from the address holding the registration", () => {
  const n = node({ online: true });
  deepStrictEqual(n.handle("PDu2@PC-c", STRANGER), ["send", "10.0.0.9:4009", "RD1"]);
  // An extended PD is the extensions' to refuse (they tell a replaced session so).
  strictEqual(n.core.admit(message("PDu2@PC-c;v=2") as never, STRANGER), undefined);
  deepStrictEqual(n.directory.get("u2")?.endpoint, AGENT_U2);
  deepStrictEqual(n.handle("PDu2@PC-c", AGENT_U2), ["send", "10.0.0.2:4002", "RD0"]);
  // Offline already: RD0 from anywhere, as the original.
  deepStrictEqual(n.handle("PDu2@PC-c", STRANGER), ["send", "10.0.0.9:4009", "RD0"]);
});

Deno.test("a PR that would move an online user asks for a probe first", () => {
  const n = node({ online: true, isProtected: (name) => name === "u3" });
  const verdict = n.core.admit(message("PRu2@PC-c") as never, STRANGER);
  strictEqual(verdict?.kind, "probe");
  if (verdict?.kind !== "probe") return;
  strictEqual(verdict.name, "u2");
  strictEqual(formatPlumi(verdict.refusal.message), "RR1");
  const v2 = n.core.admit(message("PRu2@PC-c;v=2") as never, STRANGER);
  strictEqual(v2?.kind === "probe" && formatPlumi(v2.refusal.message), "RR1;v=2;e=signed-in");
  // From where it is registered, offline users, protected users (a proof decides): no probe.
  strictEqual(n.core.admit(message("PRu2@PC-c") as never, AGENT_U2), undefined);
  strictEqual(n.core.admit(message("PRu3@PC-c") as never, STRANGER), undefined);
  n.directory.register("u3", { ip: "10.0.0.3", port: 4003 }, 42);
  strictEqual(n.core.admit(message("PRu3@PC-c;v=2") as never, STRANGER), undefined);
});

Deno.test("an original PR from elsewhere for an online user is a probe first; once silent, it moves", () => {
  const n = node({ online: true });
  deepStrictEqual(n.handle("PRu2@PC-c", STRANGER), ["probe", "u2", "RR1"]);
  deepStrictEqual(n.directory.get("u2")?.endpoint, AGENT_U2);
  const probed = n.directory.get("u2")!;
  deepStrictEqual(outcome(n.core.handle(message("PRu2@PC-c"), STRANGER, probed)), [
    "send",
    "10.0.0.9:4009",
    "RR0",
  ]);
  deepStrictEqual(n.directory.get("u2")?.endpoint, STRANGER);
});

Deno.test("a move probe: refused if the agent answers, moved if it stays silent", () => {
  const n = node({ online: true });
  const results: boolean[] = [];
  const u2 = n.directory.get("u2")!;
  n.clock.advance(5_000);
  n.core.liveness.probeMove("u2", u2, (alive) => results.push(alive));
  deepStrictEqual(n.probes, ["10.0.0.2:4002 PL.lumi-probe@PC-c:u2@PC-c"]);
  n.clock.advance(10);
  n.handle("RL0.lumi-probe@PC-c:u2@PC-c:10.0.0.2:40000", AGENT_U2);
  n.clock.advance(300);
  deepStrictEqual(results, [true]);
  // Asked again at once: probed again (what was heard before does not count), and silent.
  n.core.liveness.probeMove("u2", u2, (alive) => results.push(alive));
  n.core.liveness.probeMove("u2", u2, (alive) => results.push(alive));
  strictEqual(n.probes.length, 2, "one probe for both");
  n.clock.advance(1_100);
  deepStrictEqual(results, [true, false, false]);
});

Deno.test("isLocal compares domains without case and ignores a final dot", () => {
  const { core } = node({ domain: "Bb.Com" });
  strictEqual(core.domain, "Bb.Com");
  strictEqual(core.isLocal("bb.com"), true);
  strictEqual(core.isLocal("BB.COM."), true);
  strictEqual(core.isLocal("bb.co"), false);
  strictEqual(core.isLocal("bb.com.es"), false);
});

Deno.test("a probe that cannot be sent does not stop the deadlines from being watched", () => {
  const n = node({
    online: true,
    send: () => {
      throw new Error("the socket is broken");
    },
  });
  n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  n.clock.advance(1_000);
  n.clock.advance(1_000);
  strictEqual(n.core.liveness.unanswered("u2"), 1);
});

Deno.test("a move probe is settled by the window it shares with look-ups", () => {
  const n = node({ online: true });
  const results: boolean[] = [];
  const u2 = n.directory.get("u2")!;
  n.clock.advance(5_000);
  n.core.liveness.probeMove("u2", u2, (alive) => results.push(alive));
  n.clock.advance(10);
  n.handle("RL0.lumi-probe@PC-c:u2@PC-c:10.0.0.2:40000", AGENT_U2);
  // A look-up comes before the next check: it finds the window answered, and so is the move.
  n.handle("PLu1@PC-c:u2@PC-c", AGENT_U1);
  deepStrictEqual(results, [true]);
  // Closing refuses the moves still waiting.
  n.clock.advance(5_000);
  n.core.liveness.probeMove("u2", n.directory.get("u2")!, (alive) => results.push(alive));
  n.core.liveness.close();
  deepStrictEqual(results, [true, true]);
});
