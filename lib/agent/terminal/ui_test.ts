import assert from "#assert";
import { tick } from "../_testing.ts";
import { Screen } from "./_screen.ts";
import { peerColour } from "./style.ts";
import { PlainUi, type RawTerminal, sanitize, TerminalUi } from "./ui.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
}

Deno.test("plain UI reads LF and CRLF lines, and a last line without newline", async () => {
  const ui = new PlainUi({ input: streamOf("a\r\nb", "\n\nlast"), write: () => {} });
  const lines = [];
  for (let line = await ui.readLine(); line !== null; line = await ui.readLine()) lines.push(line);
  assert.deepEqual(lines, ["a", "b", "", "last"]);
});

Deno.test("plain UI prints plain lines, with a peer's control characters made harmless", () => {
  let out = "";
  const ui = new PlainUi({ input: null, write: (text) => (out += text) });
  ui.info("Registered laura@bb.com with node 127.0.0.1:3344");
  ui.chat("Jo\x1b[31man", "hi\rthere");
  assert.equal(
    out,
    "Registered laura@bb.com with node 127.0.0.1:3344\nJo\\x1b[31man: hi\\x0dthere\n",
  );
  assert.equal(sanitize("tab\there"), "tab\\x09here");
});

const at1204 = () => new Date(2026, 0, 1, 12, 4);

function fakeTerminal(color = false, cols = 40) {
  let push: (chunk: Uint8Array) => void = () => {};
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (chunk) => controller.enqueue(chunk);
    },
  });
  const screen = new Screen(cols, 8);
  const terminal = {
    screen,
    raw: false,
    color,
    input,
    setRaw(raw: boolean) {
      terminal.raw = raw;
    },
    write(text: string) {
      screen.write(text);
    },
    columns: () => cols,
    type: (text: string) => push(new TextEncoder().encode(text)),
  };
  return terminal satisfies RawTerminal & { type(text: string): void };
}

/** A UI talking to joan@bb.test as Laura, on a fake terminal. */
function talking(color = false, cols = 40) {
  const terminal = fakeTerminal(color, cols);
  const ui = new TerminalUi(terminal, { now: at1204 });
  ui.setIdentity("Laura");
  ui.setTargets("joan@bb.test", ["joan@bb.test"]);
  ui.setPrompt("Laura> ");
  return { terminal, ui, screen: terminal.screen };
}

// Was an exact byte comparison; issue 19 adds the time and the status line, so the screen is read.
Deno.test("terminal UI redraws what the user is typing after a message arrives, with the time", async () => {
  const { terminal, ui, screen } = talking();
  assert.ok(terminal.raw);
  terminal.type("hel");
  await tick();
  ui.chat("Joan", "hello");
  assert.deepEqual(await screen.text(), [
    "12:04 Joan: hello",
    "[Laura → joan@bb.test]",
    "Laura> hel",
  ]);
  assert.deepEqual(await screen.cursor(), { x: 10, y: 2 });
  terminal.type("lo\r");
  assert.equal(await ui.readLine(), "hello");
  ui.close();
  assert.ok(!terminal.raw);
  screen.dispose();
});

Deno.test("terminal UI shows the user's own lines with their nick, and commands as typed", async () => {
  const { terminal, ui, screen } = talking();
  terminal.type("hi there\r");
  assert.equal(await ui.readLine(), "hi there");
  ui.own("Laura", "hi there");
  terminal.type("/list\r");
  assert.equal(await ui.readLine(), "/list");
  ui.own("Laura", "* Laura waves");
  assert.deepEqual(await screen.text(), [
    "12:04 Laura: hi there",
    "12:04 Laura> /list",
    "12:04 * Laura waves",
    "[Laura → joan@bb.test]",
    "Laura> ",
  ]);
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI shows only the part of a long line around the cursor", async () => {
  const { terminal, ui, screen } = talking();
  terminal.type("a".repeat(50) + "XYZ");
  await tick();
  let rows = await screen.text();
  assert.equal(rows.at(-1), `Laura> ${"a".repeat(29)}XYZ`);
  assert.deepEqual(await screen.cursor(), { x: 39, y: 1 });
  terminal.type("\x1b[H");
  await tick();
  rows = await screen.text();
  assert.equal(rows.at(-1), `Laura> ${"a".repeat(32)}`);
  assert.deepEqual(await screen.cursor(), { x: 7, y: 1 });
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI moves the cursor over an emoji with joiners as one character of two columns", async () => {
  const { terminal, ui, screen } = talking();
  terminal.type("a👨‍👩‍👧");
  await tick();
  const afterFamily = await screen.cursor();
  terminal.type("b");
  await tick();
  assert.deepEqual(await screen.cursor(), { x: afterFamily.x + 1, y: 1 });
  terminal.type("\x1b[D");
  await tick();
  assert.deepEqual(await screen.cursor(), afterFamily);
  terminal.type("\x1b[D");
  await tick();
  assert.deepEqual(await screen.cursor(), { x: 7 + 1, y: 1 });
  terminal.type("\x1b[C\x7f\r");
  assert.equal(await ui.readLine(), "ab");
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI status line counts unread lines elsewhere; a line there rings the bell", async () => {
  const { terminal, ui, screen } = talking(false, 60);
  ui.setTargets("#friends", ["joan@bb.test", "#friends"]);
  const before = screen.raw.length;
  ui.chat("Joan", "psst", "joan@bb.test");
  ui.chat("Joan", "are you there?", "joan@bb.test");
  ui.chat("Bo", "hi all", "#friends");
  const rows = await screen.text();
  assert.equal(rows.at(-2), "[Laura → #friends]  joan@bb.test (2 unread)");
  const written = screen.raw.slice(before);
  assert.equal(written.split("\x07").length - 1, 2 + 2); // two bells, two titles
  assert.ok(written.includes("\x1b]0;LUMI Laura (2 unread)\x07"));
  ui.setTargets("joan@bb.test", ["joan@bb.test", "#friends"]);
  assert.equal((await screen.text()).at(-2), "[Laura → joan@bb.test]  #friends");
  assert.ok(screen.raw.endsWith("Laura> ") || screen.raw.includes("\x1b]0;LUMI Laura\x07"));
  ui.setIdentity("Laura", "lunch");
  assert.equal((await screen.text()).at(-2), "[Laura → joan@bb.test]  #friends  [away: lunch]");
  terminal.type("x");
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI rings and sets the title on a call; clears the screen on /clear", async () => {
  const { ui, screen } = talking();
  ui.info("old line");
  const before = screen.raw.length;
  ui.ring("Incoming call from Joan (joan@bb.test)");
  assert.ok(screen.raw.slice(before).startsWith("\x07\x1b]0;Incoming call from Joan"));
  ui.clear();
  assert.deepEqual(await screen.text(), ["[Laura → joan@bb.test]", "Laura> "]);
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI gives each peer a stable colour, and none with NO_COLOR", () => {
  const coloured = talking(true);
  coloured.ui.chat("Joan", "hello", undefined, "joan@bb.test");
  assert.ok(coloured.screen.raw.includes(`\x1b[1;${peerColour("joan@bb.test")}mJoan\x1b[0m`));
  coloured.ui.close();
  coloured.screen.dispose();
  const plain = talking(false);
  plain.ui.chat("Joan", "hello", undefined, "joan@bb.test");
  plain.ui.warn("careful");
  // deno-lint-ignore no-control-regex
  assert.ok(!/\x1b\[[0-9;]*m/.test(plain.screen.raw));
  plain.ui.close();
  plain.screen.dispose();
});

Deno.test("terminal UI shows the candidates when Tab finds several", async () => {
  const { terminal, ui, screen } = talking();
  ui.complete = (_word, first) => first ? ["/switch", "/signup"] : [];
  terminal.type("/s\t");
  await tick();
  assert.ok((await screen.text()).includes("12:04 /signup  /switch"));
  terminal.type("w\t");
  await tick();
  assert.equal((await screen.text()).at(-1), "Laura> /switch ");
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI reports Ctrl-C and ends the input on Ctrl-D", async () => {
  const { terminal, ui, screen } = talking();
  let interrupts = 0;
  ui.onInterrupt = () => interrupts++;
  terminal.type("\x03");
  await tick();
  assert.equal(interrupts, 1);
  terminal.type("\x04");
  assert.equal(await ui.readLine(), null);
  ui.close();
  screen.dispose();
});

Deno.test("terminal UI shows typed lines in the order the agent takes them, commands included", async () => {
  const { terminal, ui, screen } = talking();
  terminal.type("hello Joan\r/group club\r");
  await tick();
  const first = await ui.readLine();
  ui.own("Laura", first!);
  assert.equal(await ui.readLine(), "/group club");
  assert.deepEqual((await screen.text()).slice(0, 2), [
    "12:04 Laura: hello Joan",
    "12:04 Laura> /group club",
  ]);
  ui.close();
  screen.dispose();
});
