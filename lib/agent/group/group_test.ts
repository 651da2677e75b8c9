import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { connPair, ScriptedUi, tick } from "../_testing.ts";
import { Keyring, memoryKeyFiles } from "../chat/keyring.ts";
import { Group, type GroupHost } from "./group.ts";
import { answerGroupLink, dialGroupLink, type GroupLink, type GroupLinkKeys } from "./link.ts";
import { formatRecord, type GroupRecord } from "./wire.ts";
import { newGroupSecret } from "./capability.ts";

const clock = new ManualClock();
const timing = {
  clock,
  nickTimeoutMs: 10_000,
  frameTimeoutMs: 5_000,
  maxQueuedBytes: 1 << 20,
  idleMs: 45_000,
};

const keyrings = new Map<string, GroupLinkKeys>();

/** One identity per address, for every test of this file (the pins are Laura's). */
async function keysOf(address: string): Promise<GroupLinkKeys> {
  let keys = keyrings.get(address);
  if (!keys) {
    keys = { keyring: await Keyring.open({ address, files: memoryKeyFiles() }) };
    keyrings.set(address, keys);
  }
  return keys;
}

const LAURA = "laura@bb.com";
const lauraKeys = await keysOf(LAURA);

function makeGroup(ui: ScriptedUi, address = LAURA) {
  const dialled: Endpoint[] = [];
  const host: GroupHost = {
    me: {
      address,
      nick: "Laura",
      endpoint: { ip: "127.0.0.1", port: 4000 },
      key: lauraKeys.keyring.identity.publicKey,
    },
    ui,
    clock,
    maxSize: 16,
    dial: (_group, _address, endpoint) => {
      dialled.push(endpoint);
      return new Promise<never>(() => {});
    },
  };
  return { group: new Group("k3x9q2ma", "friends", "#friends", host, newGroupSecret()), dialled };
}

/**
 * An encrypted link from `address` attached to `group` (as if it called us);
 * returns the peer's end of the link.
 */
async function linkFrom(
  group: Group,
  address: string,
  nick: string,
  port: number,
): Promise<GroupLink> {
  const [ours, theirs] = connPair();
  const [answered, peer] = await Promise.all([
    answerGroupLink({
      conn: ours,
      nick: "Laura",
      me: { address: LAURA, endpoint: { ip: "127.0.0.1", port: 4000 } },
      keys: lauraKeys,
      decide: () => undefined,
      ...timing,
    }),
    dialGroupLink({
      conn: theirs,
      nick,
      to: LAURA,
      join: () => ({
        kind: "join",
        mode: "mesh",
        gid: group.gid,
        name: group.name,
        address,
        endpoint: { ip: "127.0.0.1", port },
      }),
      keys: await keysOf(address),
      ...timing,
    }),
  ]);
  group.attach(answered.link, "mesh");
  return peer;
}

async function send(peer: GroupLink, ...records: GroupRecord[]): Promise<void> {
  for (const record of records) peer.send(record);
  await peer.flush(1_000);
  for (let i = 0; i < 5; i++) await tick();
}

Deno.test("a line that arrives over two links from the same member is shown once", async () => {
  const ui = new ScriptedUi(false);
  const { group } = makeGroup(ui);
  const first = await linkFrom(group, "joan@bb.com", "Joan", 4001);
  const second = await linkFrom(group, "joan@bb.com", "Joan", 4001);
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
  const joan = await linkFrom(group, "joan@bb.com", "Joan", 4001);
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
  const joan = await linkFrom(group, "joan@bb.com", "Joan", 4001);
  const pere = await linkFrom(group, "pere@bb.com", "Pere", 4002);
  const expect = async (peer: GroupLink, record: string) => {
    const event = await peer.next();
    if (event === null || event.kind === "nick") throw new Error(`no record, ${event}`);
    assert.equal(formatRecord(event), record);
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
  const joan = await linkFrom(group, "joan@bb.com", "Joan", 4001);
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
    "[#friends] Link with Joan (joan@bb.com): encrypted (not verified: /verify joan@bb.com)",
    "[#friends] Pere (pere@bb.com) joined (relayed by Joan)",
    "[#friends] Pere (pere@bb.com) is in clear (an original agent, or one without encryption): " +
    "what is said in #friends reaches them unencrypted (relayed by Joan)",
    "[#friends] Pere: from pere",
    "[#friends] Joan (joan@bb.com) vanished (Joan closed the connection)",
    "[#friends] Pere (pere@bb.com) vanished (relay gone; relayed by Joan)",
  ]);
});
