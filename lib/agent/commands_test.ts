import assert from "#assert";
import { parseCommand } from "./commands.ts";

Deno.test("an address typed while free places a call; /call does the same", () => {
  assert.deepEqual(parseCommand("joan@bb.com", false), { kind: "call", address: "joan@bb.com" });
  assert.deepEqual(parseCommand("  /call u2@PC-d ", false), { kind: "call", address: "u2@PC-d" });
});

Deno.test("in a conversation every line is sent, even one that looks like an address or is empty", () => {
  assert.deepEqual(parseCommand("joan@bb.com", true), { kind: "say", text: "joan@bb.com" });
  assert.deepEqual(parseCommand("", true), { kind: "say", text: "" });
  assert.deepEqual(parseCommand("  spaced  ", true), { kind: "say", text: "  spaced  " });
});

Deno.test("a double slash sends a line starting with a slash", () => {
  assert.deepEqual(parseCommand("//exit", true), { kind: "say", text: "/exit" });
});

Deno.test("commands are recognised in any case; unknown ones are reported", () => {
  assert.deepEqual(parseCommand("/EXIT", true), { kind: "exit" });
  assert.deepEqual(parseCommand("/quit", false), { kind: "quit" });
  assert.deepEqual(parseCommand("/help", true), { kind: "help" });
  assert.deepEqual(parseCommand("/wait", false), { kind: "wait" });
  const unknown = parseCommand("/dance", true);
  assert.equal(unknown.kind, "invalid");
});

Deno.test("text typed while free is explained, not sent", () => {
  assert.deepEqual(parseCommand("   ", false), { kind: "nothing" });
  const text = parseCommand("hello", false);
  assert.equal(text.kind, "invalid");
  assert.match(text.kind === "invalid" ? text.message : "", /Not in a conversation/);
  const bad = parseCommand("jo an@bb.com", false);
  assert.equal(bad.kind, "invalid");
  assert.match(bad.kind === "invalid" ? bad.message : "", /^Not an address/);
  assert.equal(parseCommand("/call", false).kind, "invalid");
});
