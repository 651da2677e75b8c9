/**
 * The PLUMI extensions (`v=2`, docs/PROTOCOL.md "PLUMI extensions") end to
 * end: real `main_node.ts` processes with their SQLite account database,
 * spoken to over loopback by raw-socket extended agents
 * ({@linkcode ExtAgent}) that compute password proofs with `lib/auth.ts`,
 * and by original-protocol peers. Every wait is on a datagram or an output
 * line; the only waits of fixed length are heartbeat intervals, during
 * which the sockets must stay silent.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { createCredentials, toBase64Url } from "../lib/auth.ts";
import { parseConfig } from "../lib/node/config.ts";
import { AccountStore } from "../lib/node/store.ts";
import { TestAgent } from "../lib/node/test_agent.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import {
  challengeOf,
  ExtAgent,
  padded,
  parseReply,
  type Reply,
  value,
} from "./support/ext_agent.ts";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";
import { TimeoutError, UdpPeer } from "./support/udp_peer.ts";

// ---------------------------------------------------------------------------
// A node process in its own directory, restartable at the same address.

interface NodeSpec {
  readonly domain?: string;
  /** Users of `[users]`. */
  readonly users: readonly string[];
  /** `[limits]` lines. */
  readonly limits?: Record<string, string | number>;
  /** `[accounts]` lines. */
  readonly accounts?: Record<string, string>;
  /** `[domains]` lines. */
  readonly domains?: Record<string, string>;
  /** Passwords written to the database before the first start (cheap PBKDF2: 1 000 iterations). */
  readonly passwords?: Record<string, string>;
  /** `--listen`. Default: 127.0.0.1:0. */
  readonly listen?: string;
}

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) \((.*)\)$/;

class ExtNode implements AsyncDisposable {
  readonly dir: string;
  readonly domain: string;
  child: ChildProcess;
  at: Endpoint;
  /** What the listening line said in parentheses (`N users, M online restored`). */
  summary: string;

  private constructor(dir: string, domain: string, child: ChildProcess, match: RegExpMatchArray) {
    this.dir = dir;
    this.domain = domain;
    this.child = child;
    this.at = { ip: match[2]!, port: Number(match[3]) };
    this.summary = match[4]!;
  }

  static async start(spec: NodeSpec): Promise<ExtNode> {
    const domain = spec.domain ?? "ext.test";
    const dir = await tempDir(`ext-${domain}-`);
    const section = (name: string, entries: Record<string, string | number> = {}) => [
      `[${name}]`,
      ...Object.entries(entries).map(([k, v]) => `${k} = ${v}`),
    ];
    const config = [
      `domain = ${domain}`,
      ...section("limits", spec.limits),
      ...section("accounts", spec.accounts),
      ...section("domains", spec.domains),
      "[users]",
      ...spec.users,
    ];
    await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config.join("\n") + "\n");
    if (spec.passwords) {
      using store = AccountStore.open(`${dir}/nodelumi-${domain}.db`);
      for (const [name, password] of Object.entries(spec.passwords)) {
        store.setPassword(name, await createCredentials(password, 1_000));
      }
    }
    const [child, match] = await ExtNode.#launch(dir, domain, spec.listen ?? "127.0.0.1:0");
    return new ExtNode(dir, domain, child, match);
  }

  static async #launch(
    dir: string,
    domain: string,
    listen: string,
  ): Promise<[ChildProcess, RegExpMatchArray]> {
    const child = await startProgram("node", ["--listen", listen], {
      cwd: dir,
      name: `node ${domain}`,
    });
    try {
      return [child, await child.waitFor(LISTENING)];
    } catch (error) {
      await child[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Stop with `signal` and wait for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.child.kill(signal);
    return await this.child.exited();
  }

  /** Stop with `signal` and start again at the same address. */
  async restart(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    const status = await this.stop(signal);
    const [child, match] = await ExtNode.#launch(
      this.dir,
      this.domain,
      `${this.at.ip}:${this.at.port}`,
    );
    this.child = child;
    assertEquals({ ip: match[2], port: Number(match[3]) }, this.at);
    this.summary = match[4]!;
    return status;
  }

  /** The packet log's datagrams (`R`/`E`, peer, text), after the node stopped. */
  async log(): Promise<string[]> {
    return (await Deno.readTextFile(`${this.dir}/nodelumi-${this.domain}.log`)).split("\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.child[Symbol.asyncDispose]();
  }
}

// ---------------------------------------------------------------------------
// Helpers.

/** Assert that no datagram reaches any of `peers` for `ms` (a heartbeat interval passing). */
async function idle(ms: number, ...peers: Array<UdpPeer | ExtAgent>): Promise<void> {
  await Promise.all(peers.map(async (p) => {
    const peer = p instanceof ExtAgent ? p.peer : p;
    try {
      const stray = await peer.receive(ms);
      throw new Error(`${peer.name}: unexpected datagram "${stray.text}" while idle`);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }));
}

/**
 * Heartbeat `watcher` once per interval, as an agent does (and `others`
 * too, to keep them online), until its mark is no longer `mark`. Returns
 * the new mark and how many heartbeats it took.
 */
async function beatUntilChanged(
  watcher: ExtAgent,
  mark: string,
  options: { others?: ExtAgent[]; intervalMs: number; maxBeats: number },
): Promise<{ mark: string; beats: number }> {
  const others = options.others ?? [];
  for (let beat = 1; beat <= options.maxBeats; beat++) {
    await idle(options.intervalMs, watcher, ...others);
    for (const other of others) await other.mark();
    const now = await watcher.mark();
    if (now !== mark) return { mark: now, beats: beat };
  }
  throw new Error(`${watcher.address}: mark still ${mark} after ${options.maxBeats} heartbeats`);
}

/**
 * The exact `RR0;v=2;…` of a node: its session key (43 characters), the
 * node's settings, and the MAC that proves the session key (16 characters).
 */
function assertSession(reply: Reply, settings: { hb: number; su: 0 | 1; ol: 0 | 1 }): void {
  assertEquals(reply.head, "RR0", reply.text);
  const key = value(reply, "k") ?? "";
  const mac = value(reply, "m") ?? "";
  assert(/^[A-Za-z0-9_-]{43}$/.test(key), `key "${key}"`);
  assert(/^[A-Za-z0-9_-]{16}$/.test(mac), `mac "${mac}"`);
  assertEquals(reply.params, [
    "v=2",
    `k=${key}`,
    `hb=${settings.hb}`,
    `su=${settings.su}`,
    `ol=${settings.ol}`,
    "ik=1",
    `m=${mac}`,
  ]);
}

/** Send `packet` from an original-protocol peer and assert the exact answer. */
async function exchange(peer: UdpPeer, node: Endpoint, packet: string, expected: string) {
  const got = await peer.request(packet, node);
  assertEquals({ text: got.text, from: got.from }, { text: expected, from: node }, packet);
}

const DEFAULTS = { hb: 30, su: 0, ol: 1 } as const;
const PROBE_PADDING = "x=" + "-".repeat(40);

// ---------------------------------------------------------------------------
// Accounts and log-in.

Deno.test("a user signs up, logs in with a proof, and keeps account, password and buddies across a clean restart and kill -9", async () => {
  await using node = await ExtNode.start({
    users: ["joan", "pere"],
    accounts: { "open-signup": "yes" },
  });
  await using nuria = ExtAgent.open("nuria@ext.test", node.at);
  await using joan = ExtAgent.open("joan@ext.test", node.at);

  assertEquals((await nuria.signUp("correct horse")).text, "RU0");
  const challenge = challengeOf(await nuria.hello());
  assertEquals(challenge.iterations, 100_000);
  assertSession((await nuria.prove("correct horse", challenge)).reply, { ...DEFAULTS, su: 1 });
  assertEquals((await nuria.buddy("add", "joan@ext.test")).text, "RB0");
  assertEquals((await nuria.buddy("add", "pere@ext.test")).text, "RB0");
  assertSession(await joan.register(), { ...DEFAULTS, su: 1 });
  assertEquals((await joan.buddy("add", "nuria@ext.test")).text, "RB0");
  assertEquals(
    (await nuria.status()).reply.text,
    `RS0;p=1/1;b=on,${joan.csv},joan@ext.test;b=?,,,pere@ext.test`,
  );

  assertEquals((await node.restart("SIGTERM")).code, 0);
  assertEquals(node.summary, "3 users, 0 online restored");
  // Sessions die with the node: both agents are told to register again, and
  // until nuria does, her buddy sees her offline (not at her old address).
  assertEquals((await nuria.heartbeat()).text, "RK1");
  assertEquals((await joan.heartbeat()).text, "RK1");
  assertSession(await joan.register(), { ...DEFAULTS, su: 1 });
  assertEquals((await joan.status()).reply.text, "RS0;p=1/1;b=off,,,nuria@ext.test");
  // The account and its password survived: a wrong password is refused, the right one works.
  const again = challengeOf(await nuria.hello());
  assertEquals(toBase64Url(again.salt), toBase64Url(challenge.salt));
  challengeOf((await nuria.prove("wrong horse", again)).reply);
  assertSession(await nuria.register("correct horse"), { ...DEFAULTS, su: 1 });
  assertEquals(
    (await nuria.status()).reply.text,
    `RS0;p=1/1;b=on,${joan.csv},joan@ext.test;b=?,,,pere@ext.test`,
  );
  assertEquals((await nuria.signUp("another")).text, "RU1;e=taken");

  // A change acknowledged just before kill -9 is on disk.
  assertEquals((await nuria.buddy("del", "pere@ext.test")).text, "RB0");
  assertEquals((await node.restart("SIGKILL")).signal, "SIGKILL");
  assertEquals((await nuria.heartbeat()).text, "RK1");
  assertSession(await nuria.register("correct horse"), { ...DEFAULTS, su: 1 });
  assertEquals((await nuria.status()).reply.text, "RS0;p=1/1;b=off,,,joan@ext.test");
  assertEquals((await nuria.signUp("another")).text, "RU1;e=taken");
  assertEquals([nuria.peer.pending, joan.peer.pending], [[], []]);
});

Deno.test("a wrong password and a replayed proof get a fresh challenge (e=auth), never a session", async () => {
  await using node = await ExtNode.start({ users: ["laura"], passwords: { laura: "s3cret" } });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using eve = ExtAgent.open("laura@ext.test", node.at);

  const first = challengeOf(await laura.hello());
  assertEquals(first.iterations, 1_000);
  const wrong = await laura.prove("guess", first);
  const second = challengeOf(wrong.reply);
  assert(second.nonce !== first.nonce, "a new nonce after a wrong proof");
  assertEquals([toBase64Url(second.salt), second.iterations], [toBase64Url(first.salt), 1_000]);
  // The right password under the spent nonce: refused too.
  const stale = challengeOf((await laura.prove("s3cret", first)).reply);
  assert(![first.nonce, second.nonce].includes(stale.nonce));
  // No session yet: a seal proves nothing.
  assertEquals((await laura.request("PKlaura@ext.test;q=1;m=AAAAAAAAAAAAAAAA")).text, "RK1");

  const good = await laura.prove("s3cret", stale);
  assertSession(good.reply, DEFAULTS);
  const key = laura.key;
  // The same proof again, from the agent or from anyone else: its nonce is spent.
  const replay = challengeOf(await laura.request(good.packet));
  assert(replay.nonce !== stale.nonce);
  // From elsewhere the node knows no session key of that source: the agent must start over.
  assertEquals((await eve.request(good.packet)).text, "RR1;v=2;e=invalid");
  assertEquals(eve.key, undefined);
  // Nothing changed: laura's session is the one she proved.
  assertEquals(laura.key, key);
  assertEquals((await laura.heartbeat()).head, "RK0");
  assertEquals([laura.peer.pending, eve.peer.pending], [[], []]);
});

Deno.test("a user with a password is closed to original PR and PD and to an unpadded first PR; users without one keep the original protocol", async () => {
  await using node = await ExtNode.start({
    users: ["laura", "joan", "pere"],
    passwords: { laura: "s3cret" },
  });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using joan = UdpPeer.open("original joan");
  await using mallory = UdpPeer.open("original mallory");

  await exchange(mallory, node.at, "PRlaura@ext.test", "RR1");
  await exchange(mallory, node.at, "PDlaura@ext.test", "RD1");
  assertEquals(
    (await laura.request(`PRlaura@ext.test;v=2;k=${laura.pair.publicKey}`)).text,
    "RR1;v=2;e=pad",
  );
  assertSession(await laura.register("s3cret"), DEFAULTS);
  // An original PR or PD changes nothing: laura stays where she proved she is.
  await exchange(mallory, node.at, "PRlaura@ext.test", "RR1");
  await exchange(mallory, node.at, "PDlaura@ext.test", "RD1");
  assertEquals((await laura.heartbeat()).head, "RK0");

  // joan, without a password, speaks the original protocol, and reaches laura and back.
  await exchange(joan, node.at, "PRjoan@ext.test", "RR0");
  await joan.send("PLjoan@ext.test:laura@ext.test", node.at);
  assertEquals((await laura.receive()).text, "PLjoan@ext.test:laura@ext.test");
  await laura.peer.send("RL0joan@ext.test:laura@ext.test:127.0.0.1:7000", node.at);
  assertEquals((await joan.receive()).text, "RL0joan@ext.test:laura@ext.test:127.0.0.1:7000");
  await laura.peer.send("PLlaura@ext.test:joan@ext.test", node.at);
  assertEquals((await joan.receive()).text, "PLlaura@ext.test:joan@ext.test");
  await joan.send("RL1laura@ext.test:joan@ext.test", node.at);
  assertEquals((await laura.receive()).text, "RL1laura@ext.test:joan@ext.test");
  await exchange(joan, node.at, "PLjoan@ext.test:pere@ext.test", "RL3joan@ext.test:pere@ext.test");
  await exchange(
    joan,
    node.at,
    "PLjoan@ext.test:nobody@ext.test",
    "RL2joan@ext.test:nobody@ext.test",
  );
  await exchange(joan, node.at, "PDjoan@ext.test", "RD0");
  await exchange(mallory, node.at, "PRnobody@ext.test", "RR1");
  assertEquals([joan.pending, mallory.pending, laura.peer.pending], [[], [], []]);
});

Deno.test("PD, PB, PS and PO need the session's seal, sent from the address that registered", async () => {
  await using node = await ExtNode.start({ users: ["laura", "joan"], passwords: { laura: "pw" } });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using thief = ExtAgent.open("laura@ext.test", node.at);
  assertSession(await laura.register("pw"), DEFAULTS);
  const a = "laura@ext.test";

  const forged = { key: new Uint8Array(32).fill(1), counter: 1 };
  for (const seal of [(p: string) => p, (p: string) => laura.seal(p, forged)]) {
    assertEquals((await laura.request(seal(`PD${a};v=2`))).text, "RD1;v=2;e=auth");
    assertEquals((await laura.request(seal(`PB${a};op=add;b=joan@ext.test`))).text, "RB1;e=auth");
    assertEquals((await laura.request(seal(`PS${a}`))).text, "RS1;e=auth");
    assertEquals((await laura.request(seal(`PO${a}`))).text, "RO1;e=auth");
  }
  // The right key from another address is refused as well (and its counters are then spent).
  thief.key = laura.key;
  thief.counter = laura.counter;
  assertEquals((await thief.deregister()).text, "RD1;v=2;e=auth");
  assertEquals((await thief.buddy("add", "joan@ext.test")).text, "RB1;e=auth");
  assertEquals((await thief.request(thief.seal(`PS${a}`))).text, "RS1;e=auth");
  assertEquals((await thief.request(thief.seal(`PO${a}`))).text, "RO1;e=auth");
  laura.counter = thief.counter;
  // And a session is one user's: joan's seal does not speak for laura.
  await using joan = ExtAgent.open("joan@ext.test", node.at);
  assertSession(await joan.register(), DEFAULTS);
  assertEquals((await joan.request(joan.seal(`PS${a}`))).text, "RS1;e=auth");

  assertEquals((await laura.status()).reply.text, "RS0;p=1/1");
  assertEquals((await laura.online()).reply.text, "RO0;p=1/1;u=joan;u=laura"); // in name order
  assertEquals((await laura.deregister()).text, "RD0;v=2");
  assertEquals((await laura.heartbeat()).text, "RK1");
  assertEquals((await laura.request(laura.seal(`PS${a}`))).text, "RS1;e=auth");
  assertEquals([laura.peer.pending, thief.peer.pending, joan.peer.pending], [[], [], []]);
});

Deno.test("one session per user: a second PR elsewhere gets e=signed-in; ;replace takes over and the old session hears e=replaced", async () => {
  await using node = await ExtNode.start({ users: ["laura", "pere"], passwords: { laura: "pw" } });
  await using first = ExtAgent.open("laura@ext.test", node.at);
  await using second = ExtAgent.open("laura@ext.test", node.at);
  assertSession(await first.register("pw"), DEFAULTS);

  // Proven, but another agent holds a live session: refused, and told where it is.
  const challenge = challengeOf(await second.hello());
  const refused = (await second.prove("pw", challenge)).reply;
  assertEquals(refused.text, `RR1;v=2;e=signed-in;at=${first.at}`);
  assertEquals((await first.heartbeat()).head, "RK0");

  // A stranger without the password learns nothing: a challenge, as before.
  assertEquals((await second.hello()).head, "RR1");

  // With ;replace the newcomer is granted a session; the old agent is told, and where.
  const again = challengeOf(await second.hello({ replace: true }));
  const granted = (await second.prove("pw", again, true)).reply;
  assertEquals(granted.head, "RR0", granted.text);
  assertEquals((await first.heartbeat()).text, `RK1;e=replaced;at=${second.at}`);
  // Its leaving does not take the newcomer offline.
  assertEquals((await first.deregister()).text, "RD1;v=2;e=replaced");
  assertEquals((await second.heartbeat()).head, "RK0");

  // Without a password: refused without the place; replaced the same way.
  await using pere = ExtAgent.open("pere@ext.test", node.at);
  await using pere2 = ExtAgent.open("pere@ext.test", node.at);
  assertSession(await pere.register(), DEFAULTS);
  assertEquals((await pere2.hello()).text, "RR1;v=2;e=signed-in");
  assertEquals((await pere2.hello({ replace: true })).head, "RR0");
  assertEquals((await pere.heartbeat()).text, `RK1;e=replaced;at=${pere2.at}`);
  // A seal of no session, replaced or live: refused.
  assertEquals((await pere.heartbeat({ key: new Uint8Array(32) })).text, "RK1;e=auth");
});

Deno.test("sign-up answers: RU3 while closed; RU0 created, RU1 taken, RU2 invalid when open", async () => {
  await using closed = await ExtNode.start({ users: ["joan"] });
  await using open = await ExtNode.start({ users: ["joan"], accounts: { "open-signup": "yes" } });
  await using nuria = ExtAgent.open("nuria@ext.test", closed.at);
  assertEquals((await nuria.signUp("pw")).text, "RU3;e=closed");
  await using agent = UdpPeer.open("signing up");
  const salt = toBase64Url(new Uint8Array(16).fill(7));
  const key = toBase64Url(new Uint8Array(32).fill(9));
  const ask = (text: string) => agent.request(text, open.at).then((r) => r.text);

  assertEquals(await ask(`PUmarta@ext.test;s=${salt};i=100000;k=${key}`), "RU0");
  // The same sign-up again (a retransmission whose RU0 was lost) gets the same answer;
  // another one for the name is refused.
  assertEquals(await ask(`PUmarta@ext.test;s=${salt};i=100000;k=${key}`), "RU0");
  const otherKey = toBase64Url(new Uint8Array(32).fill(8));
  assertEquals(await ask(`PUmarta@ext.test;s=${salt};i=100000;k=${otherKey}`), "RU1;e=taken");
  assertEquals(await ask(`PUjoan@ext.test;s=${salt};i=100000;k=${key}`), "RU1;e=taken");
  const invalid = [
    `PUana@ext.test;s=${salt};i=99999;k=${key}`,
    `PUana@ext.test;s=${salt};i=6000001;k=${key}`,
    `PUana@ext.test;s=${toBase64Url(new Uint8Array(15))};i=100000;k=${key}`,
    `PUana@ext.test;s=${salt};i=100000;k=${toBase64Url(new Uint8Array(31))}`,
    `PUana@ext.test;s=${salt};i=100000;k=${key}!`,
    `PUana@ext.test;s=${salt};i=100000`,
    `PUana@other.test;s=${salt};i=100000;k=${key}`,
  ];
  for (const packet of invalid) assertEquals(await ask(packet), "RU2;e=invalid", packet);
  // The account made by sign-up is a user of the domain at once: its first PR gets a challenge.
  await using marta = ExtAgent.open("marta@ext.test", open.at);
  const challenge = challengeOf(await marta.hello());
  assertEquals([toBase64Url(challenge.salt), challenge.iterations], [salt, 100_000]);
  assertEquals(agent.pending, []);
});

// ---------------------------------------------------------------------------
// Buddies and presence.

Deno.test("buddy list: add, delete and list, refusing self, invalid, absent and a full list", async () => {
  await using node = await ExtNode.start({
    users: ["laura", "joan", "pere"],
    limits: { "max-buddies": 2 },
    // A buddy of cc.test makes the node probe cc.test's node: keep that on loopback.
    domains: { "cc.test": "127.0.77.9:3344" },
  });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  assertSession(await laura.register(), DEFAULTS);

  assertEquals((await laura.buddy("add", "laura@ext.test")).text, "RB1;e=self");
  assertEquals((await laura.buddy("add", "nobody")).text, "RB1;e=invalid");
  assertEquals((await laura.buddy("add", "a@b..c")).text, "RB1;e=invalid");
  assertEquals((await laura.buddy("move", "joan@ext.test")).text, "RB1;e=invalid");
  assertEquals(
    (await laura.request(laura.seal(`PBlaura@ext.test;b=joan@ext.test`))).text,
    "RB1;e=invalid",
  );
  assertEquals((await laura.buddy("del", "joan@ext.test")).text, "RB1;e=absent");
  assertEquals((await laura.buddy("add", "pere@ext.test")).text, "RB0");
  assertEquals((await laura.buddy("add", "joan@cc.test")).text, "RB0");
  assertEquals((await laura.buddy("add", "joan@ext.test")).text, "RB1;e=full");
  assertEquals((await laura.buddy("del", "pere@ext.test")).text, "RB0");
  assertEquals((await laura.buddy("del", "pere@ext.test")).text, "RB1;e=absent");
  assertEquals((await laura.buddy("add", "joan@ext.test")).text, "RB0");
  const list = await laura.status();
  assertEquals(list.reply.text, "RS0;p=1/1;b=?,,,joan@cc.test;b=?,,,joan@ext.test");
  assertEquals(laura.peer.pending, []);
});

Deno.test("PS with h=1 carries each shared buddy's change count and last states: a buddy who left and came back between two looks shows both changes", async () => {
  await using node = await ExtNode.start({ users: ["laura", "joan", "pere"] });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using joan = ExtAgent.open("joan@ext.test", node.at);
  assertSession(await laura.register(), DEFAULTS);
  assertSession(await joan.register(), DEFAULTS);
  assertEquals((await laura.buddy("add", "joan@ext.test")).text, "RB0");
  assertEquals((await laura.buddy("add", "pere@ext.test")).text, "RB0");
  assertEquals((await joan.buddy("add", "laura@ext.test")).text, "RB0");
  const t = () => laura.seal(`PSlaura@ext.test;p=1;h=1`);
  // Pere has not added laura: no counts, as nothing of him is shown.
  assertEquals(
    (await laura.request(t())).text,
    `RS0;p=1/1;h=1;b=on,${joan.csv},0,on,joan@ext.test;b=?,,,,,pere@ext.test`,
  );
  // Joan leaves and comes back (from another socket) between two of laura's looks.
  assertEquals((await joan.deregister()).text, "RD0;v=2");
  await using joan2 = ExtAgent.open("joan@ext.test", node.at);
  assertSession(await joan2.register(), DEFAULTS);
  assertEquals(
    (await laura.request(t())).text,
    `RS0;p=1/1;h=1;b=on,${joan2.csv},2,on.off.on,joan@ext.test;b=?,,,,,pere@ext.test`,
  );
  // Busy and back: one change each; without h=1 the entries are as before.
  await joan2.mark({ busy: true });
  await laura.mark();
  await joan2.mark();
  assertEquals(
    (await laura.request(t())).text,
    `RS0;p=1/1;h=1;b=on,${joan2.csv},4,on.off.on.busy.on,joan@ext.test;b=?,,,,,pere@ext.test`,
  );
  assertEquals(
    (await laura.status()).reply.text,
    `RS0;p=1/1;b=on,${joan2.csv},joan@ext.test;b=?,,,pere@ext.test`,
  );
});

Deno.test("presence is shown only to mutual buddies: ? until the buddy adds you back, then on with ip:port, busy and off; the mark follows", async () => {
  await using node = await ExtNode.start({ users: ["laura", "joan"] });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using joan = ExtAgent.open("joan@ext.test", node.at);
  assertSession(await laura.register(), DEFAULTS);
  assertSession(await joan.register(), DEFAULTS);

  assertEquals((await laura.buddy("add", "joan@ext.test")).text, "RB0");
  assertEquals((await laura.status()).reply.text, "RS0;p=1/1;b=?,,,joan@ext.test");
  const before = await laura.mark();
  // Until joan adds laura back, her coming and going does not show, not even in laura's mark.
  assertEquals((await joan.deregister()).text, "RD0;v=2");
  assertSession(await joan.register(), DEFAULTS);
  assertEquals(await laura.mark(), before);
  assertEquals((await laura.status()).reply.text, "RS0;p=1/1;b=?,,,joan@ext.test");
  // joan adds laura back: what laura may see of joan changed, so her mark changes.
  assertEquals((await joan.buddy("add", "laura@ext.test")).text, "RB0");
  const mutual = await laura.mark();
  assert(mutual !== before, `mark ${before} unchanged after joan added laura back`);
  assertEquals((await laura.status()).reply.text, `RS0;p=1/1;b=on,${joan.csv},joan@ext.test`);
  assertEquals((await joan.status()).reply.text, `RS0;p=1/1;b=on,${laura.csv},laura@ext.test`);

  await joan.mark({ busy: true });
  const busy = await laura.mark();
  assert(busy !== mutual);
  assertEquals((await laura.status()).reply.text, `RS0;p=1/1;b=busy,${joan.csv},joan@ext.test`);
  assertEquals(await laura.mark(), busy, "no change, same mark");
  await joan.mark();
  assertEquals((await laura.status()).reply.text, `RS0;p=1/1;b=on,${joan.csv},joan@ext.test`);

  assertEquals((await joan.deregister()).text, "RD0;v=2");
  assert((await laura.mark()) !== busy);
  assertEquals((await laura.status()).reply.text, "RS0;p=1/1;b=off,,,joan@ext.test");
  // joan is offline but still a buddy: removing laura hides even that.
  assertSession(await joan.register(), DEFAULTS);
  assertEquals((await joan.buddy("del", "laura@ext.test")).text, "RB0");
  assertEquals((await laura.status()).reply.text, "RS0;p=1/1;b=?,,,joan@ext.test");
  assertEquals([laura.peer.pending, joan.peer.pending], [[], []]);
});

Deno.test("heartbeat loss: offline after three missed heartbeats, the buddy's mark changes and PS shows off; the session is gone", async () => {
  await using node = await ExtNode.start({ users: ["laura", "joan"], limits: { heartbeat: 1 } });
  await using laura = ExtAgent.open("laura@ext.test", node.at);
  await using joan = ExtAgent.open("joan@ext.test", node.at);
  const hb = { ...DEFAULTS, hb: 1 };
  assertSession(await laura.register(), hb);
  assertSession(await joan.register(), hb);
  assertEquals((await laura.buddy("add", "joan@ext.test")).text, "RB0");
  assertEquals((await joan.buddy("add", "laura@ext.test")).text, "RB0");
  assertEquals((await laura.status()).reply.text, `RS0;p=1/1;b=on,${joan.csv},joan@ext.test`);

  // joan's agent dies after one last heartbeat; laura keeps beating once a second.
  const mark = await laura.mark();
  await joan.mark();
  const lastBeat = performance.now();
  const changed = await beatUntilChanged(laura, mark, { intervalMs: 1_000, maxBeats: 6 });
  const seconds = (performance.now() - lastBeat) / 1000;
  assert(seconds > 2.9 && seconds < 5.5, `offline after ${seconds.toFixed(1)} s`);
  assert(changed.beats >= 3, `offline after ${changed.beats} heartbeats`);
  assertEquals((await laura.status()).reply.text, "RS0;p=1/1;b=off,,,joan@ext.test");
  assertEquals(
    (await laura.request("PLlaura@ext.test:joan@ext.test")).text,
    "RL3laura@ext.test:joan@ext.test",
  );
  assertEquals((await joan.heartbeat()).text, "RK1");
  assertEquals(await laura.mark(), changed.mark);
  assertEquals([laura.peer.pending, joan.peer.pending], [[], []]);
});

Deno.test("buddy status across two domains: the node probes, queries, shows on, then off after the remote buddy leaves; a forged answer is ignored", async () => {
  const portA = await freePort("127.0.77.1");
  await using b = await ExtNode.start({
    domain: "b.test",
    users: ["bo"],
    limits: { heartbeat: 1 },
    domains: { "a.test": `127.0.77.1:${portA}` },
    listen: "127.0.77.2:0",
  });
  await using a = await ExtNode.start({
    domain: "a.test",
    users: ["ana"],
    limits: { heartbeat: 1 },
    domains: { "b.test": `${b.at.ip}:${b.at.port}` },
    listen: `127.0.77.1:${portA}`,
  });
  await using ana = ExtAgent.open("ana@a.test", a.at);
  await using bo = ExtAgent.open("bo@b.test", b.at);
  await using forger = UdpPeer.open("forger");
  const hb = { ...DEFAULTS, hb: 1 };
  assertSession(await ana.register(), hb);
  assertSession(await bo.register(), hb);
  assertEquals((await ana.buddy("add", "bo@b.test")).text, "RB0");
  assertEquals((await bo.buddy("add", "ana@a.test")).text, "RB0");

  // The first status asks b.test's node; the answer shows at the next heartbeats.
  assertEquals((await ana.status()).reply.text, "RS0;p=1/1;b=?,,,bo@b.test");
  const unknown = await ana.mark();
  const on = await beatUntilChanged(ana, unknown, { others: [bo], intervalMs: 1_000, maxBeats: 2 });
  assertEquals((await ana.status()).reply.text, `RS0;p=1/1;b=on,${bo.csv},bo@b.test`);

  assertEquals((await bo.deregister()).text, "RD0;v=2");
  const off = await beatUntilChanged(ana, on.mark, { intervalMs: 1_000, maxBeats: 2 });
  assertEquals((await ana.status()).reply.text, "RS0;p=1/1;b=off,,,bo@b.test");

  // Only b.test's node may tell a.test where bo is.
  await forger.send("RP0;w=ana@a.test;b=bo@b.test;at=6.6.6.6:666", a.at);
  assertEquals((await ana.status()).reply.text, "RS0;p=1/1;b=off,,,bo@b.test");
  assertEquals(await ana.mark(), off.mark);

  assertEquals((await a.stop()).code, 0);
  assertEquals((await b.stop()).code, 0);
  const from = `${a.at.ip}:UDP:${a.at.port}`;
  const probe = `PR.lumi-probe@b.test;v=2;${PROBE_PADDING}`;
  const query = `PPbo@b.test;w=ana@a.test;${PROBE_PADDING}`;
  // b.test's log between the two nodes: one probe, then presence queries, each answered,
  // at most one per heartbeat interval of ana's.
  const text = (line: string) => line.split(", ")[1]!;
  const lines = (await b.log()).filter((l) => l.includes(from));
  const asked = lines.filter((l) => l.startsWith("R: ")).map(text).filter((t) => /^P[RP]/.test(t));
  const answered = lines.filter((l) => l.startsWith("E: ")).map(text).filter((t) =>
    /^R[RP]/.test(t)
  );
  assertEquals(asked[0], probe);
  assertEquals(asked.slice(1), asked.slice(1).map(() => query));
  assertEquals(answered[0], "RR1;v=2;e=user");
  assertEquals(answered.length, asked.length);
  assertEquals(
    new Set(answered.slice(1)),
    new Set([`RP0;w=ana@a.test;b=bo@b.test;at=${bo.at}`, "RP3;w=ana@a.test;b=bo@b.test"]),
  );
  const queries = asked.length - 1;
  assert(queries <= on.beats + off.beats + 1, `${queries} queries in ${on.beats + off.beats} s`);
  assertEquals(forger.pending, []);
});

Deno.test("a remote domain with an original node: probed once, never sent a presence query, its users shown as ?", async () => {
  await using original = UdpPeer.open("original node of orig.test", "127.0.77.3");
  await using a = await ExtNode.start({
    domain: "a.test",
    users: ["ana"],
    limits: { heartbeat: 1 },
    domains: { "orig.test": `${original.local.ip}:${original.local.port}` },
  });
  await using ana = ExtAgent.open("ana@a.test", a.at);
  assertSession(await ana.register(), { ...DEFAULTS, hb: 1 });
  assertEquals((await ana.buddy("add", "olga@orig.test")).text, "RB0");
  assertEquals((await ana.status()).reply.text, "RS0;p=1/1;b=?,,,olga@orig.test");

  const probe = await original.receive();
  assertEquals(
    { text: probe.text, from: probe.from },
    { text: `PR.lumi-probe@orig.test;v=2;${PROBE_PADDING}`, from: a.at },
  );
  assert(probe.text.length <= 100, "the probe fits an original node's 100 bytes");
  await original.send("RR1", a.at);
  // Three heartbeat intervals (each asks for presence again once stale): nothing more reaches it.
  const mark = await ana.mark();
  for (let beat = 0; beat < 3; beat++) {
    await idle(1_000, original, ana);
    assertEquals(await ana.mark(), mark);
  }
  assertEquals((await ana.status()).reply.text, "RS0;p=1/1;b=?,,,olga@orig.test");
  await idle(100, original);
});

Deno.test("sign-ups are bounded per source IP (RU3;e=rate past signups-per-hour); a copy of an accepted one is still RU0", async () => {
  await using node = await ExtNode.start({
    users: ["joan"],
    accounts: { "open-signup": "yes", "signups-per-hour": "3" },
  });
  await using first = UdpPeer.open("first source", "127.0.104.1");
  await using second = UdpPeer.open("second source", "127.0.104.2");
  const salt = toBase64Url(new Uint8Array(16).fill(3));
  const key = toBase64Url(new Uint8Array(32).fill(4));
  const signUp = (peer: UdpPeer, name: string) =>
    peer.request(`PU${name}@ext.test;s=${salt};i=100000;k=${key}`, node.at).then((r) => r.text);

  for (const name of ["a1", "a2", "a3"]) assertEquals(await signUp(first, name), "RU0", name);
  assertEquals(await signUp(first, "a4"), "RU3;e=rate");
  assertEquals(await signUp(first, "a3"), "RU0", "a retransmission of an accepted sign-up");
  assertEquals(await signUp(first, "joan"), "RU1;e=taken");
  // Another address has its own share, from another port of the first address none.
  assertEquals(await signUp(second, "b1"), "RU0");
  await using again = UdpPeer.open("first source, another port", "127.0.104.1");
  assertEquals(await signUp(again, "a5"), "RU3;e=rate");
  // The refused names were not created: a registration finds no such user.
  assertEquals(
    (await first.request(padded("PRa4@ext.test;v=2"), node.at)).text,
    "RR1;v=2;e=user",
  );
  assertEquals([first.pending, second.pending, again.pending], [[], [], []]);
});

Deno.test("the shipped example nodelumi.cfg keeps sign-up closed, as the default and SECURITY.md say", async () => {
  const example = await Deno.readTextFile(new URL("../nodelumi.cfg", import.meta.url));
  const config = parseConfig(example);
  assertEquals(config.accounts?.openSignup ?? false, false);
  await using node = await ExtNode.start({ users: ["joan"] });
  await using nuria = ExtAgent.open("nuria@ext.test", node.at);
  assertEquals((await nuria.signUp("pw")).text, "RU3;e=closed");
});

// ---------------------------------------------------------------------------
// Who is online.

Deno.test("who is online is paged within 512 bytes and lists every online user exactly once; RO1;e=off when turned off", async () => {
  const long = (i: number) => `user-${String(i).padStart(2, "0")}-`.padEnd(64, "abcdefghij");
  const extended = Array.from({ length: 40 }, (_, i) => long(i));
  const users = [...extended, "orig", "off1", "off2"];
  await using node = await ExtNode.start({ users });
  await using agents = UdpPeer.open("40 extended agents");
  await using orig = UdpPeer.open("original agent");
  let session = new TestAgent("");
  for (const name of extended) {
    const agent = new TestAgent(`${name}@ext.test`);
    const reply = parseReply((await agents.request(padded(agent.hello()), node.at)).text);
    assertSession(reply, DEFAULTS);
    session = agent.keep(reply.text);
  }
  await exchange(orig, node.at, "PRorig@ext.test", "RR0");
  const me = extended.at(-1)!;

  const seen: string[] = [];
  const first = parseReply((await agents.request(session.seal(`PO${me}@ext.test`), node.at)).text);
  const pages = Number(value(first, "p")!.split("/")[1]);
  assert(pages >= 5, `${pages} pages`);
  // Paged by number, every page but the last holds as many names as fit when all are of the
  // longest online name's length: 7 of 64 bytes ("RO0;p=N/N" + 7 × ";u=<64>" = 478 bytes).
  for (let page = 1; page <= pages; page++) {
    const got = await agents.request(session.seal(`PO${me}@ext.test;p=${page}`), node.at);
    assert(got.bytes.length <= 512, `page ${page}: ${got.bytes.length} bytes`);
    const reply = parseReply(got.text);
    assertEquals(reply.head, "RO0");
    assertEquals(reply.params[0], `p=${page}/${pages}`);
    if (page === 1) assertEquals(reply.text, first.text);
    if (page < pages) assertEquals(reply.params.length - 1, 7, `page ${page}: ${reply.text}`);
    for (const param of reply.params.slice(1)) {
      assert(param.startsWith("u="), param);
      seen.push(param.slice(2));
    }
  }
  assertEquals(seen.length, 41, "no user twice");
  assertEquals(seen.toSorted(), [...extended, "orig"].toSorted());
  // Beyond the last page: the last page.
  const beyond = await agents.request(session.seal(`PO${me}@ext.test;p=99`), node.at);
  assertEquals(parseReply(beyond.text).params[0], `p=${pages}/${pages}`);
  assertEquals([agents.pending, orig.pending], [[], []]);

  await using closed = await ExtNode.start({ users: ["laura"], accounts: { "online-list": "no" } });
  await using laura = ExtAgent.open("laura@ext.test", closed.at);
  assertSession(await laura.register(), { ...DEFAULTS, ol: 0 });
  assertEquals((await laura.request(laura.seal(`POlaura@ext.test`))).text, "RO1;e=off");
});

// ---------------------------------------------------------------------------
// Amplification.

Deno.test("no amplification: every answer to an unregistered source is at most one byte longer than its request", async () => {
  await using node = await ExtNode.start({
    users: ["laura", "joan"],
    passwords: { laura: "pw" },
    accounts: { "open-signup": "yes" },
    domains: { "far.test": "127.0.77.9:3344" },
  });
  await using stranger = UdpPeer.open("stranger");
  const key = toBase64Url(new Uint8Array(32));
  const salt = toBase64Url(new Uint8Array(16));
  // [request, its exact answer or null for none]. After each, a sentinel whose answer is known
  // (an original PR of no user: RR1) shows that nothing else came back.
  const SENTINEL = "PRnobody@ext.test";
  const table: Array<[string, string | null]> = [
    [`PRlaura@ext.test;v=2;k=${key}`, "RR1;v=2;e=pad"],
    ["PRlaura@ext.test;v=2", "RR1;v=2;e=invalid"], // no session key
    ["PRnobody@ext.test;v=2", "RR1;v=2;e=user"],
    ["PRa@b.c;v=2", null], // RR1;v=2;e=user would be 14 bytes for 11
    [`PR.lumi-probe@ext.test;v=2;${PROBE_PADDING}`, "RR1;v=2;e=user"],
    ["PDlaura@ext.test;v=2", "RD0;v=2"], // offline already: nothing to undo
    ["PDnobody@ext.test;v=2", "RD1;v=2;e=user"],
    ["PDa@b.c;v=2", null],
    ["PKlaura@ext.test;t=x", "RK1"],
    ["PKa@b", "RK1"],
    ["PBlaura@ext.test;t=x;op=add;b=joan@ext.test", "RB1;e=auth"],
    ["PBa@b.c", null],
    ["PSlaura@ext.test", "RS1;e=auth"],
    ["PSa@b.c", null],
    ["POlaura@ext.test", "RO1;e=auth"],
    ["POa@b.c", null],
    [`PUmarta@ext.test;s=${salt};i=100000;k=${key}`, "RU0"],
    [`PUmarta@ext.test;s=${salt};i=100000;k=${key}`, "RU0"], // a copy: the same answer
    [`PUmarta@ext.test;s=${salt};i=100001;k=${key}`, "RU1;e=taken"],
    ["PUa@ext.test", "RU2;e=invalid"], // 13 bytes for 12: within the bound of one byte
    ["PUa@ex.test", null], // RU2;e=invalid would be 13 bytes for 11
    ["PUab@ext.test", "RU2;e=invalid"],
    ["PPlaura@ext.test;w=x@far.test", null], // not from far.test's node
    ["RP0;w=laura@ext.test;b=joan@far.test;at=1.2.3.4:5", null],
    ["RK0;c=1", null],
    [padded(`PRlaura@ext.test;v=2;k=${key.slice(0, 43)}`), "challenge"],
  ];
  for (const [request, expected] of table) {
    await stranger.send(request, node.at);
    if (expected !== null) {
      const got = await stranger.receive();
      assertEquals(got.from, node.at);
      if (expected === "challenge") challengeOf(parseReply(got.text));
      else assertEquals(got.text, expected, request);
      assert(got.text.length <= request.length + 1, `${got.text} answers ${request}`);
    }
    await stranger.send(SENTINEL, node.at);
    const sentinel = await stranger.receive();
    assertEquals([sentinel.text, sentinel.from], ["RR1", node.at], `nothing more after ${request}`);
  }
  assertEquals(stranger.pending, []);
});

/** A free UDP port on `ip` (bound and released: another process could take it in between). */
async function freePort(ip: string): Promise<number> {
  await using probe = UdpPeer.open("probe", ip);
  return probe.local.port;
}
