/**
 * Hardening, part 2: lost, duplicated and reordered datagrams. A lossy relay
 * (`support/lossy_relay.ts`: about a quarter of the datagrams lost, 15 %
 * duplicated, 30 % held back so that later ones overtake them; seeded) stands
 * between agents and their node, and between two nodes. Registration,
 * look-up and deregistration must still succeed within an agent's budget of
 * five tries a second apart, the node must count each datagram once, and a
 * duplicate must never change the state a second time.
 *
 * The seed is printed; `LOSSY_SEED=<n>` replays a run.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import { createCredentials, toBase64Url } from "../lib/auth.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { TestAgent } from "../lib/node/test_agent.ts";
import { padded, parseReply } from "./support/ext_agent.ts";
import { LossyRelay } from "./support/lossy_relay.ts";
import { type NodeCounters, NodeProcess, ScratchDir } from "./support/node_harness.ts";
import { randomSeed } from "./support/plumi_fuzz.ts";
import { startProgram } from "./support/process.ts";
import { answersTo, RawAgent } from "./support/raw_agent.ts";

function readSeed(): number {
  const granted = Deno.permissions.querySync({ name: "env", variable: "LOSSY_SEED" }).state ===
    "granted";
  const text = granted ? Deno.env.get("LOSSY_SEED") : undefined;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) >>> 0 : randomSeed();
}

const SEED = readSeed();
console.log(`lossy seed ${SEED} (replay: LOSSY_SEED=${SEED} deno task test tests/lossy_test.ts)`);

const ep = (e: Endpoint) => `${e.ip}:${e.port}`;

/** Attempts as a histogram: how many requests needed 1, 2, … tries. */
function histogram(agents: readonly RawAgent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const agent of agents) {
    for (const n of agent.attempts) counts[`${n} tries`] = (counts[`${n} tries`] ?? 0) + 1;
  }
  return counts;
}

/** A node with an INI configuration in a scratch directory. */
async function startNode(dir: ScratchDir, lines: string[], listen?: string): Promise<NodeProcess> {
  await dir.write("nodelumi.cfg", lines.join("\n") + "\n");
  return await NodeProcess.start(dir.path, [], listen);
}

Deno.test("agents behind a lossy relay register, look up and deregister within five tries; nothing counts twice", async () => {
  await using dir = await ScratchDir.create("lossy-agents");
  await using node = await startNode(dir, [
    "domain = bb.com",
    "[users]",
    "a1 a2 a3 a4 d1 d2 d3",
  ]);
  await using relay = LossyRelay.front(node.at, { seed: SEED });
  const behind = ["a1", "a2", "a3", "a4"].map((name, i) =>
    RawAgent.open(name, { node: relay.address, advertised: { ip: "127.0.0.1", port: 41_000 + i } })
  );
  const direct = ["d1", "d2"].map((name, i) =>
    RawAgent.open(name, { node: node.at, advertised: { ip: "127.0.0.1", port: 42_000 + i } })
  );
  await using _agents = {
    async [Symbol.asyncDispose]() {
      for (const agent of [...behind, ...direct]) await agent[Symbol.asyncDispose]();
    },
  };
  const [a1, a2, a3, a4] = behind as [RawAgent, RawAgent, RawAgent, RawAgent];
  const [d1, d2] = direct as [RawAgent, RawAgent];

  // Registration through the relay, all at once (each agent is a flow of its own).
  const registered = await Promise.all(behind.map((a) => a.request(`PR${a.name}@bb.com`)));
  deepStrictEqual(registered.map((r) => r.text), ["RR0", "RR0", "RR0", "RR0"]);
  for (const d of direct) strictEqual((await d.request(`PR${d.name}@bb.com`)).text, "RR0");
  await relay.idle();
  const afterRegistration = await node.list();
  for (const a of behind) {
    strictEqual(afterRegistration.users.get(a.name), `online ${ep(relay.upstreamOf(a.local)!)}`);
  }
  strictEqual(afterRegistration.total, "7 users, 6 online");

  // Look-ups, each crossing the relay twice (there and back), both ways round, three rounds.
  for (let round = 0; round < 3; round++) {
    const found = await Promise.all([
      a1.request("PLa1@bb.com:d1@bb.com"),
      a2.request("PLa2@bb.com:d2@bb.com"),
      a3.request("PLa3@bb.com:nobody@bb.com"),
      a4.request("PLa4@bb.com:d3@bb.com"),
    ]);
    deepStrictEqual(found.map((f) => f.text), [
      "RL0a1@bb.com:d1@bb.com:127.0.0.1:42000",
      "RL0a2@bb.com:d2@bb.com:127.0.0.1:42001",
      "RL2a3@bb.com:nobody@bb.com",
      "RL3a4@bb.com:d3@bb.com",
    ]);
    // The callee behind the relay: the node's look-up and the agent's answer cross it.
    const back = await Promise.all([
      d1.request("PLd1@bb.com:a1@bb.com"),
      d2.request("PLd2@bb.com:a2@bb.com"),
    ]);
    deepStrictEqual(back.map((f) => f.text), [
      "RL0d1@bb.com:a1@bb.com:127.0.0.1:41000",
      "RL0d2@bb.com:a2@bb.com:127.0.0.1:41001",
    ]);
  }
  await relay.idle();
  // Lost look-ups and answers did not make the node take a live agent for dead.
  strictEqual((await node.list()).total, "7 users, 6 online");

  // Deregistration through the relay; duplicates of PD arriving late change nothing.
  const gone = await Promise.all(behind.map((a) => a.request(`PD${a.name}@bb.com`)));
  deepStrictEqual(gone.map((r) => r.text), ["RD0", "RD0", "RD0", "RD0"]);
  await relay.idle();
  const final = await node.list();
  strictEqual(final.total, "7 users, 2 online");
  for (const a of behind) strictEqual(final.users.get(a.name), "offline");

  // Every datagram counted once: what reached the node is what the node read, and
  // what it sent is what the relay and the direct agents got.
  const stats: NodeCounters = await node.stats();
  const directSent = direct.reduce((n, d) => n + d.sent, 0);
  const directReceived = direct.reduce((n, d) => n + d.received.length, 0);
  deepStrictEqual(
    { received: stats.received, sent: stats.sent, malformed: stats.malformed },
    {
      received: relay.counts.deliveredForward + directSent,
      sent: relay.counts.returned + directReceived,
      malformed: {},
    },
  );
  const counts = relay.counts;
  console.log(
    `relay: ${counts.received} datagrams, ${counts.dropped} dropped ` +
      `(${(100 * counts.dropped / (counts.received + counts.duplicated)).toFixed(0)} %), ` +
      `${counts.duplicated} duplicated, ${counts.delayed} held back; tries per request:`,
    histogram([...behind, ...direct]),
  );
  ok(counts.dropped > 0 && counts.duplicated > 0 && counts.delayed > 0, "the relay did its job");

  // The state saved at the end is the final one: d1 and d2, nobody else.
  strictEqual((await node.stop()).code, 0);
  const state = JSON.parse(await dir.read("nodelumi-bb.com.state"));
  deepStrictEqual(state.online.map((e: string[]) => e[0]).sort(), ["d1", "d2"]);
});

Deno.test("two nodes joined by a lossy link: look-ups both ways succeed within five tries", async () => {
  await using link = LossyRelay.link({ seed: SEED ^ 0x5bd1e995 });
  await using dirC = await ScratchDir.create("lossy-PC-c");
  await using dirD = await ScratchDir.create("lossy-PC-d");
  // Each node finds the other at the link's end that faces it.
  await using nodeC = await startNode(dirC, [
    "domain = PC-c",
    "[domains]",
    `PC-d = ${ep(link.towardsB)}`,
    "[users]",
    "u1 u3",
  ]);
  await using nodeD = await startNode(dirD, [
    "domain = PC-d",
    "[domains]",
    `PC-c = ${ep(link.towardsA)}`,
    "[users]",
    "u2 u4",
  ]);
  link.connect(nodeC.at, nodeD.at);
  await using u1 = RawAgent.open("u1", {
    node: nodeC.at,
    advertised: { ip: "10.0.0.1", port: 4001 },
  });
  await using u2 = RawAgent.open("u2", {
    node: nodeD.at,
    advertised: { ip: "10.0.0.2", port: 4002 },
  });
  strictEqual((await u1.request("PRu1@PC-c")).text, "RR0");
  strictEqual((await u2.request("PRu2@PC-d")).text, "RR0");

  for (let round = 0; round < 4; round++) {
    // The reference exchange, and its mirror image.
    strictEqual(
      (await u1.request("PLu1@PC-c:u2@PC-d")).text,
      "RL0u1@PC-c:u2@PC-d:10.0.0.2:4002",
    );
    strictEqual(
      (await u2.request("PLu2@PC-d:u1@PC-c")).text,
      "RL0u2@PC-d:u1@PC-c:10.0.0.1:4001",
    );
    // Answered by the far node itself: offline and unknown users (one byte longer than the
    // look-up: sent back only because the link's address is the caller's node in the map).
    strictEqual((await u1.request("PLu1@PC-c:u4@PC-d")).text, "RL3u1@PC-c:u4@PC-d");
    strictEqual((await u2.request("PLu2@PC-d:nobody@PC-c")).text, "RL2u2@PC-d:nobody@PC-c");
  }
  await link.idle();
  strictEqual((await u1.request("PDu1@PC-c")).text, "RD0");
  strictEqual((await u2.request("PDu2@PC-d")).text, "RD0");

  // No look-up went round in circles, and each node counted what the link delivered.
  const [c, d] = [await nodeC.stats(), await nodeD.stats()];
  strictEqual(c.received + d.received, link.counts.delivered + u1.sent + u2.sent);
  deepStrictEqual([c.dropped["amplification-guard"], d.dropped["amplification-guard"]], [
    undefined,
    undefined,
  ]);
  console.log(
    `link: ${link.counts.received} datagrams, ${link.counts.dropped} dropped, ` +
      `${link.counts.duplicated} duplicated, ${link.counts.delayed} held back; tries:`,
    histogram([u1, u2]),
  );
});

Deno.test("every request duplicated: each changes the state once; a copy gets its first's answer, or (sealed) e=auth", async () => {
  await using dir = await ScratchDir.create("lossy-duplicates");
  await using node = await startNode(dir, [
    "domain = bb.com",
    "[accounts]",
    "open-signup = yes",
    "[users]",
    "x y",
  ]);
  // Every datagram twice, both ways, in either order; none lost.
  await using relay = LossyRelay.front(node.at, {
    seed: SEED,
    drop: 0,
    duplicate: 1,
    reorder: 0.5,
  });
  // Nothing is lost here, so the agents never retransmit: a retransmission (a slow, loaded
  // machine) would add copies of its own and spoil the count of answers.
  const once = { node: relay.address, tries: 1, intervalMs: 10_000 };
  await using x = RawAgent.open("x", once);
  await using nuria = RawAgent.open("nuria", once);
  // The node's answers to the two copies of `request`: each reaches the agent twice.
  const answers = async (agent: RawAgent, request: string) => {
    const from = agent.received.length;
    const first = await agent.request(request);
    const received = await agent.collect(from, 4, answersTo(request));
    await relay.idle();
    strictEqual(agent.received.slice(from).filter(answersTo(request)).length, 4, request);
    // Each answer twice: keep one of each pair.
    const all: string[] = [];
    const left = [...received];
    while (left.length > 0) {
      const text = left.shift()!;
      const twin = left.indexOf(text);
      ok(twin >= 0, `the relay's copy of ${text}`);
      left.splice(twin, 1);
      all.push(text);
    }
    return { first: first.text, all };
  };
  const online = async () => (await node.list()).total;

  // Original registration and deregistration.
  deepStrictEqual((await answers(x, "PRx@bb.com")).all, ["RR0", "RR0"]);
  strictEqual(await online(), "2 users, 1 online");
  deepStrictEqual((await answers(x, "PDx@bb.com")).all, ["RD0", "RD0"]);
  strictEqual(await online(), "2 users, 0 online");

  // Extended registration without a password: one session, whose key both answers carry.
  const xs = new TestAgent("x@bb.com");
  const extended = await answers(x, padded(xs.hello()));
  strictEqual(extended.all.length, 2);
  strictEqual(extended.all[0], extended.all[1], `one session: ${extended.all}`);
  xs.keep(extended.first);
  // A heartbeat sent twice keeps the session once; the copy, its counter spent, is refused (the
  // two answers may come in either order).
  const beat = await answers(x, xs.seal("PKx@bb.com"));
  deepStrictEqual(beat.all.map((a) => a.slice(0, 4)).toSorted(), ["RK0;", "RK1;"]);
  ok(beat.all.includes("RK1;e=auth"), `${beat.all}`);

  // Sign-up: the copy of an accepted sign-up is not "taken".
  const password = "correct horse";
  const credentials = await createCredentials(password, 100_000);
  const signUp = `PUnuria@bb.com;s=${toBase64Url(credentials.salt)};i=100000;k=${
    toBase64Url(credentials.storedKey)
  }`;
  deepStrictEqual((await answers(nuria, signUp)).all, ["RU0", "RU0"]);

  // Log-in with a proof: the copies of the padded PR bring two challenges; the proof of
  // the first still holds, and the copy of the proof, its nonce spent, changes nothing.
  const ns = new TestAgent("nuria@bb.com");
  const challenges = (await answers(nuria, padded(ns.hello()))).all.map(parseReply);
  for (const c of challenges) strictEqual(c.head, "RR1");
  const login = await answers(nuria, padded(await ns.proof(password, challenges[0]!.text)));
  const granted = login.all.filter((r) => r.startsWith("RR0"));
  strictEqual(granted.length, 1, `one session: ${login.all}`);
  ns.keep(granted[0]!);
  strictEqual(await online(), "3 users, 2 online");

  // A buddy change sent twice is done once: the copy, its counter spent, is refused.
  const add = ns.seal("PBnuria@bb.com;op=add;b=x@bb.com");
  deepStrictEqual((await answers(nuria, add)).all.toSorted(), ["RB0", "RB1;e=auth"]);
  await node.command("buddies nuria", /^ {2}x@bb\.com$/);
  strictEqual(node.child.lines.filter((l) => l === "  x@bb.com").length, 1);

  // Deregistration with the session: done once, the copy finds nothing to undo.
  const bye = await answers(nuria, ns.seal("PDnuria@bb.com;v=2"));
  strictEqual(bye.first, "RD0;v=2");
  deepStrictEqual(bye.all, ["RD0;v=2", "RD0;v=2"]);
  strictEqual(await online(), "3 users, 1 online");
  const stats = await node.stats();
  strictEqual(stats.received, relay.counts.deliveredForward);
});

Deno.test("real agents: one behind a lossy relay registers, calls, chats and leaves", async () => {
  await using dir = await ScratchDir.create("lossy-real-agents");
  await using node = await startNode(dir, ["domain = bb.com", "[users]", "laura joan"]);
  await using relay = LossyRelay.front(node.at, { seed: SEED ^ 0x27d4eb2f });
  const agent = (address: string, nick: string, to: Endpoint) =>
    startProgram(
      "agent",
      ["--address", address, "--nick", nick, "--node", ep(to), "--no-log"],
      { cwd: dir.path, name: `agent ${address}` },
    );
  // Laura's agent talks to the node only through the relay; Joan's directly.
  await using laura = await agent("laura@bb.com", "Laura", relay.address);
  await using joan = await agent("joan@bb.com", "Joan", node.at);
  await laura.waitFor(/^Registered laura@bb\.com /, { timeoutMs: 6_000 });
  await joan.waitFor(/^Registered joan@bb\.com /);
  await laura.send("joan@bb.com");
  await laura.waitFor(/^Connected to Joan \(joan@bb\.com\)$/, { timeoutMs: 6_000 });
  await laura.send("hello through the lossy relay");
  await joan.waitFor(/^Laura: hello through the lossy relay$/);
  await laura.send("/quit");
  await laura.waitFor(/^Deregistered laura@bb\.com$/, { timeoutMs: 6_000 });
  strictEqual((await laura.exited()).code, 0);
  await relay.idle();
  strictEqual((await node.list()).users.get("laura"), "offline");
  console.log(
    `real agents: relay dropped ${relay.counts.dropped} of ${relay.counts.received}, ` +
      `duplicated ${relay.counts.duplicated}, held back ${relay.counts.delayed}`,
  );
});
