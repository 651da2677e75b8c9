import assert from "#assert";
import { COMMAND_NAMES, parseCommand } from "./commands.ts";

Deno.test("an address typed while free places a call; /call does the same", () => {
  assert.deepEqual(parseCommand("joan@bb.com", false), { kind: "call", address: "joan@bb.com" });
  assert.deepEqual(parseCommand("  /call u2@PC-d ", false), { kind: "call", address: "u2@PC-d" });
});

// Was "… even one that looks like an address or is empty": issue 19, an empty line sends nothing.
Deno.test("in a conversation every line is sent, even one that looks like an address; an empty one is not", () => {
  assert.deepEqual(parseCommand("joan@bb.com", true), { kind: "say", text: "joan@bb.com" });
  assert.deepEqual(parseCommand("", true), { kind: "nothing" });
  assert.deepEqual(parseCommand("   ", true), { kind: "nothing" });
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

Deno.test("commands for several conversations and groups", () => {
  assert.deepEqual(parseCommand("/list", true), { kind: "list" });
  assert.deepEqual(parseCommand("/switch joan@bb.com", true), {
    kind: "switch",
    target: "joan@bb.com",
  });
  assert.equal(parseCommand("/switch", true).kind, "invalid");
  assert.deepEqual(parseCommand("/close", true), { kind: "close" });
  assert.deepEqual(parseCommand("/close Pere", true), { kind: "close", target: "Pere" });
  assert.deepEqual(parseCommand("/group friends", false), { kind: "group", name: "friends" });
  assert.deepEqual(parseCommand("/group #friends", false), { kind: "group", name: "friends" });
  assert.equal(parseCommand("/group two words", false).kind, "invalid");
  assert.deepEqual(parseCommand("/invite joan@bb.com", true), {
    kind: "invite",
    address: "joan@bb.com",
  });
  assert.equal(parseCommand("/invite joan", true).kind, "invalid");
  assert.deepEqual(parseCommand("/leave", true), { kind: "leave" });
  assert.deepEqual(parseCommand("/leave #friends", true), { kind: "leave", target: "#friends" });
  assert.deepEqual(parseCommand("/call joan@bb.com", true), {
    kind: "call",
    address: "joan@bb.com",
  });
});

Deno.test("a bare name is explained as an address without its domain", () => {
  const free = parseCommand("joan", false);
  assert.equal(
    free.kind === "invalid" ? free.message : "",
    'Not in a conversation, and "joan" is not an address: add @ and the domain, e.g. joan@example.test',
  );
  const call = parseCommand("/call joan", false);
  assert.equal(
    call.kind === "invalid" ? call.message : "",
    '"joan" is not an address: add @ and the domain, e.g. joan@example.test',
  );
});

Deno.test("/trust and /verify take one address", () => {
  assert.deepEqual(parseCommand("/trust bo@aa.test", true), {
    kind: "trust",
    address: "bo@aa.test",
  });
  assert.deepEqual(parseCommand("/verify bo@aa.test", false), {
    kind: "verify",
    address: "bo@aa.test",
  });
  assert.equal(parseCommand("/trust", true).kind, "invalid");
  assert.equal(parseCommand("/verify nobody", true).kind, "invalid");
});

Deno.test("the chat client's commands: /me, /away, /back, /nick, /clear, /whois, /accept, /decline, /topic", () => {
  assert.deepEqual(parseCommand("/me waves", true), { kind: "me", text: "waves" });
  assert.equal(parseCommand("/me", true).kind, "invalid");
  assert.deepEqual(parseCommand("/away", true), { kind: "away", text: "" });
  assert.deepEqual(parseCommand("/away at lunch", false), { kind: "away", text: "at lunch" });
  assert.deepEqual(parseCommand("/back", true), { kind: "back" });
  assert.deepEqual(parseCommand("/nick Lau", true), { kind: "nick", nick: "Lau" });
  assert.deepEqual(parseCommand("/clear", true), { kind: "clear" });
  assert.deepEqual(parseCommand("/whois joan@bb.test", true), {
    kind: "whois",
    address: "joan@bb.test",
  });
  assert.equal(parseCommand("/whois joan", true).kind, "invalid");
  assert.deepEqual(parseCommand("/accept", false), { kind: "accept" });
  assert.deepEqual(parseCommand("/decline #club", false), { kind: "decline", target: "#club" });
  assert.deepEqual(parseCommand("/topic", true), { kind: "topic" });
  assert.deepEqual(parseCommand("/topic Friday plans", true), {
    kind: "topic",
    text: "Friday plans",
  });
});

Deno.test("every command in /help is offered for completion", () => {
  for (const name of ["/call", "/me", "/accept", "/decline", "/whois", "/quit", "/help"]) {
    assert.ok(COMMAND_NAMES.includes(name), name);
  }
  assert.ok(COMMAND_NAMES.every((name) => /^\/[a-z]+$/.test(name)));
});
