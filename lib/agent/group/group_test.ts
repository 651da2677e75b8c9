import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { connPair, readText, ScriptedUi, tick } from "../_testing.ts";
import { Group, type GroupHost } from "./group.ts";
import { GroupLink } from "./link.ts";
import { encodeRecord, type GroupRecord, RecordAssembler } from "./wire.ts";
import { PmiLink } from "../chat/pmi_link.ts";

const clock = new ManualClock();
const timing = {
  clock,
  nickTimeoutMs: 10_000,
  frameTimeoutMs: 5_000,
  maxQueuedBytes: 1 << 20,
  idleMs: 45_000,
};

function makeGroup(ui: ScriptedUi, address = "laura@bb.com") {
  const dialled: Endpoint[] = [];
  const host: GroupHost = {
    me: { address, nick: "Laura", endpoint: { ip: "127.0.0.1", port: 4000 } },
    ui,
    clock,
    maxSize: 16,
    dial: (_group, endpoint) => {
      dialled.push(endpoint);
      return new Promise<never>(() => {});
    },
  };
  return { group: new Group("k3x9q2ma", "friends", "#friends", host), dialled };
}

/** A link to `address` attached to `group`; returns the peer's end of the connection. */
function linkFrom(group: Group, address: string, nick: string, port: number): StreamConn {
  const [ours, theirs] = connPair();
  const link = new GroupLink(
    new PmiLink({ conn: ours, clock, extensionTypes: "G" }),
    new RecordAssembler(),
    "callee",
    {
      address,
      nick,
      endpoint: { ip: "127.0.0.1", port },
    },
    timing,
  );
  group.attach(link, "mesh");
  return theirs;
}

async function send(conn: StreamConn, ...records: GroupRecord[]): Promise<void> {
  for (const record of records) await conn.write(encodeRecord(record));
  await tick();
}

Deno.test("a line that arrives over two links from the same member is shown once", async () => {
  const ui = new ScriptedUi(false);
  const { group } = makeGroup(ui);
  const first = linkFrom(group, "joan@bb.com", "Joan", 4001);
  const second = linkFrom(group, "joan@bb.com", "Joan", 4001);
  await send(first, { kind: "line", seq: 1, text: "one" }, { kind: "line", seq: 2, text: "two" });
  await send(second, { kind: "line", seq: 1, text: "one" }, { kind: "line", seq: 2, text: "two" });
  await send(second, { kind: "line", seq: 3, text: "three" });
  await send(first, { kind: "line", seq: 3, text: "three" });
  assert.deepEqual(ui.output.filter((l) => l.startsWith("[#friends] Joan:")), [
    "[#friends] Joan: one",
    "[#friends] Joan: two",
    "[#friends] Joan: three",
  ]);
  assert.equal(group.duplicates, 3);
  assert.equal(ui.output.filter((l) => l.includes("joined")).length, 1);
  // The first link closing leaves Joan a member: the second still stands.
  first.close();
  await tick();
  assert.ok(!ui.output.some((l) => l.includes("vanished")));
  second.close();
  await ui.waitFor(/^\[#friends\] Joan \(joan@bb\.com\) vanished \(Joan closed the connection\)$/);
});

Deno.test("of two members that learn of each other, the smaller address dials", async () => {
  const ui = new ScriptedUi(false);
  const { group, dialled } = makeGroup(ui, "laura@bb.com");
  const joan = linkFrom(group, "joan@bb.com", "Joan", 4001);
  const at = (port: number) => ({ ip: "127.0.0.1", port });
  await send(
    joan,
    { kind: "peer", fresh: true, address: "zoe@bb.com", endpoint: at(4002), nick: "Zoe" },
    { kind: "peer", fresh: true, address: "anna@bb.com", endpoint: at(4003), nick: "Anna" },
    { kind: "peer", fresh: false, address: "laura@bb.com", endpoint: at(4000), nick: "Laura" },
  );
  assert.deepEqual(dialled, [at(4002)]);
  joan.close();
  await ui.waitFor(/vanished/);
});

Deno.test("a new member is told the others; the others are told of it", async () => {
  const ui = new ScriptedUi(false);
  const { group } = makeGroup(ui);
  const joan = linkFrom(group, "joan@bb.com", "Joan", 4001);
  const pere = linkFrom(group, "pere@bb.com", "Pere", 4002);
  const frame = (record: string) => `G${String(record.length + 1).padStart(2, "0")}.${record}`;
  const expect = async (conn: StreamConn, record: string) => {
    assert.equal(await readText(conn, frame(record).length), frame(record));
  };
  await expect(pere, "P o 127.0.0.1:4001 joan@bb.com Joan");
  await expect(joan, "P n 127.0.0.1:4002 pere@bb.com Pere");
  group.say("hello");
  await expect(joan, "M 1 hello");
  await expect(pere, "M 1 hello");
  await group.leave();
  await expect(joan, "Q");
});

Deno.test("agents relayed by a member come and go with it", async () => {
  const ui = new ScriptedUi(false);
  const { group } = makeGroup(ui);
  const joan = linkFrom(group, "joan@bb.com", "Joan", 4001);
  await send(
    joan,
    { kind: "relayed", fresh: true, rid: 1, address: "pere@bb.com", nick: "Pere" },
    { kind: "relayed-line", rid: 1, seq: 1, text: "from pere" },
    { kind: "relayed-line", rid: 1, seq: 1, text: "from pere" },
    { kind: "relayed-line", rid: 9, seq: 1, text: "nobody" },
  );
  assert.ok(group.has("pere@BB.com"));
  assert.equal(group.size, 3);
  joan.close();
  await ui.waitFor(/^\[#friends\] Pere \(pere@bb\.com\) vanished \(relay gone; relayed by Joan\)$/);
  assert.deepEqual(ui.output, [
    "[#friends] Joan (joan@bb.com) joined",
    "[#friends] Pere (pere@bb.com) joined (relayed by Joan)",
    "[#friends] Pere: from pere",
    "[#friends] Joan (joan@bb.com) vanished (Joan closed the connection)",
    "[#friends] Pere (pere@bb.com) vanished (relay gone; relayed by Joan)",
  ]);
});
