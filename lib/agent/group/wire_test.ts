import assert from "#assert";
import { PmiDecoder } from "../../pmi/decoder.ts";
import {
  decodeRecord,
  encodeRecord,
  formatRecord,
  type GroupRecord,
  MAX_GROUP_TEXT_BYTES,
  RecordAssembler,
  splitGroupText,
} from "./wire.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const endpoint = { ip: "10.0.0.2", port: 4001 };

/** Decode the `G` frames of `bytes` and reassemble their records. */
function roundTrip(bytes: Uint8Array): GroupRecord[] {
  const decoder = new PmiDecoder({ extensionTypes: "G" });
  const assembler = new RecordAssembler();
  const records: GroupRecord[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const { frames, error } = decoder.push(bytes.subarray(i, i + 1));
    assert.equal(error, undefined);
    for (const frame of frames) {
      assert.equal(frame.kind, "extension");
      if (frame.kind !== "extension") continue;
      assert.ok(frame.info.length <= 99);
      const result = assembler.push(frame.info);
      if (result.kind === "record") {
        assert.ok(result.result.ok, JSON.stringify(result));
        if (result.result.ok) records.push(result.result.record);
      }
    }
  }
  return records;
}

const CAP = "Q2FwYWJpbGl0eS1vZi1iby1pbi1rM3g5cTJtYS14eHg";
const SECRET = "U2VjcmV0LW9mLWdyb3VwLWszeDlxMm1hLXh4eHh4eHg";

const EXAMPLES: GroupRecord[] = [
  {
    kind: "join",
    mode: "invite",
    gid: "k3x9q2ma",
    name: "friends",
    address: "ana@aa.test",
    endpoint,
  },
  {
    kind: "join",
    mode: "invite",
    gid: "k3x9q2ma",
    name: "friends",
    address: "ana@aa.test",
    endpoint,
    capability: CAP,
    secret: SECRET,
  },
  { kind: "join", mode: "mesh", gid: "k3x9q2ma", name: "friends", address: "bo@aa.test", endpoint },
  {
    kind: "join",
    mode: "mesh",
    gid: "k3x9q2ma",
    name: "friends",
    address: "bo@aa.test",
    endpoint,
    capability: CAP,
  },
  { kind: "welcome", address: "cy@bb.test", endpoint },
  { kind: "refuse", reason: "the group is full (16 members)" },
  { kind: "peer", fresh: true, address: "di@bb.test", endpoint, nick: "Di Díaz" },
  { kind: "peer", fresh: false, address: "di@bb.test", endpoint, nick: "Di" },
  { kind: "relayed", fresh: true, rid: 1, address: "pere@bb.test", nick: "Pere" },
  { kind: "unrelayed", rid: 1, lost: true },
  { kind: "unrelayed", rid: 2, lost: false },
  { kind: "line", seq: 1, text: "hello" },
  { kind: "line", seq: 2, text: "" },
  { kind: "line", seq: 3, text: "a  spaced\tline ✓" },
  { kind: "relayed-line", rid: 7, seq: 12, text: "from an original agent" },
  { kind: "quit" },
  { kind: "ping" },
];

Deno.test("every record survives encoding into G frames and decoding one byte at a time", () => {
  const all = EXAMPLES.map(encodeRecord);
  const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const bytes of all) {
    joined.set(bytes, offset);
    offset += bytes.length;
  }
  assert.deepEqual(roundTrip(joined), EXAMPLES);
});

Deno.test("records are readable on the wire: a one-frame line, and the frame flag", () => {
  assert.equal(text(encodeRecord({ kind: "line", seq: 1, text: "hi" })), "G07.M 1 hi");
  assert.equal(text(encodeRecord({ kind: "quit" })), "G02.Q");
  assert.equal(
    formatRecord(EXAMPLES[0]!),
    "J i k3x9q2ma 10.0.0.2:4001 ana@aa.test friends",
  );
  assert.equal(
    formatRecord(EXAMPLES[1]!),
    `J i k3x9q2ma 10.0.0.2:4001 ana@aa.test friends ${CAP} ${SECRET}`,
  );
  assert.equal(
    formatRecord(EXAMPLES[3]!),
    `J m k3x9q2ma 10.0.0.2:4001 bo@aa.test friends ${CAP}`,
  );
});

Deno.test("a long record is split into frames of at most 102 bytes: + on all but the last", () => {
  const line = "é".repeat(1000); // 2,000 bytes
  const bytes = encodeRecord({ kind: "line", seq: 9, text: line });
  const frames = text(bytes).match(/G\d\d[+.]/g) ?? [];
  assert.ok(frames.length > 20);
  assert.ok(frames.slice(0, -1).every((f) => f.endsWith("+")));
  assert.ok(frames.at(-1)!.endsWith("."));
  assert.deepEqual(roundTrip(bytes), [{ kind: "line", seq: 9, text: line }]);
});

Deno.test("a record longer than the bound is refused as an overflow, holding no more than the bound", () => {
  const assembler = new RecordAssembler(300);
  const piece = new Uint8Array(99).fill(0x2b);
  let result;
  for (let i = 0; i < 10; i++) {
    result = assembler.push(piece);
    if (result.kind === "error") break;
  }
  assert.deepEqual(result, {
    kind: "error",
    message: "group record longer than 300 bytes",
    overflow: true,
  });
});

Deno.test("bad records are errors; unknown verbs are ignored for later versions", () => {
  for (
    const bad of [
      "",
      "J x k3x9q2ma 10.0.0.2:4001 ana@aa.test friends",
      "J i k3 10.0.0.2:4001 ana@aa.test friends",
      "J i k3x9q2ma 10.0.0.2 ana@aa.test friends",
      "J i k3x9q2ma 10.0.0.2:4001 ana friends",
      "J i k3x9q2ma 10.0.0.2:4001 ana@aa.test two words",
      "J i k3x9q2ma 10.0.0.2:4001 ana@aa.test friends short-capability",
      `J m k3x9q2ma 10.0.0.2:4001 ana@aa.test friends ${CAP} ${SECRET}`,
      `J i k3x9q2ma 10.0.0.2:4001 ana@aa.test friends ${CAP} ${SECRET} ${CAP}`,
      "M 0 zero is not a number of a line",
      "M x hello",
      "M 5",
      "R 1 x hi",
      "A n 0 pere@bb.test Pere",
      "D 1 gone",
      "W 10.0.0.2:4001",
    ]
  ) {
    assert.equal(decodeRecord(bad).ok, false, bad);
  }
  assert.deepEqual(decodeRecord("Z something new"), {
    ok: true,
    record: { kind: "unknown", verb: "Z" },
  });
  assert.deepEqual(decodeRecord("Mx"), { ok: true, record: { kind: "unknown", verb: "M" } });
  assert.equal(new RecordAssembler().push(new Uint8Array([0x41])).kind, "error");
});

Deno.test("a typed line longer than a group line is split at character boundaries", () => {
  const pieces = splitGroupText("ü".repeat(MAX_GROUP_TEXT_BYTES));
  assert.equal(pieces.length, 2);
  assert.equal(pieces.join(""), "ü".repeat(MAX_GROUP_TEXT_BYTES));
  assert.deepEqual(splitGroupText(""), [""]);
});
