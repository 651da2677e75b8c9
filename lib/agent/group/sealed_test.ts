import assert from "#assert";
import { ChannelHandshake, newIdentity, type SecureChannel } from "../../crypto/mod.ts";
import { PmiDecoder } from "../../pmi/decoder.ts";
import { groupPrologue, RecordOpener, sealRecords } from "./sealed.ts";
import { formatRecord, type GroupRecord } from "./wire.ts";

const encoder = new TextEncoder();

/** Both ends of a finished group-link handshake. */
async function channels(): Promise<{ caller: SecureChannel; callee: SecureChannel }> {
  const prologue = groupPrologue("Ana", "Bo");
  const a = new ChannelHandshake({
    initiator: true,
    identity: newIdentity(),
    address: "ana@aa.test",
    prologue,
  });
  const b = new ChannelHandshake({
    initiator: false,
    identity: newIdentity(),
    address: "bo@aa.test",
    prologue,
  });
  const two = await b.receive(await a.start());
  if (two.kind !== "send") throw new Error("no second message");
  const three = await a.receive(two.send);
  if (three.kind !== "established") throw new Error("not established");
  const done = await b.receive(three.send!);
  if (done.kind !== "established") throw new Error("not established");
  return { caller: three.channel, callee: done.channel };
}

/** The `E` frames' infos of sealed bytes. */
function infos(bytes: Uint8Array): Uint8Array[] {
  const pushed = new PmiDecoder({ extensionTypes: "E" }).push(bytes);
  assert.equal(pushed.error, undefined);
  return pushed.frames.map((f) => {
    if (f.kind !== "extension") throw new Error("not an E frame");
    return f.info;
  });
}

function open(opener: RecordOpener, bytes: Uint8Array): GroupRecord[] {
  const records: GroupRecord[] = [];
  for (const info of infos(bytes)) {
    const step = opener.push(info);
    if (step.kind === "error") throw new Error(step.message);
    if (step.kind === "records") {
      for (const r of step.records) if (r.ok) records.push(r.record);
    }
  }
  return records;
}

const RECORDS: GroupRecord[] = [
  { kind: "line", seq: 1, text: "hello" },
  { kind: "line", seq: 2, text: "é".repeat(1500) },
  { kind: "ping" },
  { kind: "quit" },
];

Deno.test("group records sealed in E frames come out whole and in order, none in clear", async () => {
  const { caller, callee } = await channels();
  const bytes = sealRecords(caller, RECORDS.map((r) => encoder.encode(formatRecord(r))));
  assert.ok(!new TextDecoder().decode(bytes).includes("hello"));
  assert.deepEqual(open(new RecordOpener(callee), bytes), RECORDS);
});

Deno.test("a sealed record changed, or sent again, ends the link with the reason", async () => {
  const { caller, callee } = await channels();
  const opener = new RecordOpener(callee);
  const first = sealRecords(caller, [encoder.encode("M 1 hi")]);
  assert.deepEqual(open(opener, first), [{ kind: "line", seq: 1, text: "hi" }]);
  const replayed = opener.push(infos(first)[0]!);
  assert.equal(replayed.kind, "error");
  assert.match(replayed.kind === "error" ? replayed.message : "", /replayed/);

  const other = await channels();
  const changed = infos(sealRecords(other.caller, [encoder.encode("M 1 hi")]))[0]!;
  changed[changed.length - 1]! ^= 1;
  const step = new RecordOpener(other.callee).push(changed);
  assert.ok(step.kind === "error" && step.channel && /changed/.test(step.message));
});
