/**
 * Message ids and receipts between LUMI agents (issue 16, item 1), with real
 * node and agent processes: a line is marked delivered (in the history, ✓ in
 * `/history`); a conversation cut in the middle of a burst — its lines
 * swallowed on the way, or its receipts — delivers every line exactly once,
 * in order, once the call is back; an original agent sees only its lines.
 * Ana's node traffic goes through a relay that sends her calls to a
 * forwarding proxy of the test's choosing (`support/e2e_path.ts`); addresses
 * 127.0.33.x.
 */

import assert from "#assert";
import { DatabaseSync } from "node:sqlite";
import { advertisedEndpoint, OriginalAgent, startAgent, startNode } from "./support/agent_peers.ts";
import { type FrameHook, isFrame, NodeFront, TcpTap } from "./support/e2e_path.ts";
import { type ChildProcess, tempDir } from "./support/process.ts";
import { Keys, PtyProgram } from "./support/pty.ts";
import { ManualClock } from "../lib/clock.ts";
import { ChatHistory, HISTORY_APPLICATION_ID } from "../lib/agent/history/mod.ts";
import { FLUSH_AFTER_MS } from "../lib/agent/history/history.ts";
import type { AgentUi } from "../lib/agent/terminal/ui.ts";

const IP = { front: "127.0.33.1", tap: "127.0.33.2" };

/** The lines `nick` showed on `agent` from `from` on, without the `Nick: ` prefix. */
function shown(agent: ChildProcess, nick: string, from = 0): string[] {
  const prefix = `${nick}: `;
  return agent.lines.slice(from).filter((l) => l.startsWith(prefix)).map((l) =>
    l.slice(prefix.length)
  );
}

/** `count` numbered lines, each as a person might type it. */
function burst(tag: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `${tag} ${String(i + 1).padStart(3, "0")} the quick brown fox jumps over the lazy dog`,
  );
}

/**
 * Pass the first `records` encrypted records `side` sends (their `E` frames, the last of each
 * flagged `.`), swallow every later frame: no fault, silence.
 */
function swallowAfter(side: "caller" | "callee", records: number): FrameHook {
  let done = 0;
  return (from, frame) => {
    if (from !== side || !isFrame(frame, "E")) return [frame];
    if (done >= records) return [];
    if (frame[3] === 0x2e) done++;
    return [frame];
  };
}

Deno.test("receipts: delivered lines are marked; a cut mid-burst loses none and shows none twice", async (t) => {
  const dir = await tempDir("receipts-");
  const started = await startNode(dir, "rc.test", ["ana", "bo", "olga"]);
  await using _node = started.process;
  await using front = NodeFront.open(started.endpoint, IP.front);
  const anaDb = `${dir}/ana.db`, boDb = `${dir}/bo.db`;
  await using bo = await startAgent(dir, "bo@rc.test", "Bo", started.endpoint, [
    "--history",
    boDb,
  ]);
  const boAt = await advertisedEndpoint(bo);
  await using ana = await startAgent(dir, "ana@rc.test", "Ana", front.address, [
    "--history",
    anaDb,
  ]);

  /** Ana calls Bo through `to` and waits until both show the conversation. */
  const call = async (to: { ip: string; port: number }) => {
    front.redirect(boAt, to);
    const fromAna = ana.lines.length, fromBo = bo.lines.length;
    await ana.send("/call bo@rc.test");
    await ana.waitFor(/^Connected to Bo \(bo@rc\.test\)$/, { from: fromAna });
    await bo.waitFor(/^Incoming call from Ana \(ana@rc\.test\)$/, { from: fromBo });
  };
  /** Cut the proxy: both connections close; both agents see the conversation end. */
  const cut = async (tap: TcpTap) => {
    const fromAna = ana.lines.length, fromBo = bo.lines.length;
    await tap[Symbol.asyncDispose]();
    await ana.waitFor(/^Conversation with Bo ended/, { from: fromAna });
    await bo.waitFor(/^Conversation with Ana ended/, { from: fromBo });
  };
  /** Every line of stdin so far was taken by Ana's agent (its command loop is in order). */
  const typed = async () => {
    const from = ana.lines.length;
    await ana.send("/list");
    await ana.waitFor(/^\* bo@rc\.test {2}conversation with Bo/, { from });
  };

  await t.step("a line is marked delivered, with the same message id on both sides", async () => {
    await call(boAt);
    await ana.send("hello bo");
    await bo.waitFor(/^Ana: hello bo$/);
    // Bo acknowledges a line before anything he types after it: once his reply is in, so is the receipt.
    await bo.send("hi ana");
    await ana.waitFor(/^Bo: hi ana$/);
    const from = ana.lines.length;
    await ana.send("/history bo@rc.test 2");
    await ana.waitFor(/^\S+ \S+ you -> bo@rc\.test: hello bo \u2713$/, { from });
    await ana.waitFor(/^\S+ \S+ bo@rc\.test -> you: hi ana$/, { from });
    await ana.send("/exit");
    await bo.waitFor(/^Conversation with Ana ended/);
    await bo.send("/history 1"); // writes what waits
    await bo.waitFor(/you -> ana@rc\.test: hi ana \u2713$/);
    {
      using anaRows = new DatabaseSync(anaDb, { readOnly: true });
      using boRows = new DatabaseSync(boDb, { readOnly: true });
      const sent = anaRows.prepare(
        "SELECT state, message_id FROM lines WHERE text = 'hello bo'",
      ).get() as { state: string; message_id: string };
      assert.equal(sent.state, "delivered");
      assert.match(sent.message_id, /^[0-9a-f]{16}$/);
      const got = boRows.prepare("SELECT message_id FROM lines WHERE text = 'hello bo'").get() as {
        message_id: string;
      };
      assert.equal(got.message_id, sent.message_id);
    }
  });

  await t.step(
    "lines swallowed mid-burst are sent again after the call is back: each once, in order",
    async () => {
      const lines = burst("cut", 300);
      const fromBo = bo.lines.length;
      // The hello and the first few records pass; then the path swallows all Ana sends.
      const tap = TcpTap.open(boAt, { ip: IP.tap, hook: swallowAfter("caller", 12) });
      try {
        await call(tap.address);
        await ana.send(lines.join("\n"));
        await typed();
        await cut(tap);
      } finally {
        await tap[Symbol.asyncDispose]().catch(() => {});
      }
      const before = shown(bo, "Ana", fromBo).length;
      assert.ok(before > 0 && before < lines.length, `${before} lines passed before the cut`);
      await call(boAt);
      await bo.waitFor(new RegExp(`^Ana: ${lines.at(-1)}$`), { from: fromBo });
      assert.deepEqual(shown(bo, "Ana", fromBo), lines);
      await bo.send("all here");
      await ana.waitFor(/^Bo: all here$/);
      const from = ana.lines.length;
      await ana.send(`/history bo@rc.test ${lines.length + 1}`);
      await ana.waitFor(/^\S+ \S+ bo@rc\.test -> you: all here$/, { from });
      const marks = ana.lines.slice(from).filter((l) =>
        / you -> bo@rc\.test: cut \d+ .* \u2713$/.test(l)
      );
      assert.equal(marks.length, lines.length, "every line of the burst is marked delivered");
      await ana.send("/exit");
      await bo.waitFor(/^Conversation with Ana ended/, { from: fromBo });
    },
  );

  await t.step(
    "receipts swallowed: the lines sent again are dropped as duplicates, none shown twice",
    async () => {
      const lines = burst("dup", 100);
      const fromBo = bo.lines.length;
      // Bo's hello passes, then every record he sends (his receipts) is swallowed.
      const tap = TcpTap.open(boAt, { ip: IP.tap, hook: swallowAfter("callee", 1) });
      try {
        await call(tap.address);
        await ana.send(lines.join("\n"));
        await bo.waitFor(new RegExp(`^Ana: ${lines.at(-1)}$`), { from: fromBo });
        await typed();
        await cut(tap);
      } finally {
        await tap[Symbol.asyncDispose]().catch(() => {});
      }
      await call(boAt);
      // A new line waits behind the ones sent again: once it is shown, they were all handled.
      await ana.send("after the break");
      await bo.waitFor(/^Ana: after the break$/, { from: fromBo });
      assert.deepEqual(shown(bo, "Ana", fromBo), [...lines, "after the break"]);
      await bo.send("got it");
      await ana.waitFor(/^Bo: got it$/);
      const from = ana.lines.length;
      await ana.send(`/history bo@rc.test ${lines.length + 2}`);
      await ana.waitFor(/^\S+ \S+ bo@rc\.test -> you: got it$/, { from });
      const marks = ana.lines.slice(from).filter((l) =>
        / you -> bo@rc\.test: (dup \d+ .*|after the break) \u2713$/.test(l)
      );
      assert.equal(marks.length, lines.length + 1);
      await ana.send("/exit");
      await bo.waitFor(/^Conversation with Ana ended/, { from: fromBo });
    },
  );

  await t.step("lines swallowed on the way are sent again when the peer calls back", async () => {
    const lines = burst("back", 50);
    const fromBo = bo.lines.length;
    const tap = TcpTap.open(boAt, { ip: IP.tap, hook: swallowAfter("caller", 1) });
    try {
      await call(tap.address);
      await ana.send(lines.join("\n"));
      await typed();
      await cut(tap);
    } finally {
      await tap[Symbol.asyncDispose]().catch(() => {});
    }
    assert.deepEqual(shown(bo, "Ana", fromBo), [], "nothing passed before the cut");
    // Bo calls Ana (straight, not through the front): Ana, the callee, sends them after his hello.
    await bo.send("/call ana@rc.test");
    await bo.waitFor(/^Connected to Ana \(ana@rc\.test\)$/, { from: fromBo });
    await bo.waitFor(new RegExp(`^Ana: ${lines.at(-1)}$`), { from: fromBo });
    assert.deepEqual(shown(bo, "Ana", fromBo), lines);
    await bo.send("thanks");
    await ana.waitFor(/^Bo: thanks$/);
    const from = ana.lines.length;
    await ana.send(`/history bo@rc.test ${lines.length + 1}`);
    await ana.waitFor(/^\S+ \S+ bo@rc\.test -> you: thanks$/, { from });
    const marks = ana.lines.slice(from).filter((l) =>
      / you -> bo@rc\.test: back \d+ .* \u2713$/.test(l)
    );
    assert.equal(marks.length, lines.length);
    await bo.send("/exit");
    await ana.waitFor(/^Conversation with Bo ended/, { from });
  });

  await t.step("an original agent sees exactly its lines, no extra byte", async () => {
    await using olga = new OriginalAgent("olga@rc.test");
    await olga.register(started.endpoint);
    const from = ana.lines.length;
    await ana.send("/call olga@rc.test");
    await olga.answerLookup();
    await using pmi = await olga.accept();
    assert.equal(await pmi.read(6), "N03Ana");
    await pmi.send("N04Olga");
    await ana.waitFor(/^Connected to Olga \(olga@rc\.test\)$/, { from });
    await ana.send("hi olga");
    await ana.send("bye olga");
    assert.equal(await pmi.read(21), "L07hi olgaL08bye olga");
    await ana.send("/exit");
    await pmi.expectEnd();
    await ana.waitFor(/^Conversation with Olga ended \(you left\)$/, { from });
  });
});

Deno.test("a history file from before message ids gains the column; markDelivered marks its line, batched", async () => {
  const dir = await tempDir("receipts-history-");
  const path = `${dir}/old.db`;
  {
    // The schema of before: no message_id.
    using db = new DatabaseSync(path);
    db.exec(`PRAGMA application_id = ${HISTORY_APPLICATION_ID}`);
    db.exec(
      "CREATE TABLE lines (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, peer TEXT NOT NULL, " +
        "direction TEXT NOT NULL, state TEXT NOT NULL, text TEXT NOT NULL)",
    );
    db.exec(
      "INSERT INTO lines (at, peer, direction, state, text) VALUES (0, 'bo@bb.com', 'out', 'sent', 'old')",
    );
  }
  const shown: string[] = [];
  const clock = new ManualClock();
  const ui = {
    info: (t: string) => shown.push(t),
    warn: (t: string) => shown.push(t),
  } as unknown as AgentUi;
  const history = ChatHistory.open({ path, ui, clock });
  try {
    history.record("bo@bb.com", "out", "new one", "00112233445566ff");
    history.markDelivered("00112233445566ff");
    history.markDelivered("ffffffffffffffff"); // no such line: ignored
    {
      using db = new DatabaseSync(path, { readOnly: true });
      const rows = db.prepare("SELECT state, message_id FROM lines ORDER BY id").all();
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        [{ state: "sent", message_id: null }],
        "not yet written",
      );
    }
    clock.advance(FLUSH_AFTER_MS);
    history.show("bo@bb.com", 2);
    assert.deepEqual(shown.map((l) => l.replace(/^\S+ \S+ /, "")), [
      "you -> bo@bb.com: old",
      "you -> bo@bb.com: new one \u2713",
    ]);
  } finally {
    history.close();
  }
  using db = new DatabaseSync(path, { readOnly: true });
  const rows = db.prepare("SELECT state, message_id FROM lines ORDER BY id").all();
  assert.deepEqual(rows.map((r) => ({ ...r })), [
    { state: "sent", message_id: null },
    { state: "delivered", message_id: "00112233445566ff" },
  ]);
});

Deno.test("lines unacknowledged when the sender stops are sent again by its next run, once", async () => {
  const dir = await tempDir("receipts-restart-");
  const started = await startNode(dir, "rs.test", ["ana", "bo"]);
  await using _node = started.process;
  await using front = NodeFront.open(started.endpoint, IP.front);
  await using bo = await startAgent(dir, "bo@rs.test", "Bo", started.endpoint);
  const boAt = await advertisedEndpoint(bo);
  const anaArgs = ["--history", `${dir}/ana.db`];
  const lines = burst("kept", 20);
  {
    await using ana = await startAgent(dir, "ana@rs.test", "Ana", front.address, anaArgs);
    // Only Ana's hello passes: none of her lines reaches Bo.
    await using tap = TcpTap.open(boAt, { ip: IP.tap, hook: swallowAfter("caller", 1) });
    front.redirect(boAt, tap.address);
    await ana.send("/call bo@rs.test");
    await ana.waitFor(/^Connected to Bo \(bo@rs\.test\)$/);
    await ana.send(lines.join("\n"));
    await ana.send("/list");
    await ana.waitFor(/^\* bo@rs\.test {2}conversation with Bo/);
    await ana.send("/quit");
    await ana.exited();
    await bo.waitFor(/^Conversation with Ana ended/);
  }
  assert.deepEqual(shown(bo, "Ana"), []);
  front.redirect(boAt, boAt);
  await using ana = await startAgent(dir, "ana@rs.test", "Ana", front.address, anaArgs);
  await ana.send("/call bo@rs.test");
  await ana.waitFor(/^Connected to Bo \(bo@rs\.test\)$/);
  await ana.send("new run");
  await bo.waitFor(/^Ana: new run$/);
  assert.deepEqual(shown(bo, "Ana"), [...lines, "new run"]);
  await bo.send("all in");
  await ana.waitFor(/^Bo: all in$/);
  const from = ana.lines.length;
  await ana.send("/history bo@rs.test 22");
  await ana.waitFor(/^\S+ \S+ bo@rs\.test -> you: all in$/, { from });
  const marks = ana.lines.slice(from).filter((l) => / you -> bo@rs\.test: .* \u2713$/.test(l));
  assert.equal(marks.length, lines.length + 1);
});

Deno.test("at a terminal, a delivered line is followed by a small ✓ notice", async () => {
  const dir = await tempDir("receipts-pty-");
  const started = await startNode(dir, "pt.test", ["ana", "bo"]);
  await using _node = started.process;
  await using bo = await startAgent(dir, "bo@pt.test", "Bo", started.endpoint);
  const { ip, port } = started.endpoint;
  await using ana = await PtyProgram.start(
    "agent",
    ["--address", "ana@pt.test", "--nick", "Ana", "--node", `${ip}:${port}`],
    { cwd: dir },
  );
  let at = await ana.waitFor(/Registered /);
  await ana.type(`/call bo@pt.test${Keys.enter}`);
  at = await ana.waitFor(/Connected to Bo \(bo@pt\.test\)/, { from: at });
  await ana.type(`hello bo${Keys.enter}`);
  await bo.waitFor(/^Ana: hello bo$/);
  await ana.waitFor(/\u2713 delivered to Bo/, { from: at });
});
