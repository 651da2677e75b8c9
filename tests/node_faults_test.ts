/**
 * The node against faults of its own files: a locked, immutable or full
 * account database, another program's database, files that are not regular
 * files, a second node on the same files, a hand edit of nodelumi.cfg, and
 * SIGHUP. Real node processes, real files, real UDP on 127.0.102.x.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import { DatabaseSync } from "node:sqlite";
import type { Endpoint } from "../lib/plumi/address.ts";
import { ExtAgent } from "./support/ext_agent.ts";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const DB = "nodelumi-bb.com.db";

const CONFIG = [
  "domain = bb.com",
  "state = off",
  "log = off",
  "[accounts]",
  "open-signup = yes",
  "[users]",
  "pere",
  "laura",
  "",
].join("\n");

/** A temporary folder, the node's cwd; removed (after `chattr -i`) at the end. */
class FaultDir implements AsyncDisposable {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  static async create(prefix: string, files: Record<string, string> = {}): Promise<FaultDir> {
    const dir = new FaultDir(await tempDir(`faults-${prefix}-`));
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(dir.file(name), text);
    }
    return dir;
  }

  file(name: string): string {
    return `${this.path}/${name}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await run("chattr", "-R", "-i", this.path).catch(() => {});
    await Deno.remove(this.path, { recursive: true });
  }
}

/** Run a system command; throws with its stderr when it fails. */
async function run(command: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(command, {
    args,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  }
}

interface RunningNode extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly at: Endpoint;
}

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) /;

function spawnNode(dir: FaultDir, args: string[] = [], ip = "127.0.102.1"): Promise<ChildProcess> {
  return startProgram("node", ["--listen", `${ip}:0`, ...args], {
    cwd: dir.path,
    name: `node in ${dir.path}`,
  });
}

async function startNode(dir: FaultDir, args: string[] = []): Promise<RunningNode> {
  const child = await spawnNode(dir, args);
  try {
    const match = await child.waitFor(LISTENING);
    return {
      child,
      at: { ip: match[2]!, port: Number(match[3]) },
      [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
    };
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

/** Start a node that must refuse to start: its exit code and stderr. */
async function refusedStart(dir: FaultDir, args: string[] = []) {
  await using child = await spawnNode(dir, args);
  const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const status = await child.exited();
  clearTimeout(deadline);
  return { code: status.code, stderr: child.errors.join("\n"), stdout: child.lines };
}

/** Wait for a stderr line of `child` matching `pattern`. */
async function waitForError(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = child.errors.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no stderr line ${pattern}:\n${child.errors.join("\n")}`);
    await child.changed(left);
  }
}

/** A console command and the answer line matching `pattern`. */
async function command(child: ChildProcess, line: string, pattern: RegExp) {
  const from = child.lines.length;
  await child.send(line);
  return (await child.waitFor(pattern, { from }))[0];
}

/** The node still answers an original agent: register, look up, deregister. */
async function stillServes(node: RunningNode, name = "laura"): Promise<void> {
  await using peer = UdpPeer.open("original agent", "127.0.102.9");
  strictEqual((await peer.request(`PR${name}@bb.com`, node.at)).text, "RR0");
  strictEqual((await peer.request(`PD${name}@bb.com`, node.at)).text, "RD0");
}

/**
 * Sign up `agent` until the node says created, at most `tries` times, `pauseMs`
 * apart (the node stops waiting on a locked database for a second after a
 * lock: the first tries may still be refused).
 */
async function signUpOnceWritable(agent: ExtAgent, tries = 40, pauseMs = 150): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < tries; i++) {
    const reply = await agent.signUp(`pw-${agent.address}`);
    answers.push(reply.text);
    if (reply.text === "RU0") return answers;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`${agent.address} never signed up: ${answers.join(", ")}`);
}

/** SHA-256 of a file, hex. */
async function checksum(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Register `pere` (no password) as an extended agent: its token lets it change buddies. */
async function loggedIn(node: RunningNode): Promise<ExtAgent> {
  const pere = ExtAgent.open("pere@bb.com", node.at, "127.0.102.2");
  strictEqual((await pere.register()).head, "RR0");
  return pere;
}

Deno.test("a locked database: sign-up and buddy change answered e=store, console says why, node recovers", async () => {
  await using dir = await FaultDir.create("locked", { "nodelumi.cfg": CONFIG });
  await using node = await startNode(dir);
  await using pere = await loggedIn(node);
  await using nuria = ExtAgent.open("nuria@bb.com", node.at, "127.0.102.3");

  // An administrator's sqlite3 shell in the middle of a write transaction.
  const admin = new DatabaseSync(dir.file(DB));
  try {
    admin.exec("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('admin', 'editing')");
    strictEqual((await nuria.signUp("pw-nuria")).text, "RU4;e=store");
    strictEqual((await pere.buddy("add", "joan@cc.com")).text, "RB1;e=store");
    strictEqual((await nuria.signUp("pw-nuria")).text, "RU4;e=store");
    await command(
      node.child,
      "nopasswd pere",
      /^Not done: Cannot write the account database .*another program holds a write lock/,
    );
    await command(node.child, "list", /^2 users, 1 online$/);
    await stillServes(node);
  } finally {
    admin.exec("ROLLBACK");
    admin.close();
  }
  const answers = await signUpOnceWritable(nuria);
  ok(answers.every((a) => a === "RU4;e=store" || a === "RU0"), answers.join());
  strictEqual((await pere.buddy("add", "joan@cc.com")).text, "RB0");
  await waitForError(node.child, /The account database .* works again/);
  // One line for the whole burst, not one per failed request.
  strictEqual(
    node.child.errors.filter((l) => /Cannot write the account database/.test(l)).length,
    1,
    node.child.errors.join("\n"),
  );
  await command(node.child, "list", /^3 users, 1 online$/);
});

Deno.test("an immutable database: e=store while chattr +i, the node stays up and recovers after chattr -i", async () => {
  await using dir = await FaultDir.create("immutable", { "nodelumi.cfg": CONFIG });
  await using node = await startNode(dir);
  await using pere = await loggedIn(node);
  await using nuria = ExtAgent.open("nuria@bb.com", node.at, "127.0.102.3");
  strictEqual((await pere.buddy("add", "nuria@bb.com")).text, "RB0");
  const files = [dir.file(DB), dir.file(`${DB}-wal`)];
  await run("chattr", "+i", ...files);
  try {
    strictEqual((await nuria.signUp("pw-nuria")).text, "RU4;e=store");
    strictEqual((await pere.buddy("del", "nuria@bb.com")).text, "RB1;e=store");
    await stillServes(node);
    await waitForError(node.child, /Cannot write the account database/);
  } finally {
    await run("chattr", "-i", ...files);
  }
  strictEqual((await nuria.signUp("pw-nuria")).text, "RU0");
  strictEqual((await pere.buddy("del", "nuria@bb.com")).text, "RB0");
  await waitForError(node.child, /works again/);
});

Deno.test("a node started on an immutable database logs users in, answers e=store to changes, writes after chattr -i", async () => {
  await using dir = await FaultDir.create("immutable-start", { "nodelumi.cfg": CONFIG });
  {
    await using node = await startNode(dir);
    await using nuria = ExtAgent.open("nuria@bb.com", node.at, "127.0.102.3");
    strictEqual((await nuria.signUp("pw-nuria")).text, "RU0");
    strictEqual((await node.child.stop()).code, 0);
  }
  await run("chattr", "+i", dir.file(DB));
  await using node = await startNode(dir);
  await using nuria = ExtAgent.open("nuria@bb.com", node.at, "127.0.102.3");
  await using oriol = ExtAgent.open("oriol@bb.com", node.at, "127.0.102.4");
  try {
    strictEqual((await nuria.register("pw-nuria")).head, "RR0", "a password is read, and checked");
    strictEqual((await oriol.signUp("pw-oriol")).text, "RU4;e=store");
    await waitForError(node.child, /Cannot write the account database .*read-only or immutable/);
    await stillServes(node);
  } finally {
    await run("chattr", "-i", dir.file(DB));
  }
  await signUpOnceWritable(oriol);
  strictEqual((await oriol.register("pw-oriol@bb.com")).head, "RR0");
});

Deno.test("a full disk: e=store while full, the node stays up and recovers once there is room", async () => {
  await using dir = await FaultDir.create("full", {
    "nodelumi.cfg": CONFIG.replace("[accounts]", "[accounts]\ndatabase = disk/accounts.db"),
  });
  const disk = dir.file("disk");
  await Deno.mkdir(disk);
  await run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk);
  await using _unmount = { [Symbol.asyncDispose]: () => run("umount", disk) };
  await using node = await startNode(dir);
  await using pere = await loggedIn(node);
  await using nuria = ExtAgent.open("nuria@bb.com", node.at, "127.0.102.3");
  await Deno.writeFile(`${disk}/filler`, new Uint8Array(2 << 20)).catch((error) => {
    ok(String(error).includes("No space left"), String(error));
  });
  strictEqual((await nuria.signUp("pw-nuria")).text, "RU4;e=store");
  strictEqual((await pere.buddy("add", "nuria@bb.com")).text, "RB1;e=store");
  await stillServes(node);
  await waitForError(node.child, /Cannot write the account database .*the disk is full/);
  await Deno.remove(`${disk}/filler`);
  strictEqual((await nuria.signUp("pw-nuria")).text, "RU0");
  strictEqual((await pere.buddy("add", "nuria@bb.com")).text, "RB0");
  await node.child.stop();
});

Deno.test("another program's SQLite file is refused with exit 2 and left byte for byte as it was", async () => {
  await using dir = await FaultDir.create("foreign", { "nodelumi.cfg": CONFIG });
  const cases: [string, string, RegExp][] = [
    [
      "shop.db",
      "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, balance REAL); " +
      "INSERT INTO accounts (email, balance) VALUES ('a@example.com', 12.5);",
      /belongs to another program \(its tables are accounts\)/,
    ],
    ["app.db", "PRAGMA application_id = 305419896;", /its application_id is 0x12345678/],
    [
      "lookalike.db",
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); " +
      "CREATE TABLE accounts (name TEXT PRIMARY KEY, password TEXT); CREATE TABLE buddies (a, b);",
      /belongs to another program/,
    ],
  ];
  for (const [name, sql, reason] of cases) {
    const db = new DatabaseSync(dir.file(name));
    db.exec(sql);
    db.close();
    const before = await checksum(dir.file(name));
    const { code, stderr } = await refusedStart(dir, ["--database", name]);
    strictEqual(code, 2, stderr);
    ok(reason.test(stderr), stderr);
    ok(/it was not changed/.test(stderr), stderr);
    ok(!/^\s+at /m.test(stderr), `a stack trace:\n${stderr}`);
    strictEqual(await checksum(dir.file(name)), before, `${name} was modified`);
    for (const extra of ["-wal", "-journal"]) {
      strictEqual(await Deno.stat(dir.file(name + extra)).then(() => true, () => false), false);
    }
  }
});

Deno.test("config, state, database or log that is a FIFO or a link to /dev/zero: exit 2 at once, with the reason", async () => {
  const cases: [string, "fifo" | "zero", string[], RegExp][] = [
    ["nodelumi.cfg", "fifo", [], /Cannot read nodelumi\.cfg: it is a FIFO, not a regular file/],
    ["nodelumi.cfg", "zero", [], /Cannot read nodelumi\.cfg: it is a character device/],
    ["nodelumi-bb.com.state", "fifo", ["--state", "nodelumi-bb.com.state"], /state: it is a FIFO/],
    ["x.state", "zero", ["--state", "x.state"], /x\.state: it is a character device/],
    [DB, "fifo", [], /^Cannot use nodelumi-bb\.com\.db: it is a FIFO, not a regular file$/m],
    [DB, "zero", [], /^Cannot use nodelumi-bb\.com\.db: it is a character device/m],
    ["node.log", "fifo", ["--log", "node.log"], /^Cannot use node\.log: it is a FIFO/m],
  ];
  for (const [name, kind, args, reason] of cases) {
    await using dir = await FaultDir.create("fifo", { "nodelumi.cfg": CONFIG });
    if (name === "nodelumi.cfg") await Deno.remove(dir.file(name));
    if (kind === "fifo") await run("mkfifo", dir.file(name));
    else await run("ln", "-s", "/dev/zero", dir.file(name));
    const { code, stderr } = await refusedStart(dir, args);
    strictEqual(code, 2, `${name} as ${kind}: ${stderr}`);
    ok(reason.test(stderr), `${name} as ${kind}: ${stderr}`);
  }
});

Deno.test("a second node on the same files refuses with exit 2 naming the first one's pid; kill -9 leaves no lock behind", async () => {
  await using dir = await FaultDir.create("lock", {
    "nodelumi.cfg": "domain = bb.com\n[users]\nlaura\n",
    "other.cfg": "domain = bb.com\nlisten = 127.0.102.1:0\n",
  });
  await using first = await startNode(dir);
  const pid = first.child.pid;
  // The same folder and configuration; then another configuration for the same domain.
  for (const args of [[], ["--config", "other.cfg"], ["--config", "other.cfg", "--no-state"]]) {
    const { code, stderr } = await refusedStart(dir, args);
    strictEqual(code, 2, stderr);
    ok(
      new RegExp(`^Another node \\(pid ${pid}\\) is using \\S+: stop it first`).test(stderr),
      stderr,
    );
  }
  await stillServes(first);
  first.child.kill("SIGKILL");
  await first.child.exited();
  ok((await Deno.readTextFile(dir.file("nodelumi-bb.com.db.lock"))).includes(String(pid)));
  await using second = await startNode(dir);
  await stillServes(second);
  strictEqual(
    (await Deno.readTextFile(dir.file("nodelumi-bb.com.db.lock"))).trim(),
    String(second.child.pid),
  );
  strictEqual((await second.child.stop()).code, 0);
  deepStrictEqual(
    [...Deno.readDirSync(dir.path)].map((e) => e.name).filter((n) => n.endsWith(".lock")),
    [],
    "a clean stop removes its lock files",
  );
});

Deno.test("SIGHUP does not stop the node: it reloads, and the node keeps answering", async () => {
  await using dir = await FaultDir.create("sighup", { "nodelumi.cfg": "bb.com laura\n" });
  await using node = await startNode(dir);
  // Issue 17: SIGHUP reloads the configuration and reopens the logs (it was ignored before).
  node.child.kill("SIGHUP");
  await node.child.waitFor(/^SIGHUP: Reloaded: 1 users; no change to the user list$/);
  await stillServes(node);
  node.child.kill("SIGHUP");
  await stillServes(node);
  strictEqual((await node.child.stop()).code, 0);
});

Deno.test("a hand edit of nodelumi.cfg is not overwritten: the console refuses, reload takes it in", async () => {
  await using dir = await FaultDir.create("edit", { "nodelumi.cfg": "bb.com laura\n" });
  const cfg = dir.file("nodelumi.cfg");
  {
    await using node = await startNode(dir, ["--no-database", "--no-state", "--no-log"]);
    const edit = "bb.com laura\nmarta\n";
    await Deno.writeTextFile(cfg, edit);
    await command(
      node.child,
      "add pere",
      /^Not saved, nothing changed: nodelumi\.cfg was changed on disk since the node read it.*reload/,
    );
    strictEqual(await Deno.readTextFile(cfg), edit, "the hand edit is kept");
    await command(node.child, "reload", /^Reloaded: 2 users; added marta@bb\.com$/);
    await stillServes(node, "marta");
    await command(node.child, "add pere", /^Added pere@bb\.com \(saved\)$/);
    // Names the file could not hold are refused by the console as by the reader.
    for (const name of ["[x]", "a=b", "#x"]) {
      await command(node.child, `add ${name}`, /is not a valid user name/);
    }
    await command(node.child, "list", /^3 users, 0 online$/);
    strictEqual((await node.child.stop()).code, 0);
  }
  strictEqual(await Deno.readTextFile(cfg), "bb.com\nlaura\nmarta\npere\n");
  await using again = await startNode(dir, ["--no-database", "--no-state", "--no-log"]);
  await stillServes(again, "pere");
  await stillServes(again, "marta");
});
