/**
 * Hardening, part 4: crash safety. The node is killed with SIGKILL at random
 * moments, fifty times, while the console adds and removes users and sets
 * passwords, agents sign up and add buddies, and a load of registrations
 * and look-ups goes on. After every kill, every change the node confirmed
 * (the console's "(saved)", an `RU0`, an `RB0`) must be there when it
 * restarts, and no file may be corrupt: the configuration parses, the state
 * file parses or is absent, the account database opens. And a corrupt file
 * must stop the start with a clear message and exit code 2, never give a
 * silently empty node.
 *
 * The seed is printed; `CRASH_SEED=<n>` replays the choice of operations and
 * kill moments (the moments themselves still fall where the scheduler puts
 * them).
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import {
  createCredentials,
  deriveClientKey,
  fromBase64Url,
  type StoredCredentials,
  toBase64Url,
} from "../lib/auth.ts";
import { loadConfig } from "../lib/node/config_file.ts";
import { MemoryDirectory } from "../lib/node/memory_directory.ts";
import { loadState } from "../lib/node/state.ts";
import { AccountStore } from "../lib/node/store.ts";
import { TestAgent } from "../lib/node/test_agent.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { padded, parseReply, value } from "./support/ext_agent.ts";
import { failedStart, NodeProcess, ScratchDir } from "./support/node_harness.ts";
import { Random, randomSeed } from "./support/plumi_fuzz.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const CYCLES = 50;

function readSeed(): number {
  const granted = Deno.permissions.querySync({ name: "env", variable: "CRASH_SEED" }).state ===
    "granted";
  const text = granted ? Deno.env.get("CRASH_SEED") : undefined;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) >>> 0 : randomSeed();
}

const SEED = readSeed();
console.log(`crash seed ${SEED} (replay: CRASH_SEED=${SEED} deno task test tests/crash_test.ts)`);

/** What the test knows of one thing the node keeps: confirmed there, confirmed gone, or unknown. */
type Known = "present" | "absent" | "unknown";

/** The administrator's and the users' changes, as far as the node confirmed them. */
class Model {
  /** Users of nodelumi.cfg added or removed on the console. */
  readonly configUsers = new Map<string, Known>();
  /** Accounts created by sign-up. */
  readonly accounts = new Map<string, Known>();
  /** Passwords set on the console: user → the passwords it may have (the first confirmed). */
  readonly passwords = new Map<string, { confirmed: string | undefined; maybe: string[] }>();
  /** Buddies added by signed-up users (`owner buddy`). */
  readonly buddies = new Map<string, Known>();
  /** Changes confirmed and not checked after a restart yet. */
  readonly unchecked = new Set<string>();
  nextUser = 0;
  nextAccount = 0;
  /** Counters for the report. */
  readonly confirmed = { adds: 0, removes: 0, passwords: 0, signUps: 0, buddies: 0 };
}

/** Everything a cycle needs to talk to one running node. */
interface Cycle {
  readonly node: NodeProcess;
  readonly random: Random;
  readonly stop: AbortSignal;
}

const CREDENTIAL_ITERATIONS = 100_000;

/**
 * A UDP request with a short wait: a killed node answers nothing, and the
 * test moves on — at once when `stop` aborts.
 */
async function ask(
  peer: UdpPeer,
  packet: string,
  node: Endpoint,
  options: { timeoutMs?: number; stop?: AbortSignal } = {},
): Promise<string | undefined> {
  if (options.stop?.aborted) return undefined;
  const stopped = new Promise<undefined>((resolve) => {
    options.stop?.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  const answered = (async () => {
    await peer.send(packet, node);
    for (;;) {
      const answer = await peer.receive(options.timeoutMs ?? 700);
      if (answer.from.port === node.port) return answer.text;
    }
  })().catch(() => undefined);
  return await Promise.race([answered, stopped]);
}

/** Log in a signed-up user with a proof; its agent (holding the session), or undefined. */
async function login(
  peer: UdpPeer,
  node: Endpoint,
  name: string,
  clientKey: Uint8Array<ArrayBuffer>,
  stop: AbortSignal,
): Promise<TestAgent | undefined> {
  const agent = new TestAgent(`${name}@bb.com`);
  const challenge = await ask(peer, padded(agent.hello()), node, { stop });
  if (challenge === undefined) return undefined;
  const nonce = value(parseReply(challenge), "n");
  if (nonce === undefined) throw new Error(`no challenge for ${name}: ${challenge}`);
  const granted = await ask(peer, padded(await agent.proofWith(clientKey, nonce)), node, { stop });
  if (granted === undefined) return undefined;
  if (!granted.startsWith("RR0")) throw new Error(`${name} did not log in: ${granted}`);
  return agent.keep(granted);
}

/** Registrations and look-ups from three sockets, about 1,500 a second, until `stop`. */
async function load(node: Endpoint, stop: AbortSignal): Promise<void> {
  const peers = [0, 1, 2].map((i) => UdpPeer.open(`load ${i}`));
  try {
    let n = 0;
    while (!stop.aborted) {
      const tick = performance.now();
      await Promise.all(peers.map((peer, i) => {
        const packets = [
          `PRu${i}@bb.com`,
          `PLu${i}@bb.com:u${(i + 1) % 3}@bb.com`,
          `RL0u${(i + 2) % 3}@bb.com:u${i}@bb.com:127.0.0.1:${4000 + i}`,
          `PLu${i}@bb.com:nobody${n}@bb.com`,
          `PDu${i}@bb.com`,
        ];
        return Promise.all(packets.map((p) => peer.send(p, node).catch(() => {})));
      }));
      n++;
      const left = 10 - (performance.now() - tick);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    }
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
}

/** Random administrator and user changes until `stop`; records what was confirmed. */
async function work(
  cycle: Cycle,
  model: Model,
  credentials: StoredCredentials,
  clientKey: Uint8Array<ArrayBuffer>,
): Promise<void> {
  const { node, random, stop } = cycle;
  const consoleOps = async () => {
    while (!stop.aborted) {
      const present = [...model.configUsers].filter(([, k]) => k === "present").map(([n]) => n);
      const choice = random.int(10);
      let name: string;
      let command: string;
      let confirm: RegExp;
      let onConfirm: () => void;
      let onSent: () => void;
      if (choice < 6 || present.length === 0) {
        name = `c${model.nextUser++}`;
        command = `add ${name}`;
        confirm = new RegExp(`^Added ${name}@bb\\.com \\(saved\\)$`);
        onSent = () => model.configUsers.set(name, "unknown");
        onConfirm = () => {
          model.configUsers.set(name, "present");
          model.confirmed.adds++;
        };
      } else if (choice < 8) {
        name = random.pick(present);
        command = `del ${name}`;
        confirm = new RegExp(`^Removed ${name}@bb\\.com \\(saved\\)$`);
        onSent = () => model.configUsers.set(name, "unknown");
        onConfirm = () => {
          model.configUsers.set(name, "absent");
          model.confirmed.removes++;
        };
      } else {
        name = `u${random.int(3)}`;
        const password = `pw-${SEED}-${model.nextUser++}`;
        command = `passwd ${name} ${password}`;
        confirm = new RegExp(`^Password set for ${name}@bb\\.com \\(saved\\)$`);
        const entry = model.passwords.get(name) ?? { confirmed: undefined, maybe: [] };
        model.passwords.set(name, entry);
        onSent = () => entry.maybe.unshift(password);
        onConfirm = () => {
          entry.confirmed = password;
          entry.maybe = [password];
          model.confirmed.passwords++;
        };
      }
      onSent();
      model.unchecked.add(`cfg ${name}`);
      try {
        await node.command(command, confirm, 5_000);
      } catch {
        return; // killed: whether it was saved is for the restart to say
      }
      onConfirm();
    }
  };
  const userOps = async () => {
    await using peer = UdpPeer.open("user");
    const salt = toBase64Url(credentials.salt);
    const key = toBase64Url(credentials.storedKey);
    while (!stop.aborted) {
      const signedUp = [...model.accounts].filter(([, k]) => k === "present").map(([n]) => n);
      if (random.chance(0.7) || signedUp.length < 2) {
        const name = `s${model.nextAccount++}`;
        model.accounts.set(name, "unknown");
        model.unchecked.add(`account ${name}`);
        const signUp = `PU${name}@bb.com;s=${salt};i=${CREDENTIAL_ITERATIONS};k=${key}`;
        const answer = await ask(peer, signUp, node.at, { stop });
        if (answer === undefined) return;
        strictEqual(answer, "RU0", `sign-up of ${name}`);
        model.accounts.set(name, "present");
        model.confirmed.signUps++;
      } else {
        const owner = random.pick(signedUp);
        const buddy = `${random.pick(signedUp.filter((n) => n !== owner))}@bb.com`;
        const session = await login(peer, node.at, owner, clientKey, stop);
        if (session === undefined) return;
        const pair = `${owner} ${buddy}`;
        if (model.buddies.get(pair) === "present") continue;
        model.buddies.set(pair, "unknown");
        model.unchecked.add(`buddy ${pair}`);
        const add = session.seal(`PB${owner}@bb.com;op=add;b=${buddy}`);
        const answer = await ask(peer, add, node.at, { stop });
        if (answer === undefined) return;
        strictEqual(answer, "RB0", `buddy ${pair}`);
        model.buddies.set(pair, "present");
        model.confirmed.buddies++;
      }
    }
  };
  await Promise.all([consoleOps(), userOps()]);
}

/** Check the files of a stopped node: each one parses, and holds every confirmed change. */
async function checkFiles(dir: ScratchDir, model: Model): Promise<void> {
  const { config } = await loadConfig(dir.file("nodelumi.cfg"));
  const users = new Set(config.users);
  for (const [name, known] of model.configUsers) {
    if (known === "unknown") model.configUsers.set(name, users.has(name) ? "present" : "absent");
    else strictEqual(users.has(name), known === "present", `${name} is ${known} in nodelumi.cfg`);
  }
  // The state file parses (or is absent); restoring it into the directory succeeds.
  await loadState(dir.file("nodelumi-bb.com.state"), new MemoryDirectory(config.users));
}

/** Check, through a running node, the accounts, passwords and buddies changed since the last check. */
async function checkAccounts(
  node: NodeProcess,
  model: Model,
  salt: string,
  everything: boolean,
): Promise<number> {
  await using peer = UdpPeer.open("checker");
  let checked = 0;
  const agents = new Map<string, TestAgent>();
  const agentOf = (name: string) => {
    const agent = agents.get(name) ?? new TestAgent(`${name}@bb.com`);
    agents.set(name, agent);
    return agent;
  };
  const challengeOf = async (name: string) => {
    const hello = padded(agentOf(name).hello());
    const text = await ask(peer, hello, node.at, { timeoutMs: 3_000 });
    if (text === undefined) throw new Error(`no answer about ${name}`);
    return parseReply(text);
  };
  for (const [name, known] of model.accounts) {
    if (!everything && !model.unchecked.has(`account ${name}`)) continue;
    const reply = await challengeOf(name);
    const exists = reply.head === "RR1" && value(reply, "e") === "auth";
    if (exists) strictEqual(value(reply, "s"), salt, `${name}'s salt`);
    else deepStrictEqual(reply.params, ["v=2", "e=user"], `${name}: ${reply.text}`);
    if (known === "unknown") model.accounts.set(name, exists ? "present" : "absent");
    else strictEqual(exists, known === "present", `account ${name} is ${known}`);
    checked++;
  }
  for (const [name, entry] of model.passwords) {
    if (!everything && !model.unchecked.has(`cfg ${name}`)) continue;
    const reply = await challengeOf(name);
    if (reply.head === "RR0") {
      // No password: only possible if none was ever confirmed.
      strictEqual(entry.confirmed, undefined, `${name} lost its password`);
      await ask(peer, agentOf(name).keep(reply.text).seal(`PD${name}@bb.com;v=2`), node.at);
      continue;
    }
    strictEqual(value(reply, "e"), "auth", reply.text);
    const salt = fromBase64Url(value(reply, "s")!)!;
    const iterations = Number(value(reply, "i"));
    let matched: string | undefined;
    for (const password of entry.maybe) {
      // The stored key is not on the wire; a proof is: log in with the password.
      const key = await deriveClientKey(password, salt, iterations);
      const nonce = value(await challengeOf(name), "n")!;
      // `replace`: an original agent's registration of this user may be online (restored from the
      // state after a kill, or held while the password was set); the check is of the password.
      const login = padded(await agentOf(name).proofWith(key, nonce, ";replace"));
      const answer = await ask(peer, login, node.at, { timeoutMs: 3_000 });
      if (answer?.startsWith("RR0;")) {
        matched = password;
        await ask(peer, agentOf(name).keep(answer).seal(`PD${name}@bb.com;v=2`), node.at);
        break;
      }
    }
    ok(matched !== undefined, `none of ${name}'s passwords works (confirmed ${entry.confirmed})`);
    // A later password may have been saved without its "(saved)" being seen; never an earlier one.
    if (entry.confirmed !== undefined) {
      ok(
        entry.maybe.indexOf(matched!) <= entry.maybe.indexOf(entry.confirmed),
        `${name}: ${matched} is older than the confirmed ${entry.confirmed}`,
      );
    }
    entry.confirmed = matched;
    entry.maybe = [matched!];
    checked++;
  }
  const owners = new Set([...model.buddies.keys()].map((pair) => pair.split(" ")[0]!));
  for (const owner of owners) {
    const pairs = [...model.buddies].filter(([pair]) => pair.startsWith(`${owner} `));
    if (!everything && !pairs.some(([pair]) => model.unchecked.has(`buddy ${pair}`))) continue;
    const from = node.child.lines.length;
    await node.child.send(`buddies ${owner}`);
    await node.child.waitFor(/^ {2}\S+@bb\.com$|has no buddies$/, { from });
    // The answer is complete once the next command's answer comes.
    await node.command("online", /^\d+ users, \d+ online$/);
    const listed = new Set(
      node.child.lines.slice(from).filter((l) => /^ {2}\S+@bb\.com$/.test(l)).map((l) => l.trim()),
    );
    for (const [pair, known] of pairs) {
      const buddy = pair.split(" ")[1]!;
      if (known === "unknown") model.buddies.set(pair, listed.has(buddy) ? "present" : "absent");
      else strictEqual(listed.has(buddy), known === "present", `buddy ${pair} is ${known}`);
      checked++;
    }
  }
  model.unchecked.clear();
  return checked;
}

Deno.test(`${CYCLES} kill -9 at random moments under load: every confirmed change survives, no file is corrupt`, async () => {
  await using dir = await ScratchDir.create("crash", {
    "nodelumi.cfg": [
      "; crash test",
      "domain = bb.com",
      "[limits]",
      "rate-limit = 0",
      "[accounts]",
      "open-signup = yes",
      "signups-per-hour = 0", // the load signs up far more accounts than a stranger may
      "[users]",
      "u0 u1 u2",
      "",
    ].join("\n"),
  });
  const random = new Random(SEED);
  const model = new Model();
  const credentials = await createCredentials("signed up", CREDENTIAL_ITERATIONS);
  const clientKey = await deriveClientKey("signed up", credentials.salt, CREDENTIAL_ITERATIONS);
  const salt = toBase64Url(credentials.salt);
  const started = performance.now();
  const kills = { duringWork: 0, duringShutdown: 0 };
  let checked = 0;
  let leftovers = 0;

  for (let n = 0; n < CYCLES; n++) {
    let node: NodeProcess;
    try {
      node = await NodeProcess.start(dir.path);
    } catch (error) {
      throw new Error(`cycle ${n}: the node did not restart after a kill`, { cause: error });
    }
    await using _node = node;
    checked += await checkAccounts(node, model, salt, false);

    // Work under load, and a kill at a random moment of it.
    const stop = new AbortController();
    const loading = load(node.at, stop.signal);
    const working = work({ node, random, stop: stop.signal }, model, credentials, clientKey);
    await new Promise((resolve) => setTimeout(resolve, 20 + random.int(400)));
    if (random.chance(0.25)) {
      // In the middle of a clean shutdown (state file, log, database being closed).
      kills.duringShutdown++;
      node.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, random.int(30)));
    } else kills.duringWork++;
    node.child.kill("SIGKILL");
    stop.abort();
    await node.child.exited();
    await Promise.all([loading, working]);

    await checkFiles(dir, model);
    leftovers = (await dir.files()).filter((f) => f.includes(".tmp-")).length;
  }

  // The last restart: check everything, then the database once more, opened directly.
  {
    await using node = await NodeProcess.start(dir.path);
    checked += await checkAccounts(node, model, salt, true);
    strictEqual((await node.stop("SIGTERM")).code, 0);
  }
  await checkFiles(dir, model);
  {
    using store = AccountStore.open(dir.file("nodelumi-bb.com.db"));
    const names = new Set(store.accounts().map((a) => a.name));
    for (const [name, known] of model.accounts) {
      strictEqual(names.has(name), known === "present", `account ${name}`);
    }
  }
  console.log(
    `${CYCLES} kills in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(${kills.duringWork} while working, ${kills.duringShutdown} while shutting down); confirmed: ` +
      `${JSON.stringify(model.confirmed)}; ${checked} checks after restarts; ` +
      `${leftovers} temporary files left by writes the kill interrupted`,
  );
  ok(model.confirmed.adds > CYCLES / 2 && model.confirmed.signUps > CYCLES / 2, "work was done");
});

Deno.test("a corrupt configuration, state file or account database stops the start with exit code 2 and says which", async () => {
  const config = "domain = bb.com\n[accounts]\nopen-signup = yes\n[users]\nlaura joan\n";
  await using dir = await ScratchDir.create("corrupt", { "nodelumi.cfg": config });
  // A real database and state file to damage: one account, one registration.
  {
    await using node = await NodeProcess.start(dir.path);
    const credentials = await createCredentials("pw", CREDENTIAL_ITERATIONS);
    await using peer = UdpPeer.open("agent");
    const signUp = `PUnuria@bb.com;s=${
      toBase64Url(credentials.salt)
    };i=${CREDENTIAL_ITERATIONS};k=${toBase64Url(credentials.storedKey)}`;
    strictEqual(await ask(peer, signUp, node.at), "RU0");
    strictEqual(await ask(peer, "PRlaura@bb.com", node.at), "RR0");
    strictEqual((await node.stop("SIGTERM")).code, 0);
  }
  const good = {
    "nodelumi.cfg": await Deno.readFile(dir.file("nodelumi.cfg")),
    "nodelumi-bb.com.state": await Deno.readFile(dir.file("nodelumi-bb.com.state")),
    "nodelumi-bb.com.db": await Deno.readFile(dir.file("nodelumi-bb.com.db")),
  };
  ok(good["nodelumi-bb.com.db"].length >= 8192, "a database of several pages");
  const random = new Random(SEED);
  const garbage = (length: number) => random.bytes(length);
  const db = good["nodelumi-bb.com.db"];
  const damaged = (at: number, length: number) => {
    const copy = db.slice();
    copy.set(garbage(length), at);
    return copy;
  };
  const cases: Array<[string, keyof typeof good, Uint8Array, RegExp]> = [
    ["config: random bytes", "nodelumi.cfg", garbage(300), /^nodelumi\.cfg: line \d+: /],
    [
      "config: a line that is no setting",
      "nodelumi.cfg",
      new TextEncoder().encode(config.replace("[users]", "[users\n")),
      /^nodelumi\.cfg: line 4: /,
    ],
    [
      "state: random bytes",
      "nodelumi-bb.com.state",
      garbage(200),
      /^The state file nodelumi-bb\.com\.state is corrupt \(not JSON\); move it away/,
    ],
    [
      "state: cut short",
      "nodelumi-bb.com.state",
      good["nodelumi-bb.com.state"].slice(0, 20),
      /^The state file nodelumi-bb\.com\.state is corrupt \(not JSON\)/,
    ],
    [
      "state: another layout",
      "nodelumi-bb.com.state",
      new TextEncoder().encode('{"version":2,"online":{}}\n'),
      /^The state file nodelumi-bb\.com\.state is corrupt \(unknown layout\)/,
    ],
    [
      "state: a bad entry",
      "nodelumi-bb.com.state",
      new TextEncoder().encode('{"version":1,"online":[["laura","1.2.3.4:99999",1]]}\n'),
      /^The state file nodelumi-bb\.com\.state is corrupt \(bad entry for laura\)/,
    ],
    [
      "database: random bytes",
      "nodelumi-bb.com.db",
      garbage(8192),
      /^The account database nodelumi-bb\.com\.db cannot be used \(.*\)\. Restore it from a backup, or move it away/,
    ],
    [
      "database: header overwritten",
      "nodelumi-bb.com.db",
      damaged(0, 100),
      /^The account database nodelumi-bb\.com\.db cannot be used \(file is not a database\)/,
    ],
    [
      "database: cut in half",
      "nodelumi-bb.com.db",
      db.slice(0, db.length >> 1),
      /^The account database nodelumi-bb\.com\.db cannot be used \(/,
    ],
    // Every page of the file, overwritten in turn (the integrity check at start sees each).
    ...Array.from({ length: db.length / 4096 }, (_, page) =>
      [
        `database: page ${page + 1} overwritten`,
        "nodelumi-bb.com.db",
        damaged(page * 4096, 4096),
        /^The account database nodelumi-bb\.com\.db cannot be used \(/,
      ] as [string, keyof typeof good, Uint8Array, RegExp]),
  ];
  for (const [what, file, bytes, message] of cases) {
    for (const [name, data] of Object.entries(good)) await dir.write(name, data);
    await dir.write(file, bytes);
    const result = await failedStart(dir.path);
    strictEqual(result.code, 2, `${what}: exit code`);
    deepStrictEqual(result.stdout, [], `${what}: no start line`);
    strictEqual(result.stderr.length, 1, `${what}: ${result.stderr.join("\n")}`);
    ok(message.test(result.stderr[0]!), `${what}: ${result.stderr[0]}`);
    // The damaged file is left as it was, for the administrator to look at.
    deepStrictEqual(await Deno.readFile(dir.file(file)), bytes, `${what}: file untouched`);
  }
  // And with the good files back, the node starts with its account and registration.
  for (const [name, data] of Object.entries(good)) await dir.write(name, data);
  await using node = await NodeProcess.start(dir.path);
  strictEqual(node.startInfo, "3 users, 1 online restored");
});

/** Users of the registration crash test, and the sockets that register them. */
const REG_USERS = 600;
const REG_SOCKETS = 8;
const REG_CYCLES = 6;
/** The window the README promises: a registration acknowledged this long before a crash survives it. */
const DURABLE_AFTER_MS = 1_000;

/** What the test knows of one user's registration. */
interface RegKnown {
  /** The states acknowledged since the last restart, oldest first: `ip:port`, or null (offline). */
  history: { at: string | null; ackedAt: number }[];
  /** A request under way: what it would make the state. */
  inFlight?: string | null;
}

/** Send `packet` from `peer` and wait for an answer starting with `head` (other datagrams are skipped). */
async function answer(
  peer: UdpPeer,
  packet: string,
  node: Endpoint,
  head: string,
  stop: AbortSignal,
): Promise<string | undefined> {
  await peer.send(packet, node).catch(() => {});
  const deadline = performance.now() + 700;
  while (!stop.aborted) {
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    const received = await peer.receive(left).catch(() => undefined);
    if (received === undefined) return undefined;
    if (received.from.port === node.port && received.text.startsWith(head)) return received.text;
  }
  return undefined;
}

Deno.test(`${REG_CYCLES} kill -9 under registration load: every registration acknowledged more than 1 s before the kill survives`, async () => {
  const users = Array.from({ length: REG_USERS }, (_, i) => `r${i}`);
  await using dir = await ScratchDir.create("crash-registrations", {
    "nodelumi.cfg": `domain = bb.com\n[limits]\nrate-limit = 0\n[users]\n${users.join(" ")}\n`,
  });
  const random = new Random(SEED ^ 0x5eed);
  const known = new Map<string, RegKnown>(
    users.map((name) => [name, { history: [{ at: null, ackedAt: 0 }] }]),
  );
  const peers = Array.from({ length: REG_SOCKETS }, (_, i) => UdpPeer.open(`registrar ${i}`));
  const started = performance.now();
  let strict = 0;
  let loose = 0;
  let acks = 0;
  try {
    for (let cycle = 0; cycle < REG_CYCLES; cycle++) {
      await using node = await NodeProcess.start(dir.path, ["--no-database", "--no-log"]);
      const stop = new AbortController();
      // Each socket registers offline users and deregisters those it holds, 50 times a second.
      const loops = peers.map(async (peer) => {
        const me = `${peer.local.ip}:${peer.local.port}`;
        while (!stop.signal.aborted) {
          const name = users[random.int(users.length)]!;
          const entry = known.get(name)!;
          const now = entry.history.at(-1)!.at;
          if (entry.inFlight !== undefined || (now !== null && now !== me)) continue;
          const target = now === null ? me : null;
          entry.inFlight = target;
          const reply = target === null
            ? await answer(peer, `PD${name}@bb.com`, node.at, "RD", stop.signal)
            : await answer(peer, `PR${name}@bb.com`, node.at, "RR", stop.signal);
          if (reply === undefined) continue; // killed: the restart says which it was
          strictEqual(reply, target === null ? "RD0" : "RR0", `${name}: ${reply}`);
          entry.history.push({ at: target, ackedAt: performance.now() });
          delete entry.inFlight;
          acks++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
      // A kill at a random moment: mostly before the first snapshot (5 s), sometimes after it.
      await new Promise((resolve) => setTimeout(resolve, 1_200 + random.int(5_800)));
      const killedAt = performance.now();
      node.child.kill("SIGKILL");
      stop.abort();
      await node.child.exited();
      await Promise.all(loops);
      for (const name of await dir.files()) {
        if (!/\.state$|\.journal\.\d+$/.test(name)) continue;
        const mode = (await Deno.stat(dir.file(name))).mode! & 0o777;
        strictEqual(mode, 0o600, `${name} is readable by its owner only`);
      }

      await using restarted = await NodeProcess.start(dir.path, ["--no-database", "--no-log"]);
      const { users: listed } = await restarted.list();
      for (const [name, entry] of known) {
        const shown = listed.get(name);
        const at = shown?.startsWith("online ") ? shown.slice(7) : null;
        // The last state acknowledged long enough before the kill must be there, or a later one.
        const { history } = entry;
        let durable = history.length - 1;
        while (durable > 0 && history[durable]!.ackedAt >= killedAt - DURABLE_AFTER_MS) durable--;
        const last = history[durable]!;
        if (durable === history.length - 1 && entry.inFlight === undefined) {
          strictEqual(
            at,
            last.at,
            `${name}, acknowledged ${(killedAt - last.ackedAt).toFixed(0)} ms before the kill`,
          );
          strict++;
        } else {
          const allowed = [...history.slice(durable).map((h) => h.at), entry.inFlight];
          ok(allowed.includes(at), `${name} is ${at}, none of ${allowed.join(", ")}`);
          loose++;
        }
        entry.history = [{ at, ackedAt: 0 }];
        delete entry.inFlight;
      }
      strictEqual((await restarted.stop("SIGTERM")).code, 0);
    }
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
  console.log(
    `${REG_CYCLES} kills in ${((performance.now() - started) / 1000).toFixed(1)} s: ${acks} ` +
      `registrations and deregistrations acknowledged; ${strict} checked exactly (older than ` +
      `${DURABLE_AFTER_MS} ms at the kill), ${loose} newer or in flight`,
  );
  ok(strict > REG_CYCLES * 100, "most users were checked exactly");
});
