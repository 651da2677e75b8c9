/**
 * End-to-end encryption between LUMI agents, with real node and agent
 * processes on loopback and an attacker on the path between them
 * (`support/e2e_path.ts`): the caller's node traffic goes through a relay that
 * sends its calls to a proxy of the test's choosing (addresses 127.0.27.x).
 */

import assert from "#assert";
import {
  advertisedEndpoint,
  OriginalAgent,
  RawPmi,
  startAgent,
  startNode,
} from "./support/agent_peers.ts";
import { flipped, Interceptor, isFrame, NodeFront, TcpTap } from "./support/e2e_path.ts";
import type { FrameHook } from "./support/e2e_path.ts";
import { tempDir, testDataHome } from "./support/process.ts";

const IP = { front: "127.0.27.1", tap: "127.0.27.2", mitm: "127.0.27.3" };

/**
 * A hook that does `what` to the first encrypted frame the caller sends once
 * `armed()` says so (frames before it, the receipts hello and lines sent
 * again after a break included, pass).
 */
function onCallerRecord(
  armed: () => boolean,
  what: (frame: Uint8Array) => Uint8Array[],
): FrameHook {
  let done = false;
  return (side, frame) => {
    if (side !== "caller" || !isFrame(frame, "E") || done || !armed()) return [frame];
    done = true;
    return what(frame);
  };
}

Deno.test("conversations between LUMI agents are end-to-end encrypted", async (t) => {
  const dir = await tempDir("e2e-");
  const started = await startNode(dir, "e2e.test", ["ana", "bo", "pere", "cy"]);
  await using _node = started.process;
  await using front = NodeFront.open(started.endpoint, IP.front);
  const bo = await startAgent(dir, "bo@e2e.test", "Bo", started.endpoint);
  await using _bo = bo;
  const boAt = await advertisedEndpoint(bo);
  const ana = await startAgent(dir, "ana@e2e.test", "Ana", front.address);
  await using _ana = ana;

  /** Ana calls Bo through `proxy` (or straight) and waits until both show the conversation. */
  const call = async (to: { ip: string; port: number }) => {
    front.redirect(boAt, to);
    const fromAna = ana.lines.length, fromBo = bo.lines.length;
    await ana.send("/call bo@e2e.test");
    await ana.waitFor(/^Connected to Bo \(bo@e2e\.test\)$/, { from: fromAna });
    await bo.waitFor(/^Incoming call from Ana \(ana@e2e\.test\)$/, { from: fromBo });
    return { fromAna, fromBo };
  };
  const hangUp = async () => {
    const fromAna = ana.lines.length, fromBo = bo.lines.length;
    await ana.send("/exit");
    await ana.waitFor(/^Conversation with Bo ended/, { from: fromAna });
    await bo.waitFor(/^Conversation with Ana ended/, { from: fromBo });
  };

  await t.step("a passive capture of the chat holds none of the typed text", async () => {
    await using tap = TcpTap.open(boAt, { ip: IP.tap });
    const { fromAna, fromBo } = await call(tap.address);
    await ana.waitFor(
      /^Conversation with Bo \(bo@e2e\.test\): encrypted \(first contact, key pinned; not verified: \/verify bo@e2e\.test\)$/,
      { from: fromAna },
    );
    await bo.waitFor(/^Conversation with Ana \(ana@e2e\.test\): encrypted \(first contact/, {
      from: fromBo,
    });
    const long = "the long one ".repeat(40).trim();
    await ana.send("meet me at the old mill at noon");
    await ana.send(long);
    await bo.waitFor(/^Ana: meet me at the old mill at noon$/);
    await bo.waitFor(new RegExp(`^Ana: ${long}$`)); // whole, not cut at 99 bytes
    await bo.send("understood, the mill at noon");
    await ana.waitFor(/^Bo: understood, the mill at noon$/);
    const capture = tap.capturedText();
    for (const secret of ["old mill", "noon", "long one", "understood"]) {
      assert.ok(!capture.includes(secret), `"${secret}" crossed the path in clear`);
    }
    assert.ok(tap.frames("caller").filter((f) => isFrame(f, "E")).length >= 2);
    assert.ok(tap.frames("callee").some((f) => isFrame(f, "E")));
    await ana.send("/list");
    await ana.waitFor(/^\* bo@e2e\.test {2}conversation with Bo \(encrypted\)$/);
    await hangUp();
  });

  await t.step(
    "/verify shows the same safety number on both sides, then marks the peer verified",
    async () => {
      await ana.send("/verify bo@e2e.test");
      const mine = await ana.waitFor(/^Safety number with bo@e2e\.test: ((?:\d{5} ){11}\d{5})$/);
      await bo.send("/verify ana@e2e.test");
      const theirs = await bo.waitFor(/^Safety number with ana@e2e\.test: ((?:\d{5} ){11}\d{5})$/);
      assert.equal(mine[1], theirs[1]);
      const { fromAna } = await call(boAt);
      await ana.waitFor(/^Conversation with Bo \(bo@e2e\.test\): encrypted, verified$/, {
        from: fromAna,
      });
      await hangUp();
    },
  );

  for (
    const [name, what, reason] of [
      ["changed", (f: Uint8Array) => [flipped(f)], /a frame was changed on the way/],
      ["replayed", (f: Uint8Array) => [f, f], /a frame came again or out of order \(replayed\)/],
      ["dropped", (_f: Uint8Array) => [], /a frame is missing \(dropped or reordered/],
    ] as const
  ) {
    await t.step(`a ${name} frame ends the conversation with a clear reason`, async () => {
      // The first line passes; what happens to the next record decides.
      let armed = false;
      const hook = onCallerRecord(() => armed, what);
      await using tap = TcpTap.open(boAt, { ip: IP.tap, hook });
      const { fromAna, fromBo } = await call(tap.address);
      await ana.send("first line");
      // Lines a break left unacknowledged in the step before are sent again first (receipts).
      const first = await bo.waitFor(/^Ana: first line$/, { from: fromBo });
      const afterFirst = bo.lines.indexOf(first[0], fromBo) + 1;
      armed = true;
      await ana.send("second line");
      if (name === "dropped") await ana.send("third line");
      const ended = await bo.waitFor(/^Conversation with Ana ended \((.*)\)$/, { from: fromBo });
      assert.match(ended[1]!, /^the encrypted channel broke: /);
      assert.match(ended[1]!, reason);
      if (name !== "replayed") {
        assert.ok(!bo.lines.slice(afterFirst).some((l) => /^Ana: (second|third) line$/.test(l)));
      }
      await ana.waitFor(/^Conversation with Bo ended \(Bo closed the connection\)$/, {
        from: fromAna,
      });
    });
  }

  await t.step(
    "a man in the middle with its own key is refused by the pin; no line reaches it",
    async () => {
      await using mitm = Interceptor.open(
        boAt,
        { caller: "ana@e2e.test", callee: "bo@e2e.test" },
        IP.mitm,
      );
      front.redirect(boAt, mitm.address);
      const fromAna = ana.lines.length;
      await ana.send("/call bo@e2e.test");
      await ana.waitFor(/^Cannot call bo@e2e\.test: WARNING: the key of bo@e2e\.test has CHANGED/, {
        from: fromAna,
      });
      await ana.send("are you there?");
      await ana.waitFor(/^Not in a conversation/, { from: fromAna });
      assert.deepEqual(mitm.log.completed, []);
      assert.deepEqual(mitm.log.lines, []);
      assert.ok(!ana.lines.slice(fromAna).some((l) => l.startsWith("Connected to")));
    },
  );

  await t.step("a changed key is refused until /trust, then the call goes through", async () => {
    // Bo starts again with a new identity key (its key file removed).
    await bo.send("/quit");
    await bo.exited();
    await Deno.remove(`${testDataHome(dir, ["--address", "bo@e2e.test"])}/lumi/bo@e2e.test.key`);
    const bo2 = await startAgent(dir, "bo@e2e.test", "Bo", started.endpoint);
    await using _bo2 = bo2;
    await bo2.waitFor(/^Identity key made \(first start\)/);
    const at = await advertisedEndpoint(bo2);
    front.redirect(at, at);
    let fromAna = ana.lines.length;
    await ana.send("/call bo@e2e.test");
    await ana.waitFor(/^Cannot call bo@e2e\.test: WARNING: the key of bo@e2e\.test has CHANGED/, {
      from: fromAna,
    });
    assert.ok(!bo2.lines.some((l) => l.startsWith("Incoming call")));
    await ana.send("/trust bo@e2e.test");
    await ana.waitFor(/^The new key of bo@e2e\.test is trusted now/);
    fromAna = ana.lines.length;
    await ana.send("/call bo@e2e.test");
    await ana.waitFor(/^Conversation with Bo \(bo@e2e\.test\): encrypted \(not verified/, {
      from: fromAna,
    });
    await ana.send("hello new bo");
    await bo2.waitFor(/^Ana: hello new bo$/);
    await ana.send("/exit");
    await ana.waitFor(/^Conversation with Bo ended/, { from: fromAna });
  });

  await t.step(
    "an original agent still chats, marked in clear; --require-encryption refuses it",
    async () => {
      await using pere = new OriginalAgent("pere@e2e.test");
      await pere.register(started.endpoint);
      const fromAna = ana.lines.length;
      await ana.send("/call pere@e2e.test");
      await pere.answerLookup();
      const conn = await pere.accept();
      await using _conn = conn;
      assert.equal(await conn.read(6), "N03Ana");
      await conn.send("N04Pere");
      await ana.waitFor(/^Connected to Pere \(pere@e2e\.test\)$/, { from: fromAna });
      await ana.waitFor(
        /^Conversation with Pere \(pere@e2e\.test\): in clear \(an original agent: anyone on the path can read it\)$/,
        { from: fromAna },
      );
      await ana.send("hi pere");
      assert.equal(await conn.read(10), "L07hi pere");
      await conn.send("L06hi ana");
      await ana.waitFor(/^Pere: hi ana$/, { from: fromAna });

      const cy = await startAgent(dir, "cy@e2e.test", "Cy", started.endpoint, [
        "--require-encryption",
      ]);
      await using _cy = cy;
      await cy.send("pere@e2e.test");
      await pere.answerLookup();
      await cy.waitFor(
        /^Cannot call pere@e2e\.test: it is an original agent \(the conversation would be in clear\) and --require-encryption is set$/,
      );
      // And the other way: an original caller is refused by an agent that requires encryption.
      const answer = await pere.lookup(started.endpoint, "cy@e2e.test");
      const [ip, port] = answer.split(":").slice(2, 4);
      await using caller = await RawPmi.connect({ ip: ip!, port: Number(port) });
      await caller.send("N04Pere");
      assert.equal((await caller.readFrame()).text, "Cy");
      await caller.expectEnd();
      await cy.waitFor(
        /^Incoming connection from 127\.0\.0\.1:\d+ dropped: the peer talks in clear \(an original agent\) and --require-encryption is set$/,
      );
    },
  );
});
