/**
 * One domain on several nodes sharing a real Redis (Debian's `redis-server`,
 * started here, see `support/redis_server.ts`): the clustered directory
 * passes the directory contract, and three node processes on 127.0.30.x,
 * listed in SRV by a real DNS server, answer for each other's users, survive
 * `kill -9` of one of them, Redis going away and coming back (with its
 * append-only file), and agree on one winner of a race.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import type { Endpoint } from "../lib/plumi/address.ts";
import { ConfigError, parseConfig } from "../lib/node/config.ts";
import { directoryContract } from "../lib/node/directory_contract.ts";
import { openRedisDirectory, type RedisDirectory } from "../lib/node/redis_directory.ts";
import { type ClusterNode, startClusterNode, startRedisCluster } from "./support/cluster.ts";
import { type RedisServer, redisTools, startRedis } from "./support/redis_server.ts";
import { ctl } from "./support/service.ts";
import { TimeoutError, UdpPeer } from "./support/udp_peer.ts";

const tools = await redisTools();

// ---- The directory contract, against a real Redis (one server for the module).

const shared: RedisServer | undefined = tools.missing.length > 0 ? undefined : await startRedis();
const opened: RedisDirectory[] = [];
let domains = 0;
{
  const register = Deno.test;
  // The contract's tests open connections that live until the module ends: no sanitizers.
  const test = ((name: string, fn: () => Promise<void>) => {
    tools.report(name);
    return register({
      name,
      ignore: tools.ignore,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        tools.assert();
        await fn();
      },
    });
  }) as typeof Deno.test;
  Object.defineProperty(Deno, "test", { value: test, configurable: true, writable: true });
  try {
    directoryContract("RedisDirectory", async (configured, signedUp) => {
      const directory = await openRedisDirectory({
        redis: shared!.url,
        domain: `contract${++domains}.test`,
        configured,
        ...(signedUp && { signedUp }),
      });
      opened.push(directory);
      return directory;
    });
  } finally {
    Object.defineProperty(Deno, "test", { value: register, configurable: true, writable: true });
  }
}

Deno.test({
  name: "RedisDirectory: only the node that made a registration expires it; the others follow",
  ignore: tools.ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    tools.assert();
    const open = () =>
      openRedisDirectory({ redis: shared!.url, domain: "expiry.test", configured: ["laura"] });
    await using a = await open();
    await using b = await open();
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
      assert(done(), what);
    };
    const session = { token: "t", heartbeatMs: 1_000, busy: false };
    a.register("laura", { ip: "127.0.30.9", port: 5000 }, 1_000, session);
    await until("b learns of laura", () => b.get("laura")?.endpoint.port === 5000);
    const limits = { heartbeats: 3, originalMs: 0 };
    const [id, changes] = [b.get("laura")?.id, b.changes];
    assertEquals(b.expire(1_000_000, limits), []);
    // Untouched: the same registration, no change counted (no presence churn at every tick).
    assertEquals([b.get("laura")?.id, b.changes], [id, changes]);
    assertEquals(a.expire(1_000_000, limits), ["laura"]);
    await until("b follows a's expiry", () => b.get("laura") === null);
    assert(a.stats.writes >= 2 && b.stats.applied >= 2, JSON.stringify([a.stats, b.stats]));
  },
});

Deno.test({
  name: "RedisDirectory: the contract's directories close, and the Redis stops",
  ignore: tools.ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const directory of opened) await directory[Symbol.asyncDispose]();
    tools.assert();
    await shared![Symbol.asyncDispose]();
  },
});

Deno.test("[cluster] redis = takes a redis:// URL or a socket path; without it, no cluster", () => {
  const base = "domain = c.test\n[users]\nana\n";
  assertEquals(parseConfig(base).cluster, undefined);
  assertEquals(parseConfig(`${base}[cluster]\nredis = redis://127.0.0.1:6379\n`).cluster, {
    redis: "redis://127.0.0.1:6379",
  });
  assertEquals(parseConfig(`${base}[cluster]\nredis = /run/redis.sock\n`).cluster, {
    redis: "/run/redis.sock",
  });
  for (const bad of ["redis = 127.0.0.1:6379", "server = redis://x:1"]) {
    try {
      parseConfig(`${base}[cluster]\n${bad}\n`);
      assert(false, `accepted: ${bad}`);
    } catch (error) {
      assert(error instanceof ConfigError && /\[cluster\]/.test(error.message), String(error));
    }
  }
});

// ---- Three node processes over one Redis.

type Node = ClusterNode;

const startNode = (ip: string, redis: string, dns: Endpoint) => startClusterNode(ip, redis, dns);
const cluster = (redis: RedisServer) => startRedisCluster(redis.url, "127.0.30");

async function register(name: string, node: Endpoint): Promise<UdpPeer> {
  const agent = UdpPeer.open(name);
  assertEquals((await agent.request(`PR${name}@c.test`, node)).text, "RR0");
  return agent;
}

/**
 * `asker` looks `target` up through `node`, retrying like an agent (every
 * 200 ms, at most 50 times): the look-up reaches `target`'s socket.
 */
async function lookedUp(asker: UdpPeer, from: string, target: UdpPeer, to: string, node: Endpoint) {
  const packet = `PL${from}@c.test:${to}@c.test`;
  for (let attempt = 0; attempt < 50; attempt++) {
    await asker.send(packet, node);
    try {
      const got = await target.receive(200);
      if (got.text === packet) return got;
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      // What the node answered the asker meanwhile (offline), to retry.
      while (asker.pending.length > 0) await asker.receive(10);
    }
  }
  throw new Error(`${to} never looked up through ${node.ip}`);
}

function clusterTest(name: string, fn: (redis: RedisServer) => Promise<void>, aof = false) {
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

clusterTest("register at node A, be looked up through node B at once", async (redis) => {
  await using net = await cluster(redis);
  const [a, b, c] = net.nodes;
  await using bo = await register("bo", a!.endpoint);
  await using ana = await register("ana", b!.endpoint);
  await lookedUp(ana, "ana", bo, "bo", b!.endpoint);
  await using cy = await register("cy", c!.endpoint);
  await lookedUp(cy, "cy", bo, "bo", c!.endpoint);
});

clusterTest(
  "kill -9 of a node loses no registration: another node answers for its users",
  async (redis) => {
    await using net = await cluster(redis);
    const [a, b, c] = net.nodes;
    await using bo = await register("bo", a!.endpoint);
    await using ana = await register("ana", b!.endpoint);
    await lookedUp(ana, "ana", bo, "bo", b!.endpoint);
    a!.kill("SIGKILL");
    await a!.exited();
    await lookedUp(ana, "ana", bo, "bo", b!.endpoint);
    // A node started after the kill finds the registration in Redis.
    await using cy = await register("cy", c!.endpoint);
    await lookedUp(cy, "cy", bo, "bo", c!.endpoint);
  },
);

clusterTest(
  "Redis unreachable: the nodes keep answering, and catch up when it returns",
  async (redis) => {
    await using net = await cluster(redis);
    const [a, b] = net.nodes;
    await redis.stop("SIGKILL");
    // Registration still answered from the node's copy, never a crash.
    await using bo = await register("bo", a!.endpoint);
    await using ana = await register("ana", b!.endpoint);
    await redis.restart();
    // The write is retried by itself once Redis is back: B learns of bo.
    await lookedUp(ana, "ana", bo, "bo", b!.endpoint);
    for (const node of net.nodes) assert(node.lines.every((l) => !/uncaught|panic/i.test(l)));
  },
);

clusterTest(
  "Redis restarted with its append-only file: nothing acknowledged is lost",
  async (redis) => {
    await using net = await cluster(redis);
    const [a, b, c] = net.nodes;
    await using bo = await register("bo", a!.endpoint);
    await using ana = await register("ana", b!.endpoint);
    await lookedUp(ana, "ana", bo, "bo", b!.endpoint);
    await redis.stop("SIGKILL");
    await redis.restart();
    // Kill a node that had it in memory, and start one that can only read Redis.
    c!.kill("SIGKILL");
    await c!.exited();
    const fresh = await startNode("127.0.30.4", redis.url, net.dns.endpoint);
    net.nodes.push(fresh);
    await using dan = await register("dan", fresh.endpoint);
    await lookedUp(dan, "dan", bo, "bo", fresh.endpoint);
  },
  true,
);

clusterTest(
  "two registrations of one user at two nodes at once: one winner everywhere",
  async (redis) => {
    await using net = await cluster(redis);
    const [a, b, c] = net.nodes;
    await using one = UdpPeer.open("bo-1");
    await using two = UdpPeer.open("bo-2");
    await Promise.all([one.send("PRbo@c.test", a!.endpoint), two.send("PRbo@c.test", b!.endpoint)]);
    assertEquals([(await one.receive()).text, (await two.receive()).text], ["RR0", "RR0"]);
    await using ana = await register("ana", c!.endpoint);
    // Within a bounded number of rounds, every node sends bo's look-ups to the same socket.
    const packet = `PLana@c.test:bo@c.test`;
    const where = async (node: Node): Promise<string> => {
      await ana.send(packet, node.endpoint);
      for (let i = 0; i < 30 && ![one, two].some((p) => p.pending.includes(packet)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const found = one.pending.includes(packet)
        ? "one"
        : two.pending.includes(packet)
        ? "two"
        : "";
      while (one.pending.length > 0) await one.receive(10);
      while (two.pending.length > 0) await two.receive(10);
      while (ana.pending.length > 0) await ana.receive(10);
      return found;
    };
    let answers: string[] = [];
    for (let round = 0; round < 20; round++) {
      answers = [];
      for (const node of net.nodes) answers.push(await where(node));
      if (answers[0] && answers.every((w) => w === answers[0])) break;
    }
    assert(answers[0] && answers.every((w) => w === answers[0]), `the nodes disagree: ${answers}`);
  },
);

clusterTest("ctl add and del at one node are seen by every node", async (redis) => {
  await using net = await cluster(redis);
  const [a, b, c] = net.nodes;
  await using eve = UdpPeer.open("eve");
  const before = (await eve.request("PReve@c.test", b!.endpoint)).text;
  assert(before !== "RR0", `eve is not a user yet: ${before}`);
  assertEquals((await ctl(a!.dir, ["add", "eve"])).code, 0);
  assertEquals((await ctl(a!.dir, ["del", "dan"])).code, 0);
  let answer = "";
  for (let attempt = 0; attempt < 25 && answer !== "RR0"; attempt++) {
    answer = (await eve.request("PReve@c.test", b!.endpoint, 200).catch(() => ({ text: "" }))).text;
  }
  assertEquals(answer, "RR0");
  await using dan = UdpPeer.open("dan");
  let refused = "RR0";
  for (let attempt = 0; attempt < 25 && refused === "RR0"; attempt++) {
    refused =
      (await dan.request("PRdan@c.test", c!.endpoint, 200).catch(() => ({ text: "" }))).text;
  }
  assert(refused !== "RR0" && refused !== "", `dan was removed at node A: ${refused}`);
  // A node started later reads the change from Redis.
  const fresh = await startNode("127.0.30.5", redis.url, net.dns.endpoint);
  net.nodes.push(fresh);
  await using eve2 = UdpPeer.open("eve2");
  assertEquals((await eve2.request("PReve@c.test", fresh.endpoint)).text, "RR0");
});
