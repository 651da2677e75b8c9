import assert from "node:assert/strict";
import {
  decodeRecord,
  encodeHello,
  encodeIds,
  encodeLines,
  isMessageId,
  MAX_IDS_PER_RECORD,
  newMessageId,
} from "./records.ts";
import { MAX_SEEN_IDS, PeerReceipts, ReceiptBook } from "./receipts.ts";

const encoder = new TextEncoder();

Deno.test("message ids are 16 lowercase hex characters, and differ", () => {
  const ids = new Set(Array.from({ length: 100 }, newMessageId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.ok(isMessageId(id), id);
  assert.ok(!isMessageId("3F9A0C55E1B27D04"));
});

Deno.test("records of lines, ids, receipts and the hello decode to what was encoded", () => {
  const lines = [encoder.encode("hello"), new Uint8Array(0)];
  const decoded = decodeRecord(encodeLines(lines));
  assert.equal(decoded.kind, "lines");
  assert.deepEqual(
    decoded.kind === "lines" && decoded.lines.map((l) => [...l]),
    lines.map((l) => [...l]),
  );
  const ids = ["0001020304050607", "ffeeddccbbaa9988"];
  assert.deepEqual(decodeRecord(encodeIds("ids", ids)), { kind: "ids", ids });
  assert.deepEqual(decodeRecord(encodeIds("acks", ids)), { kind: "acks", ids });
  assert.deepEqual([...encodeIds("acks", ["0001020304050607"])], [0x41, 0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(decodeRecord(encodeHello()), { kind: "hello", version: 1 });
  assert.throws(() => encodeIds("ids", ["nothex"]), TypeError);
});

Deno.test("malformed records are errors, unknown ones are skipped", () => {
  assert.equal(decodeRecord(Uint8Array.of(0x4c, 0, 5, 0x41)).kind, "error");
  assert.equal(decodeRecord(Uint8Array.of(0x4c, 0)).kind, "error");
  assert.equal(decodeRecord(Uint8Array.of(0x49, 1, 2, 3)).kind, "error");
  assert.equal(
    decodeRecord(new Uint8Array(2 + MAX_IDS_PER_RECORD * 8).fill(0x41, 0, 1)).kind,
    "error",
  );
  assert.equal(decodeRecord(Uint8Array.of(0x52)).kind, "error");
  assert.deepEqual(decodeRecord(Uint8Array.of(0x5a, 1, 2)), { kind: "unknown" });
  assert.deepEqual(decodeRecord(new Uint8Array(0)), { kind: "unknown" });
});

Deno.test("a peer's unacknowledged lines stay in order until acknowledged; ids seen are dropped again", () => {
  const peer = new PeerReceipts("bo@bb.com");
  const piece = encoder.encode("x");
  peer.keep({ id: "0000000000000001", piece, lineId: "0000000000000001" });
  peer.keep({ id: "0000000000000002", piece });
  peer.keep({ id: "0000000000000003", piece, lineId: "00000000000000ff" });
  assert.equal(peer.ack("0000000000000002")?.lineId, undefined);
  assert.equal(peer.ack("0000000000000002"), undefined, "acknowledged once only");
  assert.deepEqual(peer.unacked().map((u) => u.id), ["0000000000000001", "0000000000000003"]);
  assert.equal(peer.ack("0000000000000003")?.lineId, "00000000000000ff");
  assert.equal(peer.abandon(), 1);
  assert.equal(peer.pending, 0);
  assert.ok(peer.arrived("00000000000000aa"));
  assert.ok(!peer.arrived("00000000000000aa"));
  assert.equal(peer.duplicates, 1);
});

Deno.test("receipts are bounded: the oldest unacknowledged and seen ids go first", () => {
  const peer = new PeerReceipts("bo@bb.com");
  const big = new Uint8Array(300 * 1024);
  for (let i = 0; i < 5; i++) peer.keep({ id: `000000000000000${i}`, piece: big });
  assert.deepEqual(peer.unacked().map((u) => u.id), [
    "0000000000000002",
    "0000000000000003",
    "0000000000000004",
  ]);
  assert.equal(peer.abandoned, 2);
  for (let i = 0; i <= MAX_SEEN_IDS; i++) peer.arrived(i.toString(16).padStart(16, "0"));
  assert.ok(peer.arrived("0000000000000000"), "the oldest id was forgotten");
  assert.ok(!peer.arrived(MAX_SEEN_IDS.toString(16).padStart(16, "0")));
});

Deno.test("the book keeps one state per address, whatever the domain's case", () => {
  const book = new ReceiptBook();
  const bo = book.peer("bo@BB.com");
  assert.equal(book.peer("bo@bb.com"), bo);
  assert.equal(book.find("bo@bb.com"), bo);
  assert.equal(book.find("ana@bb.com"), undefined);
});
