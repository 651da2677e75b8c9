/**
 * Several conversations at once, end to end: real agent processes and a
 * real node on loopback. Lines are routed to the conversation the user
 * chose, and every line shown says which conversation it comes from.
 */

import assert from "#assert";
import { startAgent, startNode } from "./support/agent_peers.ts";
import type { ChildProcess } from "./support/process.ts";
import { tempDir } from "./support/process.ts";

/** The lines `agent` printed since line `from` that start with `prefix`. */
function linesFrom(agent: ChildProcess, prefix: string, from = 0): string[] {
  return agent.lines.slice(from).filter((line) => line.startsWith(prefix));
}

Deno.test("three conversations at once: every line goes where the user chose and shows where it came from", async (t) => {
  const dir = await tempDir("multichat-");
  const started = await startNode(dir, "bb.com", ["laura", "joan", "pere", "anna"]);
  await using _node = started.process;
  const nodeAt = started.endpoint;
  const [laura, joan, pere, anna] = await Promise.all([
    startAgent(dir, "laura@bb.com", "Laura", nodeAt),
    startAgent(dir, "joan@bb.com", "Joan", nodeAt),
    startAgent(dir, "pere@bb.com", "Pere", nodeAt),
    startAgent(dir, "anna@bb.com", "Anna", nodeAt),
  ]);
  await using _laura = laura;
  await using _joan = joan;
  await using _pere = pere;
  await using _anna = anna;

  await t.step("Laura calls Joan; Pere and Anna call Laura while she talks", async () => {
    await laura.send("joan@bb.com");
    await laura.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
    await joan.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);

    await pere.send("laura@bb.com");
    await pere.waitFor(/^Connected to Laura \(laura@bb\.com\)$/);
    await laura.waitFor(/^Incoming call from Pere \(pere@bb\.com\)$/);
    await laura.waitFor(
      /^Typed lines still go to joan@bb\.com \(\/switch pere@bb\.com to change\)$/,
    );

    await anna.send("laura@bb.com");
    await anna.waitFor(/^Connected to Laura \(laura@bb\.com\)$/);
    await laura.waitFor(/^Incoming call from Anna \(anna@bb\.com\)$/);
  });

  await t.step("lines from each of the three are shown with their conversation", async () => {
    await joan.send("one from joan");
    await pere.send("one from pere");
    await anna.send("one from anna");
    await laura.waitFor(/^\[joan@bb\.com\] Joan: one from joan$/);
    await laura.waitFor(/^\[pere@bb\.com\] Pere: one from pere$/);
    await laura.waitFor(/^\[anna@bb\.com\] Anna: one from anna$/);
  });

  await t.step(
    "typed lines go to the current conversation; /switch by address or nickname moves them",
    async () => {
      await laura.send("to joan");
      await joan.waitFor(/^Laura: to joan$/);
      await laura.send("/switch Pere");
      await laura.waitFor(/^Typed lines now go to pere@bb\.com$/);
      await laura.send("to pere");
      await pere.waitFor(/^Laura: to pere$/);
      await laura.send("/switch anna@bb.com");
      await laura.waitFor(/^Typed lines now go to anna@bb\.com$/);
      await laura.send("to anna");
      await anna.waitFor(/^Laura: to anna$/);

      const from = laura.lines.length;
      await laura.send("/list");
      await laura.waitFor(/^\* anna@bb\.com {2}conversation with Anna \(encrypted\)$/, { from });
      await laura.waitFor(/^ {2}joan@bb\.com {2}conversation with Joan \(encrypted\)$/, { from });
      await laura.waitFor(/^ {2}pere@bb\.com {2}conversation with Pere \(encrypted\)$/, { from });
    },
  );

  await t.step(
    "/close and /exit end the chosen conversations; each peer got only its own lines",
    async () => {
      await laura.send("/close pere@bb.com");
      await laura.waitFor(/^Conversation with Pere ended \(you left\)$/);
      await pere.waitFor(/^Conversation with Laura ended \(Laura closed the connection\)$/);
      await laura.send("/exit");
      await laura.waitFor(/^Conversation with Anna ended \(you left\)$/);
      await anna.waitFor(/^Conversation with Laura ended \(Laura closed the connection\)$/);
      await laura.waitFor(/^Typed lines now go to joan@bb\.com$/);
      // Everything sent before a close has arrived once the close is seen: nothing was misrouted.
      assert.deepEqual(linesFrom(pere, "Laura: "), ["Laura: to pere"]);
      assert.deepEqual(linesFrom(anna, "Laura: "), ["Laura: to anna"]);
    },
  );

  await t.step(
    "with one conversation left, lines are shown as the original agent shows them",
    async () => {
      await laura.send("back to you");
      await joan.waitFor(/^Laura: back to you$/);
      await joan.send("single again");
      await laura.waitFor(/^Joan: single again$/);
      await joan.send("/exit");
      await laura.waitFor(/^Conversation with Joan ended \(Joan closed the connection\)$/);
      assert.deepEqual(linesFrom(joan, "Laura: "), ["Laura: to joan", "Laura: back to you"]);
    },
  );
});

Deno.test("past --max-chats, look-ups are answered busy and the caller is told", async () => {
  const dir = await tempDir("maxchats-");
  const started = await startNode(dir, "bb.com", ["laura", "joan", "pere", "anna"]);
  await using _node = started.process;
  const nodeAt = started.endpoint;
  const [laura, joan, pere, anna] = await Promise.all([
    startAgent(dir, "laura@bb.com", "Laura", nodeAt, ["--max-chats", "2"]),
    startAgent(dir, "joan@bb.com", "Joan", nodeAt),
    startAgent(dir, "pere@bb.com", "Pere", nodeAt),
    startAgent(dir, "anna@bb.com", "Anna", nodeAt),
  ]);
  await using _laura = laura;
  await using _joan = joan;
  await using _pere = pere;
  await using _anna = anna;

  // A conversation counts once a line has passed (one that says nothing never makes Laura busy).
  await joan.send("laura@bb.com");
  await joan.waitFor(/^Connected to Laura/);
  await joan.send("hi");
  await laura.waitFor(/Joan: hi$/);
  await pere.send("laura@bb.com");
  await pere.waitFor(/^Connected to Laura/);
  await pere.send("hi");
  await laura.waitFor(/Pere: hi$/);
  await anna.send("laura@bb.com");
  await anna.waitFor(/^laura@bb\.com is busy$/);
  await laura.waitFor(/^anna@bb\.com tried to call you \(answered busy\)$/);
  await laura.send("/call anna@bb.com");
  await laura.waitFor(
    /^Cannot call anna@bb\.com: already in 2 conversations \(raise --max-chats for more\)$/,
  );

  await pere.send("/exit");
  await laura.waitFor(/^Conversation with Pere ended \(Pere closed the connection\)$/);
  await anna.send("laura@bb.com");
  await anna.waitFor(/^Connected to Laura/);
  await anna.send("room again");
  await laura.waitFor(/^\[anna@bb\.com\] Anna: room again$/);
});
