import assert from "#assert";
import { Roster } from "../chat/roster.ts";
import { ScriptedUi } from "../_testing.ts";
import type { Group } from "../group/group.ts";
import {
  type ClientContext,
  completer,
  runClientCommand,
  topicOf,
  watchTopics,
} from "./client_commands.ts";

function context(ui: ScriptedUi, roster = new Roster(() => {})) {
  const sent: string[] = [];
  const ctx: ClientContext = {
    ui,
    me: { nick: "Laura", away: undefined },
    roster: () => roster,
    send: (text) => sent.push(text),
    buddies: () => ["pere@cc.test"],
    topics: new Map(),
  };
  return { ctx, sent, roster };
}

/** A group as the roster sees it: a label, members, nothing else needed here. */
function group(label: string, members: string[] = []): Group {
  return {
    label,
    has: (a: string) => members.includes(a),
    describe: () => "group",
  } as unknown as Group;
}

Deno.test("/away and /back change what the status line shows and say so", () => {
  const ui = new ScriptedUi(false);
  const { ctx } = context(ui);
  runClientCommand({ kind: "away", text: "lunch" }, ctx);
  assert.equal(ctx.me.away, "lunch");
  runClientCommand({ kind: "back" }, ctx);
  assert.equal(ctx.me.away, undefined);
  runClientCommand({ kind: "back" }, ctx);
  assert.deepEqual(ui.output, [
    "You are away (lunch): your buddies see you as busy until /back",
    "You are back: your buddies see you online",
    "You were not away",
  ]);
});

Deno.test("/topic sets a group's topic as a line every member sees, and shows it", () => {
  const ui = new ScriptedUi(false);
  const { ctx, sent, roster } = context(ui);
  runClientCommand({ kind: "topic", text: "x" }, ctx);
  assert.match(ui.output.at(-1)!, /^Typed lines do not go to a group/);
  roster.add(group("#club"), true);
  runClientCommand({ kind: "topic" }, ctx);
  assert.equal(ui.output.at(-1), "#club has no topic: /topic <text> sets one");
  runClientCommand({ kind: "topic", text: "Friday plans" }, ctx);
  assert.deepEqual(sent, ["* Laura set the topic: Friday plans"]);
  watchTopics(ui, ctx.topics);
  ui.chat("Joan", "* Joan set the topic: Saturday instead", "#club");
  runClientCommand({ kind: "topic" }, ctx);
  assert.equal(ui.output.at(-1), "Topic of #club: Saturday instead");
  assert.equal(topicOf("Joan", "* Pere set the topic: no"), undefined);
});

Deno.test("Tab offers commands first, then buddies, peers and groups", () => {
  const ui = new ScriptedUi(false);
  const { ctx, roster } = context(ui);
  roster.add(group("#club", ["joan@bb.test"]), true);
  const complete = completer(ctx);
  assert.ok(complete("/", true).includes("/accept"));
  assert.deepEqual([...complete("", false)].sort(), ["#club", "pere@cc.test"]);
});

Deno.test("/whois tells presence, groups and that encryption is not known yet", () => {
  const ui = new ScriptedUi(false);
  const { ctx, roster } = context(ui);
  roster.add(group("#club", ["joan@bb.test"]), true);
  runClientCommand({ kind: "whois", address: "joan@bb.test" }, {
    ...ctx,
    presence: () => ({ state: "online", where: "127.0.0.1:4000" }),
  });
  assert.deepEqual(ui.output, [
    "joan@bb.test:",
    "  presence:     online at 127.0.0.1:4000",
    "  conversation: none",
    "  groups:       #club",
    "  encryption:   off (--no-encryption): every conversation is in clear",
  ]);
  runClientCommand({ kind: "whois", address: "joan@bb.test" }, {
    ...ctx,
    encryption: () => ({ state: "encrypted, verified", fingerprint: "AB12 CD34" }),
  });
  assert.equal(ui.output.at(-1), "  encryption:   encrypted, verified, key AB12 CD34");
});
