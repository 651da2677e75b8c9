/**
 * Federation through a real DNS server (dnsmasq): nodes of different
 * domains find each other by SRV and by A records, fail over to the next SRV
 * target, answer RL2 for names that do not resolve, and never pass a
 * look-up around in circles.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import type { Endpoint } from "../lib/plumi/address.ts";
import { type DnsServer, startDnsServer } from "./support/dns_server.ts";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

interface NodeSpec {
  domain: string;
  listen: Endpoint;
  users: string[];
  dnsServer?: Endpoint;
  staticMap?: Record<string, string>;
}

async function startNode(
  spec: NodeSpec,
): Promise<ChildProcess & { endpoint: Endpoint; dir: string }> {
  const dir = await tempDir(`fed-${spec.domain}-`);
  const lines = [
    `domain = ${spec.domain}`,
    `listen = ${spec.listen.ip}:${spec.listen.port}`,
    "state = off",
    ...(spec.dnsServer ? [`dns-server = ${spec.dnsServer.ip}:${spec.dnsServer.port}`] : []),
    "[domains]",
    ...Object.entries(spec.staticMap ?? {}).map(([d, e]) => `${d} = ${e}`),
    "[users]",
    ...spec.users,
  ];
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, lines.join("\n") + "\n");
  const child = await startProgram("node", [], { cwd: dir, name: `node ${spec.domain}` });
  await child.waitFor(/listening on/);
  return Object.assign(child, { endpoint: spec.listen, dir });
}

/** Register `name@domain` from a fake agent socket and return the socket. */
async function agentOf(address: string, node: Endpoint, ip = "127.0.0.1"): Promise<UdpPeer> {
  const agent = UdpPeer.open(address, ip);
  assertEquals((await agent.request(`PR${address}`, node)).text, "RR0");
  return agent;
}

/**
 * The cluster of this file: a.test found by its A record (port 3344),
 * b.test by SRV, c.test by SRV whose first target is dead.
 */
async function cluster(): Promise<
  {
    dns: DnsServer;
    a: ChildProcess & { endpoint: Endpoint };
    b: ChildProcess & { endpoint: Endpoint };
    c: ChildProcess & { endpoint: Endpoint };
  } & AsyncDisposable
> {
  const dns = await startDnsServer({
    a: {
      "a.test": "127.0.5.1",
      "node.b.test": "127.0.5.2",
      "dead.c.test": "127.0.5.9",
      "alive.c.test": "127.0.5.3",
    },
    srv: [
      { name: "_plumi._udp.b.test", target: "node.b.test", port: 4001, priority: 10, weight: 1 },
      { name: "_plumi._udp.c.test", target: "dead.c.test", port: 4002, priority: 10, weight: 1 },
      { name: "_plumi._udp.c.test", target: "alive.c.test", port: 4003, priority: 20, weight: 1 },
    ],
  });
  const a = await startNode({
    domain: "a.test",
    listen: { ip: "127.0.5.1", port: 3344 },
    users: ["ana"],
    dnsServer: dns.endpoint,
  });
  const b = await startNode({
    domain: "b.test",
    listen: { ip: "127.0.5.2", port: 4001 },
    users: ["bo"],
    dnsServer: dns.endpoint,
  });
  const c = await startNode({
    domain: "c.test",
    listen: { ip: "127.0.5.3", port: 4003 },
    users: ["cy"],
    dnsServer: dns.endpoint,
  });
  return {
    dns,
    a,
    b,
    c,
    async [Symbol.asyncDispose]() {
      for (const node of [a, b, c]) await node[Symbol.asyncDispose]();
      await dns[Symbol.asyncDispose]();
    },
  };
}

Deno.test("look-ups cross domains through SRV and through A records, found in real DNS", async () => {
  await using net = await cluster();
  await using ana = await agentOf("ana@a.test", net.a.endpoint);
  await using bo = await agentOf("bo@b.test", net.b.endpoint);

  // ana → b.test: node a.test finds node b.test through _plumi._udp.b.test SRV (port 4001).
  await ana.send("PLana@a.test:bo@b.test", net.a.endpoint);
  const atBo = await bo.receive();
  assertEquals(atBo.text, "PLana@a.test:bo@b.test");
  assertEquals(atBo.from, net.b.endpoint);
  await bo.send("RL0ana@a.test:bo@b.test:127.0.0.1:5000", net.b.endpoint);
  assertEquals((await ana.receive()).text, "RL0ana@a.test:bo@b.test:127.0.0.1:5000");

  // bo → a.test: node b.test has no SRV for a.test and falls back to its A record, port 3344.
  await bo.send("PLbo@b.test:ana@a.test", net.b.endpoint);
  const atAna = await ana.receive();
  assertEquals(atAna.text, "PLbo@b.test:ana@a.test");
  await ana.send("RL1bo@b.test:ana@a.test", net.a.endpoint);
  assertEquals((await bo.receive()).text, "RL1bo@b.test:ana@a.test");
  assert(
    net.dns.log.some((l) => l === "query[SRV] _plumi._udp.b.test"),
    "node a.test asked for SRV",
  );
  assert(
    net.dns.log.some((l) => l === "query[A] a.test"),
    "node b.test asked for the A record",
  );
});

Deno.test("a dead SRV target falls over to the next within the agent's retry budget", async () => {
  await using net = await cluster();
  await using ana = await agentOf("ana@a.test", net.a.endpoint);
  await using cy = await agentOf("cy@c.test", net.c.endpoint);
  const started = performance.now();
  // The agent's retransmission rule: every 1 s, at most 5 tries.
  let answer: string | undefined;
  for (let attempt = 0; attempt < 5 && !answer; attempt++) {
    await ana.send("PLana@a.test:cy@c.test", net.a.endpoint);
    try {
      const atCy = await cy.receive(1_000);
      assertEquals(atCy.text, "PLana@a.test:cy@c.test");
      await cy.send("RL0ana@a.test:cy@c.test:127.0.0.1:5001", net.c.endpoint);
      answer = (await ana.receive(1_000)).text;
    } catch {
      // no answer within 1 s: retransmit, as an agent does
    }
  }
  assertEquals(answer, "RL0ana@a.test:cy@c.test:127.0.0.1:5001");
  const seconds = (performance.now() - started) / 1000;
  assert(seconds < 5, `took ${seconds.toFixed(1)} s, past the agent's budget of 5 tries at 1 s`);
});

Deno.test("NXDOMAIN gives RL2 at once, and so does a DNS server that never answers, while the node keeps serving", async () => {
  await using dns = await startDnsServer({ a: { "a.test": "127.0.5.1" } });
  await using silent = UdpPeer.open("silent DNS server");
  await using a = await startNode({
    domain: "a.test",
    listen: { ip: "127.0.5.1", port: 3344 },
    users: ["ana", "eva"],
    dnsServer: dns.endpoint,
  });
  await using ana = await agentOf("ana@a.test", a.endpoint);
  let started = performance.now();
  assertEquals(
    (await ana.request("PLana@a.test:x@nowhere.test", a.endpoint)).text,
    "RL2ana@a.test:x@nowhere.test",
  );
  assert(performance.now() - started < 1_000, "NXDOMAIN answered within one retry interval");

  await using d = await startNode({
    domain: "d.test",
    listen: { ip: "127.0.5.4", port: 3344 },
    users: ["dan", "dee"],
    dnsServer: silent.local,
  });
  await using dan = await agentOf("dan@d.test", d.endpoint);
  started = performance.now();
  await dan.send("PLdan@d.test:x@far.test", d.endpoint);
  // While the DNS query hangs, the node answers for its own domain at once.
  assertEquals(
    (await dan.request("PLdan@d.test:dee@d.test", d.endpoint)).text,
    "RL3dan@d.test:dee@d.test",
  );
  assert(performance.now() - started < 500, "own domain served while DNS hangs");
  assertEquals((await dan.receive(5_000)).text, "RL2dan@d.test:x@far.test");
  const seconds = (performance.now() - started) / 1000;
  assert(seconds < 5, `RL2 after ${seconds.toFixed(1)} s, past the agent's retry budget`);
  assert(silent.pending.length > 0, "the silent DNS server was asked");
});

Deno.test("two nodes mapped to each other do not pass a look-up around in circles", async () => {
  // x.test maps z.test to node y.test, and y.test maps z.test back to x.test.
  await using x = await startNode({
    domain: "x.test",
    listen: { ip: "127.0.5.5", port: 3344 },
    users: ["xe"],
    staticMap: { "z.test": "127.0.5.6:3344" },
  });
  await using y = await startNode({
    domain: "y.test",
    listen: { ip: "127.0.5.6", port: 3344 },
    users: ["ye"],
    // y.test knows x.test's node, so it may answer x.test's look-ups (amplification rule).
    staticMap: { "z.test": "127.0.5.5:3344", "x.test": "127.0.5.5:3344" },
  });
  await using xe = await agentOf("xe@x.test", x.endpoint);
  assertEquals(
    (await xe.request("PLxe@x.test:zed@z.test", x.endpoint)).text,
    "RL2xe@x.test:zed@z.test",
  );
  // Stop both nodes and count what crossed: one PL each way is all there may be.
  x.kill("SIGTERM");
  y.kill("SIGTERM");
  await x.exited();
  await y.exited();
  const logX = await Deno.readTextFile(`${x.dir}/nodelumi-x.test.log`);
  const logY = await Deno.readTextFile(`${y.dir}/nodelumi-y.test.log`);
  assertEquals(logY.split("\n").filter((l) => l.includes("PLxe@x.test:zed@z.test")).length, 1);
  assertEquals(logX.split("\n").filter((l) => l.includes("PLxe@x.test:zed@z.test")).length, 2);
});

Deno.test("two agents in different domains, each knowing only its own address, find each other through DNS and chat", async () => {
  await using net = await cluster();
  const dir = await tempDir("fed-agents-");
  const dnsFlag = `${net.dns.endpoint.ip}:${net.dns.endpoint.port}`;
  // No --node: ana's agent finds a.test's node by its A record, bo's finds b.test's by SRV.
  const start = (address: string, nick: string) =>
    startProgram("agent", [
      "--address",
      address,
      "--nick",
      nick,
      "--dns-server",
      dnsFlag,
      "--no-log",
    ], {
      cwd: dir,
      name: `agent ${address}`,
    });
  await using ana = await start("ana@a.test", "Ana");
  await using bo = await start("bo@b.test", "Bo");
  await ana.waitFor(/^Registered ana@a\.test with node 127\.0\.5\.1:3344$/);
  await bo.waitFor(/^Registered bo@b\.test with node 127\.0\.5\.2:4001$/);

  await ana.send("bo@b.test");
  await ana.waitFor(/^Connected to Bo \(bo@b\.test\)$/);
  await bo.waitFor(/^Incoming call from Ana \(ana@a\.test\)$/);
  await ana.send("hello from a.test");
  await bo.waitFor(/^Ana: hello from a\.test$/);
  await bo.send("hello from b.test");
  await ana.waitFor(/^Bo: hello from b\.test$/);
  await ana.send("/quit");
  await bo.send("/quit");
  assertEquals((await ana.exited()).code, 0);
  assertEquals((await bo.exited()).code, 0);
  assert(net.dns.log.includes("query[SRV] _plumi._udp.b.test"));
});
