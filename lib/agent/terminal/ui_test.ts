import assert from "#assert";
import { tick } from "../_testing.ts";
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

function fakeTerminal() {
  let push: (chunk: Uint8Array) => void = () => {};
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (chunk) => controller.enqueue(chunk);
    },
  });
  const terminal = {
    out: "",
    raw: false,
    color: false,
    input,
    setRaw(raw: boolean) {
      terminal.raw = raw;
    },
    write(text: string) {
      terminal.out += text;
    },
    columns: () => 40,
    type: (text: string) => push(new TextEncoder().encode(text)),
  };
  return terminal satisfies RawTerminal & { type(text: string): void };
}

Deno.test("terminal UI redraws what the user is typing after a message arrives", async () => {
  const terminal = fakeTerminal();
  const ui = new TerminalUi(terminal);
  assert.ok(terminal.raw);
  ui.setPrompt("Laura> ");
  terminal.type("hel");
  await tick();
  terminal.out = "";
  ui.chat("Joan", "hello");
  assert.equal(terminal.out, "\r\x1b[KJoan: hello\r\n\r\x1b[KLaura> hel");
  terminal.type("lo\r");
  assert.equal(await ui.readLine(), "hello");
  ui.close();
  assert.ok(!terminal.raw);
});

Deno.test("terminal UI shows only the end of a line longer than the screen", async () => {
  const terminal = fakeTerminal();
  const ui = new TerminalUi(terminal);
  ui.setPrompt("> ");
  terminal.type("a".repeat(50) + "XYZ");
  await tick();
  const last = terminal.out.slice(terminal.out.lastIndexOf("\r\x1b[K"));
  assert.equal(last, `\r\x1b[K> ${"a".repeat(34)}XYZ`);
  ui.close();
});

Deno.test("terminal UI reports Ctrl-C and ends the input on Ctrl-D", async () => {
  const terminal = fakeTerminal();
  const ui = new TerminalUi(terminal);
  let interrupts = 0;
  ui.onInterrupt = () => interrupts++;
  terminal.type("\x03");
  await tick();
  assert.equal(interrupts, 1);
  terminal.type("\x04");
  assert.equal(await ui.readLine(), null);
  ui.close();
});
