/**
 * The terminal client as a person at a terminal uses it (issue 19): the real
 * agent on a pseudo-terminal, its screen rebuilt by a terminal emulator, and
 * keys typed as a terminal sends them.
 */

import assert from "#assert";
import { Screen } from "../lib/agent/terminal/_screen.ts";
import { startAgent, startNode } from "./support/agent_peers.ts";
import { tempDir } from "./support/process.ts";
import { PtyProgram } from "./support/pty.ts";

const LEFT = "\x1b[D";
const HOME = "\x1b[H";
const UP = "\x1b[A";
const TIME = String.raw`\d\d:\d\d`;

/** Wait until a row of the screen matches `pattern`; the rows, for the next checks. */
async function screenShows(pty: PtyProgram, screen: Screen, pattern: RegExp): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await screen.lines();
    if (rows.some((row) => pattern.test(row))) return rows;
    if (Date.now() > deadline) {
      throw new Error(`no row matching ${pattern}:\n${rows.join("\n")}`);
    }
    await pty.child.changed(500);
  }
}

Deno.test("at a terminal: line editing on graphemes, history, Tab completion, times and the status line", async () => {
  const dir = await tempDir("pty-client-");
  const started = await startNode(dir, "bb.test", ["laura", "joan"], "127.0.28.30:0");
  await using _node = started.process;
  await using joan = await startAgent(dir, "joan@bb.test", "Joan", started.endpoint);
  const { ip, port } = started.endpoint;
  await using laura = await PtyProgram.start(
    "agent",
    ["--address", "laura@bb.test", "--nick", "Laura", "--node", `${ip}:${port}`],
    { cwd: dir },
  );
  const screen = new Screen(80, 24);
  const shown = laura.child.onChunk;
  const decoder = new TextDecoder();
  laura.child.onChunk = (bytes) => {
    shown?.(bytes);
    screen.write(decoder.decode(bytes, { stream: true }));
  };
  try {
    await screenShows(laura, screen, /Type an address to call someone/);
    // The first start makes the profile, in the data folder (not in the current folder).
    await laura.waitFor(/Created your profile .*\/data\/laura@bb\.test\/lumi\/lumi-agent\.ini: /);

    // Cursor movement: the missing first letter is typed at the start of the line.
    await laura.type(`oan@bb.test${HOME}j\r`);
    await screenShows(
      laura,
      screen,
      new RegExp(`^${TIME} Connected to Joan \\(joan@bb\\.test\\)$`),
    );
    await screenShows(laura, screen, /^\[Laura → joan@bb\.test\]$/);

    // Backspace removes an emoji with joiners whole; the cursor steps over it whole.
    await laura.type("hi 👨‍👩‍👧x\x7f\x7f!");
    await laura.type(`${LEFT}${LEFT}:`);
    await laura.type("\r");
    await joan.waitFor(/^Laura: hi: !$/);
    await screenShows(laura, screen, new RegExp(`^${TIME} Laura: hi: !$`));

    // An empty line sends nothing; Up brings the last line back.
    const from = joan.lines.length;
    await laura.type(`\r${UP}?\r`);
    await joan.waitFor(/^Laura: hi: !\?$/, { from });
    assert.ok(!joan.lines.slice(from).some((l) => l === "Laura: "), joan.lines.join("\n"));

    // A paste of several lines is sent as its lines, in order, once; a long one travels whole
    // between two LUMI agents (inside the encrypted channel).
    const words = Array.from({ length: 60 }, (_, i) => `word${i}👍🏽`);
    const pasted = joan.lines.length;
    await laura.type(`\x1b[200~first line\r\nsecond\tline\r\n${words.join(" ")}\x1b[201~\r`);
    await joan.waitFor(/^Laura: .*word59👍🏽$/, { from: pasted });
    const got = joan.lines.slice(pasted).filter((l) => l.startsWith("Laura: "));
    assert.deepEqual(got.slice(0, 2), ["Laura: first line", "Laura: second line"]);
    assert.deepEqual(got.slice(2), [`Laura: ${words.join(" ")}`]);

    // Tab completes a command, then an address.
    await laura.type("/wh\tjo\t\r");
    await screenShows(laura, screen, new RegExp(`^${TIME} Laura> /whois joan@bb\\.test $`));
    await screenShows(
      laura,
      screen,
      new RegExp(`^${TIME} {3}conversation: joan@bb\\.test, nickname Joan$`),
    );

    // A peer's line carries its time.
    await joan.send("hello laura");
    await screenShows(laura, screen, new RegExp(`^${TIME} Joan: hello laura$`));

    // A second conversation: lines there count as unread on the status line.
    await laura.type("/group club\r");
    await screenShows(laura, screen, /^\[Laura → #club\] {2}joan@bb\.test$/);
    await joan.send("psst");
    await screenShows(laura, screen, /^\[Laura → #club\] {2}joan@bb\.test \(1 unread\)$/);

    await laura.type("/quit\r");
    assert.equal(await laura.exited(), 0);
    // Logs live in the data folder, never in the current one.
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.ok(!names.some((n) => n.endsWith(".log")), names.join(" "));
    await Deno.stat(`${dir}/data/laura@bb.test/lumi/logs/laura@bb.test.log`);
  } finally {
    screen.dispose();
  }
});
