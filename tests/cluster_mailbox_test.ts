/**
 * Offline messages of a clustered domain, kept in a real Redis
 * (`lib/node/redis_mailbox.ts`): two node processes of `c.test` on
 * 127.0.40.1 and .2 over one `redis-server`, deposits by strangers (raw
 * datagrams, as another domain's agent sends them) and fetches sealed by
 * the recipient's session (`ExtAgent`).
 *
 * @module
 */

import { deepStrictEqual as assertEquals, match as assertMatch, ok as assert } from "#assert";
import { createClient } from "#redis";
import { mailboxDefaults } from "../lib/node/mailbox_settings.ts";
import { MailboxStore } from "../lib/node/mailbox_store.ts";
import { AccountStore } from "../lib/node/store.ts";
import { RedisLink } from "../lib/node/redis_link.ts";
import { RedisMailbox } from "../lib/node/redis_mailbox.ts";
import { formatPlumi } from "../lib/plumi/codec.ts";
import { DepositExt, FetchExt } from "../lib/plumi/extensions/mod.ts";
import { type ClusterNode, startClusterNode } from "./support/cluster.ts";
import { type DnsServer, startDnsServer } from "./support/dns_server.ts";
import { ExtAgent } from "./support/ext_agent.ts";
import { startProgram } from "./support/process.ts";
import { type RedisServer, redisTools, startRedis } from "./support/redis_server.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const tools = await redisTools();

function mailTest(name: string, fn: (redis: RedisServer) => Promise<void>, aof = false) {
  tools.report(name);
  Deno.test({
    name,
    ignore: tools.ignore,
    fn: async () => {
      tools.assert();
      await using redis = await startRedis({ appendOnly: aof });
      await fn(redis);
    },
  });
}

/** Nodes A (127.0.40.1) and B (.2) of `c.test` over `redis`, with `[mailbox]` lines. */
async function twoNodes(redis: RedisServer, mailbox: readonly string[] = []) {
  const dns: DnsServer = await startDnsServer({
    a: { "n1.c.test": "127.0.40.1", "n2.c.test": "127.0.40.2" },
    srv: [1, 2].map((n) => ({
      name: "_plumi._udp.c.test",
      target: `n${n}.c.test`,
      port: 4100,
      priority: 10 * n,
      weight: 1,
    })),
  });
  const nodes: ClusterNode[] = [];
  const extra = ["[mailbox]", ...mailbox];
  nodes.push(await startClusterNode("127.0.40.1", redis.url, dns.endpoint, extra));
  nodes.push(await startClusterNode("127.0.40.2", redis.url, dns.endpoint, extra));
  return {
    a: nodes[0]!,
    b: nodes[1]!,
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      await dns[Symbol.asyncDispose]();
    },
  };
}

let counter = 0;

/** A one-part deposit for `to` from a stranger of another domain; its id. */
function deposit(to: string): { id: string; packet: string } {
  const id = (0xa000_0000_0000 + ++counter).toString(16).padStart(16, "0");
  const data = btoa(`sealed body ${counter}`).replace(/=+$/, "").replace(/\+/g, "-")
    .replace(/\//g, "_");
  const packet = formatPlumi(DepositExt.encodeRequest({
    recipient: to,
    sender: "pere@other.test",
    id,
    part: { part: 1, parts: 1 },
    data,
  }));
  return { id, packet };
}

/** `agent`'s sealed fetch (acknowledging `ack`): the answer's text (notices `PF…;c=` skipped). */
async function fetch(agent: ExtAgent, ack: readonly string[] = []): Promise<string> {
  const request = FetchExt.encodeRequest({
    kind: "fetch",
    address: agent.address,
    ...(ack.length > 0 && { ack }),
  });
  await agent.peer.send(agent.seal(formatPlumi(request)), agent.node);
  for (;;) {
    const { text } = await agent.receive();
    if (!text.startsWith("PF")) return text;
  }
}

/** Fetch and acknowledge everything `agent` has waiting; the ids, in order. */
async function fetchAll(agent: ExtAgent, limit = 200): Promise<string[]> {
  const ids: string[] = [];
  let ack: string[] = [];
  for (let i = 0; i < limit; i++) {
    const text = await fetch(agent, ack);
    if (text.startsWith("RF2")) return ids;
    const id = text.match(/^RF0;id=([0-9a-f]{16});f=pere@other\.test;/)?.[1];
    if (!id) throw new Error(`not a part: ${text}`);
    ids.push(id);
    ack = [id];
  }
  throw new Error(`more than ${limit} messages`);
}

/** Keys of `name`'s mailbox left in Redis. */
async function keysOf(redis: RedisServer, name: string): Promise<string[]> {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    return await client.keys(`lumi:c.test:{${name}}:m*`);
  } finally {
    await client.close();
  }
}

mailTest(
  "a message left at node A is fetched at node B, told there at once, and gone everywhere once acknowledged",
  async (redis) => {
    await using net = await twoNodes(redis);
    // Bo is online at B; the message is left at A.
    await using bo = ExtAgent.open("bo@c.test", net.b.endpoint, "127.0.40.20");
    assertEquals((await bo.hello()).head, "RR0");
    await using stranger = UdpPeer.open("stranger", "127.0.40.30");
    const d = deposit("bo@c.test");
    assertEquals((await stranger.request(d.packet, net.a.endpoint)).text, `RM0;id=${d.id};n=1/1`);
    // B, which holds bo's registration, tells bo (A published the notice).
    assertEquals((await bo.receive()).text, "PFbo@c.test;c=1");
    const part = await fetch(bo);
    assertMatch(part, new RegExp(`^RF0;id=${d.id};f=pere@other\\.test;s=\\d+;n=1/1;d=`));
    assertEquals(await fetch(bo, [d.id]), "RF2");
    // Gone from Redis (every node reads there), and a copy of the deposit is a new message.
    assertEquals(await keysOf(redis, "bo"), []);
    await using ana = ExtAgent.open("ana@c.test", net.a.endpoint, "127.0.40.21");
    assertEquals((await ana.hello()).head, "RR0");
    assertEquals(await fetch(ana), "RF2");
  },
);

mailTest(
  "the bounds count deposits made at both nodes: the recipient's, and a sender's share",
  async (redis) => {
    await using net = await twoNodes(redis, ["max-messages = 3", "max-per-sender = 2"]);
    await using one = UdpPeer.open("sender one", "127.0.40.31");
    await using two = UdpPeer.open("sender two", "127.0.40.32");
    const send = async (peer: UdpPeer, node: ClusterNode) =>
      (await peer.request(deposit("cy@c.test").packet, node.endpoint)).text;
    assertMatch(await send(one, net.a), /^RM0;/);
    assertMatch(await send(one, net.b), /^RM0;/);
    assertMatch(await send(one, net.a), /^RM1;id=[0-9a-f]{16};e=quota$/); // one's share: 2
    assertMatch(await send(two, net.b), /^RM0;/);
    assertMatch(await send(two, net.a), /^RM1;id=[0-9a-f]{16};e=full$/); // cy's bound: 3
    assertMatch(await send(two, net.b), /^RM1;id=[0-9a-f]{16};e=full$/);
    // Fetched (at A) and acknowledged: room again, at either node.
    await using cy = ExtAgent.open("cy@c.test", net.a.endpoint, "127.0.40.22");
    assertEquals((await cy.hello()).head, "RR0");
    assertEquals((await fetchAll(cy)).length, 3);
    assertMatch(await send(one, net.b), /^RM0;/);
  },
);

/** Send `packet` to `node` until the answer matches `pattern` (each try a real request; bounded). */
async function answeredAgain(
  peer: UdpPeer,
  packet: () => string,
  node: ClusterNode,
  pattern: RegExp,
) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = (await peer.request(packet(), node.endpoint)).text;
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${node.endpoint.ip} never answered ${pattern}`);
}

mailTest(
  "Redis stopped: deposits and fetches answered e=store; restarted: both work again",
  async (redis) => {
    await using net = await twoNodes(redis);
    await using dan = ExtAgent.open("dan@c.test", net.b.endpoint, "127.0.40.23");
    assertEquals((await dan.hello()).head, "RR0");
    await using stranger = UdpPeer.open("stranger", "127.0.40.33");
    await redis.stop("SIGKILL");
    assertMatch(
      (await stranger.request(deposit("dan@c.test").packet, net.a.endpoint)).text,
      /^RM1;id=[0-9a-f]{16};e=store$/,
    );
    assertEquals(await fetch(dan), "RF1;e=store");
    await redis.restart();
    // The node reconnects by itself (back-off up to 1 s).
    const d = deposit("dan@c.test");
    await answeredAgain(stranger, () => d.packet, net.a, /^RM0;/);
    // Fetched at B (which answered e=store a moment ago, and reconnected by itself too).
    let ids: string[] = [];
    for (let attempt = 0; attempt < 100 && ids.length === 0; attempt++) {
      if ((await fetch(dan)).startsWith("RF1")) await new Promise((r) => setTimeout(r, 50));
      else ids = await fetchAll(dan);
    }
    assertEquals(ids, [d.id]);
  },
);

mailTest(
  "a Redis killed (-9) and restarted with its append-only file loses no acknowledged message",
  async (redis) => {
    await using net = await twoNodes(redis);
    await using stranger = UdpPeer.open("stranger", "127.0.40.34");
    const deposits = Array.from({ length: 60 }, () => deposit("ana@c.test"));
    // All sent at once, half to each node; Redis is killed once 20 answers are in.
    for (const [i, d] of deposits.entries()) {
      await stranger.send(d.packet, i % 2 ? net.b.endpoint : net.a.endpoint);
    }
    const acked = new Set<string>();
    const ackOf = (text: string) => text.match(/^RM0;id=([0-9a-f]{16});n=1\/1$/)?.[1];
    while (acked.size < 20) {
      const id = ackOf((await stranger.receive()).text);
      if (id) acked.add(id);
    }
    await redis.stop("SIGKILL");
    for (const text of stranger.pending) {
      const id = ackOf(text);
      if (id) acked.add(id);
    }
    await redis.restart();
    await using ana = ExtAgent.open("ana@c.test", net.b.endpoint, "127.0.40.24");
    assertEquals((await ana.hello()).head, "RR0");
    // Fetched once the node is connected again (each try a real request; bounded).
    let fetched: string[] = [];
    for (let attempt = 0; attempt < 100 && fetched.length === 0; attempt++) {
      const text = await fetch(ana);
      if (!text.startsWith("RF1")) fetched = [...(await fetchAll(ana))];
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const id of acked) assert(fetched.includes(id), `acknowledged ${id} lost`);
    assert(acked.size >= 20);
  },
  true,
);

mailTest(
  "RedisMailbox: a message past its time to live is not handed over, and its counts are given back",
  async (redis) => {
    await using link = await RedisLink.open(redis.url);
    let now = 1_000_000;
    const box = new RedisMailbox({
      link,
      prefix: "lumi:ttl.test:",
      now: () => now,
      ttlMs: () => 10_000,
    });
    const limits = { ...mailboxDefaults, ttlMs: 10_000 };
    const message = {
      recipient: "joan",
      id: "00000000000000c1",
      sender: "pere@other.test",
      quota: "ip:192.0.2.1",
      storedAt: now,
      body: new Uint8Array([1, 2, 3, 4]),
    };
    box.insert(message);
    assertEquals(await box.commit(limits), [message]);
    assertEquals(await box.recipientUsage("joan"), { messages: 1, bytes: 4 });
    assertEquals(await box.shareUsage("ip:192.0.2.1"), { messages: 1, bytes: 4 });
    assertEquals((await box.get("joan", now - 10_000))?.body, message.body);
    now += 10_001; // past its time to live
    assertEquals(await box.get("joan", now - 10_000), undefined);
    assertEquals(await box.recipientUsage("joan"), { messages: 0, bytes: 0 }); // trimmed
    // The share is given back (in the background), and no key of the mailbox is left.
    for (let i = 0; i < 50 && (await box.shareUsage("ip:192.0.2.1")).messages > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assertEquals(await box.shareUsage("ip:192.0.2.1"), { messages: 0, bytes: 0 });
    assertEquals(box.expire(now), 1);
    assertEquals(await link.client.keys("lumi:ttl.test:{*"), []);
  },
);

mailTest(
  "messages a node kept in its own database before it joined the cluster are moved to Redis",
  async (redis) => {
    await using net = await twoNodes(redis);
    net.a.kill("SIGTERM");
    await net.a.exited();
    const path = `${net.a.dir}/nodelumi-c.test.db`;
    {
      using accounts = AccountStore.open(path);
      using table = MailboxStore.open(path);
      assert(accounts);
      table.insert({
        recipient: "bo",
        id: "00000000000000d1",
        sender: "pere@other.test",
        quota: "ip:192.0.2.1",
        storedAt: Date.now(),
        body: new Uint8Array([9, 8, 7]),
      });
      table.commit();
    }
    await using again = await startProgram("node", [], { cwd: net.a.dir, name: "node A again" });
    await again.waitFor(/listening on/);
    // Fetched through B, which never had it; and gone from A's table.
    await using bo = ExtAgent.open("bo@c.test", net.b.endpoint, "127.0.40.25");
    assertEquals((await bo.hello()).head, "RR0");
    assertEquals(await fetchAll(bo), ["00000000000000d1"]);
    using table = MailboxStore.open(path);
    assertEquals(table.total, 0);
  },
);
