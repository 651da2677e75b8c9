/**
 * What the nodes of one domain share through a real Redis beyond
 * registrations (`cluster_redis_test.ts`): heartbeats and busy states,
 * look-ups unanswered (offline detection counted across nodes), accounts,
 * passwords and buddy lists, and presence changes watched from another node;
 * three node processes on 127.0.37.x listed in SRV by a real DNS server.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { openRedisDirectory, type RedisDirectory } from "../lib/node/redis_directory.ts";
import { startClusterNode, startRedisCluster } from "./support/cluster.ts";
import { challengeOf, ExtAgent } from "./support/ext_agent.ts";
import { type RedisServer, redisTools, startRedis } from "./support/redis_server.ts";
import { ctl } from "./support/service.ts";
import { TimeoutError, UdpPeer } from "./support/udp_peer.ts";

const tools = await redisTools();
const ACCOUNTS = ["[accounts]", "open-signup = yes"];

function redisTest(name: string, fn: (redis: RedisServer) => Promise<void>, aof = false) {
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

/** Ask `check` again (each time real work: a request, a read) until it holds; at most `attempts` times. */
async function until(what: string, check: () => boolean | Promise<boolean>, attempts = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert(await check(), what);
}

async function pair(redis: RedisServer, domain: string, users: string[]) {
  const open = () => openRedisDirectory({ redis: redis.url, domain, configured: users });
  const a = await open();
  const b = await open();
  return [a, b] as [RedisDirectory, RedisDirectory];
}

// ---- Two directories over one Redis (no node process).

redisTest(
  "RedisDirectory: a heartbeat at another node takes the session over: alive at every node",
  async (redis) => {
    const [a, b] = await pair(redis, "hb.test", ["laura"]);
    await using _a = a;
    await using _b = b;
    const at = { ip: "127.0.37.9", port: 5000 };
    const limits = { heartbeats: 3, originalMs: 0 };
    a.register("laura", at, 1_000, { token: "t", heartbeatMs: 1_000, busy: false });
    await until("b learns of laura", () => b.get("laura")?.endpoint.port === 5000);
    // The agent failed over to b: its heartbeats reach b only.
    b.heartbeat("laura", at, 60_000, false);
    await until("a hands laura over to b", () => a.ownedElsewhere("laura"));
    assertEquals(a.get("laura")?.lastSeen, 60_000);
    // Long past a's own limit for the registration it made, it is alive at both.
    assertEquals(a.expire(61_000, limits), []);
    assertEquals(b.expire(61_000, limits), []);
    assert(a.get("laura") && b.get("laura"));
    // b, the owner now, expires it when the heartbeats stop; a follows.
    assertEquals(b.expire(64_000, limits), ["laura"]);
    await until("a follows b's expiry", () => a.get("laura") === null);
  },
);

redisTest(
  "RedisDirectory: the sessions of a node that died are expired by the others",
  async (redis) => {
    const open = () =>
      openRedisDirectory({
        redis: redis.url,
        domain: "dead.test",
        configured: ["laura"],
        aliveMs: 300,
      });
    await using a = await open();
    await using b = await open();
    const limits = { heartbeats: 3, originalMs: 0 };
    a.register("laura", { ip: "127.0.37.9", port: 5004 }, 1_000, {
      token: "t",
      heartbeatMs: 1_000,
      busy: false,
    });
    await until("b learns of laura", () => b.ownedElsewhere("laura"));
    // Its owner is alive: not b's to expire, however old.
    assertEquals(b.expire(100_000, limits), []);
    // The owner dies (its connection gone, its liveness key left to expire).
    await a.link[Symbol.asyncDispose]();
    let gone: string[] = [];
    await until("b expires laura", () => (gone = b.expire(100_000, limits)).length > 0);
    assertEquals(gone, ["laura"]);
    assertEquals(b.get("laura"), null);
  },
);

redisTest(
  "RedisDirectory: a busy change at one node reaches the others, without a new registration",
  async (redis) => {
    const [a, b] = await pair(redis, "busy.test", ["laura"]);
    await using _a = a;
    await using _b = b;
    const at = { ip: "127.0.37.9", port: 5001 };
    a.register("laura", at, 1_000, { token: "t", heartbeatMs: 1_000, busy: false });
    await until("b learns of laura", () => b.get("laura") !== null && b.get("laura") !== undefined);
    const [id, stamp] = [b.get("laura")!.id, b.presenceStamp("laura")];
    assertEquals(a.heartbeat("laura", at, 2_000, true), { moved: false, busyChanged: true });
    await until("b sees laura busy", () => b.get("laura")?.session?.busy === true);
    assertEquals(b.get("laura")!.id, id);
    assert(b.presenceStamp("laura") > stamp, "the presence stamp moved at b");
  },
);

redisTest(
  "RedisDirectory: look-ups unanswered at two nodes add up; an answer at either clears them",
  async (redis) => {
    const [a, b] = await pair(redis, "miss.test", ["laura"]);
    await using _a = a;
    await using _b = b;
    a.register("laura", { ip: "127.0.37.9", port: 5002 }, 1_000);
    await until("b learns of laura", () => b.get("laura") !== null && b.get("laura") !== undefined);
    const [ida, idb] = [a.get("laura")!.id, b.get("laura")!.id];
    a.misses.missed("laura", ida);
    b.misses.missed("laura", idb);
    a.misses.missed("laura", ida);
    await until("both count 3", () => a.misses.count("laura", ida) === 3);
    await until("b counts 3", () => b.misses.count("laura", idb) === 3);
    b.misses.answered("laura", idb);
    await until("a's count is cleared", () => a.misses.count("laura", ida) === 0);
    // A new registration starts afresh everywhere.
    a.misses.missed("laura", ida);
    await until("b counts 1", () => b.misses.count("laura", idb) === 1);
    a.register("laura", { ip: "127.0.37.9", port: 5003 }, 2_000);
    await until("b follows", () => b.get("laura")?.endpoint.port === 5003);
    assertEquals(b.misses.count("laura", b.get("laura")!.id), 0);
  },
);

// ---- Three node processes.

redisTest(
  "a user signed up at node A logs in at node B; a password set by ctl at A is asked at C",
  async (redis) => {
    await using net = await startRedisCluster(redis.url, "127.0.37", ACCOUNTS);
    const [a, b, c] = net.nodes;
    await using nuria = ExtAgent.open("nuria@c.test", a!.endpoint, "127.0.37.20");
    assertEquals((await nuria.signUp("correct horse")).text, "RU0");
    await using there = ExtAgent.open("nuria@c.test", b!.endpoint, "127.0.37.20");
    let challenge: ReturnType<typeof challengeOf> | undefined;
    await until("B knows nuria and her password", async () => {
      const reply = await there.hello();
      if (reply.head === "RR1" && reply.text.includes("e=auth")) challenge = challengeOf(reply);
      return challenge !== undefined;
    }, 50);
    assertEquals((await there.prove("correct horse", challenge!)).reply.head, "RR0");
    assertEquals((await there.signUp("another")).text, "RU1;e=taken");

    assertEquals((await ctl(a!.dir, ["passwd", "ana", "pw of ana"])).code, 0);
    await using ana = ExtAgent.open("ana@c.test", c!.endpoint, "127.0.37.21");
    let asked: ReturnType<typeof challengeOf> | undefined;
    await until("C asks ana for her new password", async () => {
      const reply = await ana.hello();
      if (reply.head === "RR1") asked = challengeOf(reply);
      return asked !== undefined;
    }, 50);
    challengeOf((await ana.prove("wrong", asked!)).reply);
    assertEquals((await ana.register("pw of ana")).head, "RR0");
  },
);

redisTest(
  "a buddy added at node A is seen at node B; presence changes at B reach the watcher at A",
  async (redis) => {
    await using net = await startRedisCluster(redis.url, "127.0.37", ACCOUNTS);
    const [a, b] = net.nodes;
    await using ana = ExtAgent.open("ana@c.test", a!.endpoint, "127.0.37.22");
    await using bo = ExtAgent.open("bo@c.test", b!.endpoint, "127.0.37.23");
    assertEquals((await ana.register()).head, "RR0");
    assertEquals((await ana.buddy("add", "bo@c.test")).text, "RB0");
    assertEquals((await bo.register()).head, "RR0");
    // The mutual rule: bo shares his presence with ana by adding her, at B.
    assertEquals((await bo.buddy("add", "ana@c.test")).text, "RB0");
    const status = async () => (await ana.status()).reply.text;
    await until("A shows bo online", async () => (await status()).includes(`b=on,${bo.csv}`));
    const mark = await ana.mark();
    assertEquals((await bo.mark({ busy: true })).length > 0, true);
    await until("ana's mark moves", async () => (await ana.mark()) !== mark);
    await until("A shows bo busy", async () => (await status()).includes(`b=busy,${bo.csv}`));
    assertEquals((await bo.deregister()).head, "RD0");
    await until("A shows bo offline", async () => (await status()).includes("b=off,,,bo@c.test"));
    // ana's buddy list, made at A, is hers at B too.
    assertEquals((await ana.deregister()).head, "RD0");
    await using again = ExtAgent.open("ana@c.test", b!.endpoint, "127.0.37.24");
    // Once B has heard that ana left A (a session elsewhere is not taken over).
    await until("ana logs in at B", async () => (await again.register()).head === "RR0", 50);
    assertEquals((await again.status()).reply.text, "RS0;p=1/1;b=off,,,bo@c.test");
  },
);

redisTest(
  "heartbeats reaching another node keep the session alive at every node, until they stop",
  async (redis) => {
    await using net = await startRedisCluster(redis.url, "127.0.37", ["[limits]", "heartbeat = 1"]);
    const [a, b] = net.nodes;
    await using ana = ExtAgent.open("ana@c.test", a!.endpoint, "127.0.37.29");
    assertEquals((await ana.register()).head, "RR0");
    const beat = async (node: typeof a) =>
      (await ana.peer.request(ana.seal(`PKana@c.test`), node!.endpoint)).text.slice(0, 3);
    await until("B knows ana's session", async () => (await beat(b)) === "RK0", 50);
    // A copy of ana's next heartbeat, sent to the third node from another address, is refused
    // there (that node never saw ana's counters: it takes the session up only from ana's address).
    const [, , c] = net.nodes;
    await using thief = UdpPeer.open("thief", "127.0.37.31");
    const copy = ana.seal(`PKana@c.test`);
    assertEquals((await thief.request(copy, c!.endpoint)).text, "RK1;e=auth");
    // Five seconds of heartbeats to B only: past A's limit (3 missed of 1 s) for the session it made.
    const end = Date.now() + 5_000;
    while (Date.now() < end) {
      assertEquals(await beat(b), "RK0");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assertEquals(await beat(a), "RK0");
    // Silence: the session ends everywhere (asked by look-ups, which are no sign of ana's life).
    await using bo = UdpPeer.open("bo", "127.0.37.30");
    assertEquals((await bo.request("PRbo@c.test", a!.endpoint)).text, "RR0");
    const offlineAt = async (node: typeof a) => {
      await bo.send("PLbo@c.test:ana@c.test", node!.endpoint);
      try {
        return /^RL[1-9]/.test((await bo.receive(300)).text);
      } catch (error) {
        if (error instanceof TimeoutError) return false; // forwarded to ana: still online there
        throw error;
      }
    };
    await until("A ends the session", () => offlineAt(a), 25);
    await until("B ends the session", () => offlineAt(b), 25);
  },
);

redisTest("offline detection counts the look-ups left unanswered at every node", async (redis) => {
  await using net = await startRedisCluster(redis.url, "127.0.37");
  const nodes = net.nodes.map((node) => node.endpoint);
  // An original agent that registers, then never answers again.
  await using bo = UdpPeer.open("bo", "127.0.37.25");
  assertEquals((await bo.request("PRbo@c.test", nodes[0]!)).text, "RR0");
  await using ana = UdpPeer.open("ana", "127.0.37.26");
  assertEquals((await ana.request("PRana@c.test", nodes[1]!)).text, "RR0");
  // ana looks bo up through each node in turn, like an agent retrying every second.
  let answer = "";
  let sent = 0;
  while (sent < 13 && !answer.startsWith("RL3")) {
    await ana.send("PLana@c.test:bo@c.test", nodes[sent++ % 3]!);
    try {
      answer = (await ana.receive(1_100)).text;
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }
  // offline-after = 5: four windows unanswered in the domain, the fifth look-up is answered RL3.
  // Counted at each node alone, that would take 13 look-ups (the fifth through one node).
  assert(answer.startsWith("RL3") && sent <= 6, `RL3 after ${sent} look-ups: ${answer}`);
});

redisTest(
  "Redis restarted with its append-only file: accounts and buddy lists acknowledged are not lost",
  async (redis) => {
    await using net = await startRedisCluster(redis.url, "127.0.37", ACCOUNTS);
    const [a, b] = net.nodes;
    await using nuria = ExtAgent.open("nuria@c.test", a!.endpoint, "127.0.37.27");
    assertEquals((await nuria.signUp("correct horse")).text, "RU0");
    assertEquals((await nuria.register("correct horse")).head, "RR0");
    assertEquals((await nuria.buddy("add", "bo@c.test")).text, "RB0");
    assertEquals((await nuria.deregister()).head, "RD0");
    // Acknowledged by Redis: another node has it.
    await using there = ExtAgent.open("nuria@c.test", b!.endpoint, "127.0.37.27");
    await until("B has nuria's account", async () => (await there.hello()).head === "RR1", 50);
    await redis.stop("SIGKILL");
    await redis.restart();
    // A node started now knows only what Redis kept.
    const fresh = await startClusterNode("127.0.37.4", redis.url, net.dns.endpoint, ACCOUNTS);
    net.nodes.push(fresh);
    await using late = ExtAgent.open("nuria@c.test", fresh.endpoint, "127.0.37.28");
    assertEquals((await late.register("correct horse")).head, "RR0");
    assertEquals((await late.status()).reply.text, "RS0;p=1/1;b=?,,,bo@c.test");
  },
  true,
);
