/**
 * The agent's history with real agent processes and real SQLite files:
 * lines kept both ways, `/history` and `/search`, the last lines shown when a
 * conversation opens again; a locked, immutable or foreign file gives a
 * warning and the chat goes on.
 */

import assert from "#assert";
import { DatabaseSync } from "node:sqlite";
import { HistoryStore } from "../lib/agent/history/store.ts";
import { ChatHistory, FLUSH_AFTER_MS } from "../lib/agent/history/history.ts";
import { ManualClock } from "../lib/clock.ts";
import { startAgent, startNode } from "./support/agent_peers.ts";
import type { ChildProcess } from "./support/process.ts";
import { tempDir } from "./support/process.ts";

const IP = "127.0.29.2";
const STAMP = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d`;

function line(pattern: string): RegExp {
  return new RegExp(`^${STAMP} ${pattern}$`);
}

async function call(from: ChildProcess, to: ChildProcess, address: string, nick: string) {
  const mark = to.lines.length;
  await from.send(address);
  await from.waitFor(new RegExp(`^Connected to ${nick} `), { from: from.lines.length - 1 });
  await to.waitFor(/^Incoming call from /, { from: mark });
}

async function chattr(flag: "+i" | "-i", path: string): Promise<void> {
  const out = await new Deno.Command("chattr", { args: [flag, path] }).output();
  if (!out.success) {
    throw new Error(`chattr ${flag} ${path}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A process that holds an exclusive lock on the SQLite file `path` (as an
 * administrator's `sqlite3` shell in a transaction would) until released:
 * then it is killed, which frees the lock (nothing was written).
 */
async function lockFile(path: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("BEGIN EXCLUSIVE");
       console.log("locked");
       await new Promise((resolve) => setTimeout(resolve, 60_000));`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await lines.read()).value ?? "", /locked/);

  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel().catch(() => {});
  };
  return { release, [Symbol.asyncDispose]: release };
}

Deno.test("every line is kept both ways; /history and /search show them; a conversation opens with its last lines", async () => {
  const dir = await tempDir("history-");
  const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
  await using _node = node.process;
  const aliceDb = `${dir}/alice.db`;
  const bobDb = `${dir}/bob.db`;
  await using alice = await startAgent(dir, "alice@hist.test", "Alice", node.endpoint, [
    "--no-log",
    "--history",
    aliceDb,
  ]);
  await using bob = await startAgent(dir, "bob@hist.test", "Bob", node.endpoint, [
    "--no-log",
    "--history",
    bobDb,
  ]);
  assert.equal((await Deno.stat(aliceDb)).mode! & 0o777, 0o600);

  await call(alice, bob, "bob@hist.test", "Bob");
  await alice.send("hello bob");
  await bob.waitFor(/^Alice: hello bob$/);
  await bob.send("hi Alice, 100% here");
  await alice.waitFor(/^Bob: hi Alice, 100% here$/);

  let from = alice.lines.length;
  await alice.send("/history");
  // Bob acknowledged the line (receipts) before he answered: it is marked ✓.
  await alice.waitFor(line("you -> bob@hist\\.test: hello bob \u2713"), { from });
  await alice.waitFor(line("bob@hist\\.test -> you: hi Alice, 100% here"), { from });

  from = alice.lines.length;
  await alice.send("/search ALICE, 100%");
  await alice.waitFor(line("bob@hist\\.test -> you: hi Alice, 100% here"), { from });
  from = alice.lines.length;
  await alice.send("/search 100%_");
  await alice.waitFor(/^No line holds "100%_"$/, { from });

  from = alice.lines.length;
  await alice.send("/history bob@hist.test 1");
  await alice.waitFor(line("bob@hist\\.test -> you: hi Alice, 100% here"), { from });
  await alice.send("/help");
  await alice.waitFor(/^ {2}\/search <text> /, { from });
  assert.ok(
    !alice.lines.slice(from).some((l) => /you -> bob@hist\.test: hello bob( \u2713)?$/.test(l)),
    "/history bob 1 showed more than one line",
  );

  // The callee kept them too, the other way round.
  await alice.send("/exit");
  await bob.waitFor(/^Conversation with Alice ended/);
  // Lines are written a burst at a time; a read writes what waits first.
  from = bob.lines.length;
  await bob.send("/history 1");
  await bob.waitFor(line("you -> alice@hist\\.test: hi Alice, 100% here \u2713"), { from });
  {
    using db = new DatabaseSync(bobDb, { readOnly: true });
    const rows = db.prepare("SELECT peer, direction, state, text FROM lines ORDER BY id").all();
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      { peer: "alice@hist.test", direction: "in", state: "sent", text: "hello bob" },
      // Alice's receipt came before she hung up.
      {
        peer: "alice@hist.test",
        direction: "out",
        state: "delivered",
        text: "hi Alice, 100% here",
      },
    ]);
  }

  // Calling again: the last lines come first.
  from = alice.lines.length;
  await call(alice, bob, "bob@hist.test", "Bob");
  await alice.waitFor(/^Last 2 lines with bob@hist\.test:$/, { from });
  await alice.waitFor(line("you -> bob@hist\\.test: hello bob \u2713"), { from });
});

Deno.test("a history file locked by another program: one warning, the chat goes on, lines are kept again once it is free", async () => {
  const dir = await tempDir("history-locked-");
  const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
  await using _node = node.process;
  const aliceDb = `${dir}/alice.db`;
  await using alice = await startAgent(dir, "alice@hist.test", "Alice", node.endpoint, [
    "--no-log",
    "--history",
    aliceDb,
  ]);
  await using bob = await startAgent(dir, "bob@hist.test", "Bob", node.endpoint, ["--no-log"]);
  await call(alice, bob, "bob@hist.test", "Bob");

  // Another program (a process of its own, as an sqlite3 shell would be) holds a write lock.
  await using locker = await lockFile(aliceDb);
  const from = alice.lines.length;
  for (const text of ["one", "two"]) {
    await alice.send(text);
    await bob.waitFor(new RegExp(`^Alice: ${text}$`));
  }
  await alice.waitFor(/another program holds a write lock on it\); the chat goes on$/, { from });
  // Typed lines are done in order: once /history answers, both lines were tried (the lock
  // holds reads too). Bob sees a line before the agent tries to keep it.
  await alice.send("/history");
  await alice.waitFor(/^Cannot read the history: .*another program holds a write lock/, { from });
  await locker.release();
  await alice.send("free again");
  await bob.waitFor(/^Alice: free again$/);
  await alice.waitFor(/^History: lines are kept again \(2 lines were not kept\)$/, { from });
  const warnings = alice.lines.slice(from).filter((l) => l.startsWith("History: lines are not"));
  assert.equal(warnings.length, 1, "one warning per burst");
});

Deno.test("an immutable history file still shows its lines; new ones give a warning and the chat goes on", async () => {
  const dir = await tempDir("history-ro-");
  const aliceDb = `${dir}/alice.db`;
  {
    using store = HistoryStore.open(aliceDb);
    store.record({ at: 0, peer: "bob@hist.test", direction: "out", state: "sent", text: "old" });
  }
  await chattr("+i", aliceDb);
  try {
    const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
    await using _node = node.process;
    await using alice = await startAgent(dir, "alice@hist.test", "Alice", node.endpoint, [
      "--no-log",
      "--history",
      aliceDb,
    ]);
    await using bob = await startAgent(dir, "bob@hist.test", "Bob", node.endpoint, ["--no-log"]);
    const from = alice.lines.length;
    await call(alice, bob, "bob@hist.test", "Bob");
    await alice.waitFor(/^1970-01-01 00:00 you -> bob@hist\.test: old$/, { from });
    await alice.send("new line");
    await bob.waitFor(/^Alice: new line$/);
    await alice.waitFor(/^History: lines are not kept for now \(.*read-only/, { from });
    await bob.send("answer");
    await alice.waitFor(/^Bob: answer$/);
  } finally {
    await chattr("-i", aliceDb);
  }
});

Deno.test("a file that is not a history file is refused untouched and the agent runs without history", async () => {
  const dir = await tempDir("history-foreign-");
  const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
  await using _node = node.process;
  const notOurs = `${dir}/notes.txt`;
  const garbage = "These are my notes, not a database.\n".repeat(200);
  await Deno.writeTextFile(notOurs, garbage);
  const other = `${dir}/other.db`;
  {
    using db = new DatabaseSync(other);
    db.exec("CREATE TABLE lines (x); INSERT INTO lines VALUES (1)");
  }
  const before = await Deno.readFile(other);
  const cases = [["alice", notOurs, /not a history file/], [
    "bob",
    other,
    /another program/,
  ]] as const;
  for (const [user, path, why] of cases) {
    await using alice = await startAgent(dir, `${user}@hist.test`, user, node.endpoint, [
      "--no-log",
      "--history",
      path,
    ]);
    await alice.waitFor(new RegExp(`^History off: .*${why.source}`));
    await alice.send("/history");
    await alice.waitFor(/^No history is kept/);
  }
  assert.equal(await Deno.readTextFile(notOurs), garbage);
  assert.deepEqual(await Deno.readFile(other), before);
});

Deno.test("a full disk: one warning, the chat goes on, lines are kept again once there is room", async () => {
  const dir = await tempDir("history-full-");
  const small = `${dir}/small`;
  await Deno.mkdir(small);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", small],
    stderr: "piped",
  }).output();
  if (!mount.success) throw new Error(`mount tmpfs: ${new TextDecoder().decode(mount.stderr)}`);
  try {
    const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
    await using _node = node.process;
    await using alice = await startAgent(dir, "alice@hist.test", "Alice", node.endpoint, [
      "--no-log",
      "--history",
      `${small}/alice.db`,
    ]);
    await using bob = await startAgent(dir, "bob@hist.test", "Bob", node.endpoint, ["--no-log"]);
    await call(alice, bob, "bob@hist.test", "Bob");
    // Fill the small disk.
    const filler = await Deno.open(`${small}/filler`, { write: true, create: true });
    const block = new Uint8Array(4096);
    try {
      for (let i = 0; i < 1_000; i++) await filler.write(block);
    } catch {
      // full
    } finally {
      filler.close();
    }
    const from = alice.lines.length;
    await alice.send("on a full disk");
    await bob.waitFor(/^Alice: on a full disk$/);
    await alice.waitFor(/^History: lines are not kept for now \(.*the disk is full\)/, { from });
    await Deno.remove(`${small}/filler`);
    await alice.send("room again");
    await bob.waitFor(/^Alice: room again$/);
    await alice.waitFor(/^History: lines are kept again \(1 line was not kept\)$/, { from });
  } finally {
    await new Deno.Command("umount", { args: ["-l", small] }).output();
  }
});

Deno.test("a burst of lines is written in one transaction after the burst, not one sync per line", async () => {
  const dir = await tempDir("history-burst-");
  const path = `${dir}/history.db`;
  const clock = new ManualClock();
  const shown: string[] = [];
  const ui = {
    interactive: false,
    info: (text: string) => shown.push(text),
    warn: (text: string) => shown.push(text),
    chat: () => {},
    setPrompt: () => {},
    readLine: () => Promise.resolve(null),
    ask: () => Promise.resolve(null),
    onInterrupt: () => {},
    close: () => {},
  };
  const history = ChatHistory.open({ path, ui, clock });
  const rows = () => {
    using db = new DatabaseSync(path, { readOnly: true });
    return Number((db.prepare("SELECT count(*) AS n FROM lines").get() as { n: number }).n);
  };
  try {
    for (let i = 0; i < 500; i++) history.record("bob@bb.com", "in", `line ${i}`);
    assert.equal(rows(), 0, "nothing written while the burst goes on");
    clock.advance(FLUSH_AFTER_MS);
    assert.equal(rows(), 500, "the whole burst, at once");
    history.record("bob@bb.com", "out", "and one more");
    // A read writes what waits first: /history shows every line.
    history.show("bob@bb.com", 1);
    assert.deepEqual(shown.map((l) => l.replace(/^\S+ \S+ /, "")), [
      "you -> bob@bb.com: and one more",
    ]);
    assert.deepEqual(shown.length, 1);
  } finally {
    history.close();
  }
  assert.equal(rows(), 501);
});

Deno.test("two agents sharing one data folder keep a history each, named by their address", async () => {
  const dir = await tempDir("history-shared-");
  const node = await startNode(dir, "hist.test", ["alice", "bob"], `${IP}:0`);
  await using _node = node.process;
  const data = `${dir}/shared`;
  await using alice = await startAgent(dir, "alice@hist.test", "Alice", node.endpoint, [
    "--data",
    data,
  ]);
  await using bob = await startAgent(dir, "bob@hist.test", "Bob", node.endpoint, ["--data", data]);
  await call(alice, bob, "bob@hist.test", "Bob");
  await alice.send("hello bob");
  await bob.waitFor(/^Alice: hello bob$/);
  // A read writes what waits first.
  for (const agent of [alice, bob]) {
    const from = agent.lines.length;
    await agent.send("/history 1");
    await agent.waitFor(/ -> .*: hello bob( \u2713)?$/, { from });
  }
  for (const [who, direction] of [["alice", "out"], ["bob", "in"]] as const) {
    using db = new DatabaseSync(`${data}/${who}@hist.test.history.db`, { readOnly: true });
    const rows = db.prepare("SELECT direction, text FROM lines").all();
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ direction, text: "hello bob" }], who);
  }
});
