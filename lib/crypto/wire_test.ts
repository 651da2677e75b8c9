import { deepStrictEqual, strictEqual } from "#assert";
import { PmiDecoder } from "../pmi/decoder.ts";
import { encodePieces, PieceJoiner, RECORD_FRAME } from "./wire.ts";

function roundTrip(message: Uint8Array): Uint8Array[] {
  const bytes = encodePieces(RECORD_FRAME, message);
  const decoder = new PmiDecoder({ extensionTypes: "HE" });
  const joiner = new PieceJoiner(100_000);
  const out: Uint8Array[] = [];
  // One byte at a time: the frames survive any split.
  for (let i = 0; i < bytes.length; i++) {
    const pushed = decoder.push(bytes.subarray(i, i + 1));
    if (pushed.error) throw pushed.error;
    for (const item of pushed.frames) {
      if (item.kind !== "extension") throw new Error("bad frame");
      const r = joiner.push(item.info);
      if (r.kind === "message") out.push(r.message);
      if (r.kind === "error") throw new Error(r.reason);
    }
  }
  return out;
}

Deno.test("wire: messages of 0, 1, 98, 99 and 5000 bytes come back whole", () => {
  for (const size of [0, 1, 98, 99, 5000]) {
    const message = Uint8Array.from({ length: size }, (_, i) => i % 251);
    deepStrictEqual(roundTrip(message), [message], `size ${size}`);
  }
});

Deno.test("wire: every frame is at most 102 bytes", () => {
  const bytes = encodePieces(RECORD_FRAME, new Uint8Array(1000));
  strictEqual(bytes.length, 1000 + 11 * 4);
  strictEqual(String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!), "E99+");
});

Deno.test("wire: a piece without flag, or a message over the bound, is an error", () => {
  strictEqual(new PieceJoiner(10).push(new Uint8Array([0x41])).kind, "error");
  const joiner = new PieceJoiner(10);
  strictEqual(joiner.push(new Uint8Array([0x2b, 1, 2, 3, 4, 5, 6])).kind, "more");
  strictEqual(joiner.push(new Uint8Array([0x2e, 1, 2, 3, 4, 5])).kind, "error");
});
