import assert from "#assert";
import type { Conversation } from "./conversation.ts";
import { type Chat, Roster } from "./roster.ts";

function chat(label: string, nick: string, address?: string): Chat {
  const conversation = { peerNick: nick, security: { kind: "clear" } } as unknown as Conversation;
  return { kind: "chat", label, address, conversation, ended: Promise.resolve() };
}

Deno.test("the first conversation becomes current and is shown without a prefix", () => {
  const notices: string[] = [];
  const roster = new Roster((t) => notices.push(t));
  const joan = chat("joan@bb.com", "Joan", "joan@bb.com");
  roster.add(joan, false);
  assert.equal(roster.current, joan);
  assert.equal(roster.prefixFor(joan), undefined);
  assert.deepEqual(notices, []);
});

Deno.test("incoming conversations do not take the focus; placed calls do; the next one takes over", () => {
  const notices: string[] = [];
  const roster = new Roster((t) => notices.push(t));
  const joan = chat("joan@bb.com", "Joan", "joan@bb.com");
  const pere = chat("pere@bb.com", "Pere", "pere@bb.com");
  const anna = chat("anna@bb.com", "Anna", "anna@bb.com");
  roster.add(joan, false);
  roster.add(pere, false);
  assert.equal(roster.current, joan);
  assert.equal(roster.prefixFor(joan), "joan@bb.com");
  roster.add(anna, true);
  assert.equal(roster.current, anna);
  assert.equal(roster.prompt("Laura"), "Laura [anna@bb.com]> ");
  roster.remove(anna);
  assert.equal(roster.current, pere);
  roster.remove(joan);
  assert.equal(roster.prompt("Laura"), "Laura> ");
  assert.deepEqual(notices, [
    "Typed lines still go to joan@bb.com (/switch pere@bb.com to change)",
    "Typed lines now go to anna@bb.com",
    "Typed lines now go to pere@bb.com",
  ]);
});

Deno.test("conversations are found by label, address in any domain case, or nickname", () => {
  const roster = new Roster(() => {});
  const joan = chat("joan@bb.com", "Joan", "joan@bb.com");
  const two = chat("Pere", "Pere");
  const three = chat(roster.uniqueLabel("Pere"), "Pere");
  roster.add(joan, false);
  roster.add(two, false);
  assert.equal(three.label, "Pere");
  const other = chat(roster.uniqueLabel("Pere"), "pere");
  roster.add(other, false);
  assert.equal(other.label, "Pere~2");
  assert.equal(roster.find("joan@BB.com"), joan);
  assert.equal(roster.find("JOAN"), joan);
  assert.equal(roster.find("Pere~2"), other);
  assert.equal(roster.find("Pere"), two);
  assert.match(roster.find("nobody") as string, /^No conversation matches "nobody"/);
  // Issue 19: one column of labels (was "  Pere  conversation with Pere", not aligned).
  assert.deepEqual(roster.list().slice(1), [
    "* joan@bb.com  conversation with Joan (in clear)",
    "  Pere         conversation with Pere (in clear)",
    "  Pere~2       conversation with pere (in clear)",
  ]);
});
