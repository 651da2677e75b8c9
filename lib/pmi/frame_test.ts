import { deepStrictEqual, strictEqual, throws } from "#assert";
import {
  encodeFrame,
  encodeLine,
  encodeNick,
  MAX_FRAME_BYTES,
  MAX_INFO_BYTES,
  PmiDecoder,
  splitUtf8,
} from "./mod.ts";

const encoder = new TextEncoder();
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The `L` frames of an encoded line: their lengths, and the text the decoder reassembles. */
function decodeLine(bytes: Uint8Array): { lengths: number[]; text: string } {
  const decoder = new PmiDecoder();
  const { frames, error } = decoder.push(bytes);
  strictEqual(error, undefined);
  strictEqual(decoder.pendingBytes, 0);
  const lengths: number[] = [];
  let joined = "";
  for (const frame of frames) {
    if (frame.kind !== "line") throw new Error(`expected a line frame, got ${frame.kind}`);
    lengths.push(encoder.encode(frame.text).length);
    joined += frame.text;
  }
  return { lengths, text: joined };
}

Deno.test("limits are 99 bytes of info and 102 bytes per frame", () => {
  strictEqual(MAX_INFO_BYTES, 99);
  strictEqual(MAX_FRAME_BYTES, 102);
});

Deno.test("encodeNick writes N, two length digits and the nickname", () => {
  strictEqual(text(encodeNick("Laura")), "N05Laura");
  strictEqual(text(encodeNick("")), "N00");
  strictEqual(text(encodeNick("Jo")), "N02Jo");
});

Deno.test("encodeLine writes L05hello, and L00 for an empty line", () => {
  strictEqual(text(encodeLine("hello")), "L05hello");
  strictEqual(text(encodeLine("")), "L00");
  strictEqual(text(encodeLine("a")), "L01a");
});

Deno.test("encodeFrame counts bytes, not characters", () => {
  strictEqual(text(encodeLine("é")), "L02é");
  deepStrictEqual(encodeFrame("N", new Uint8Array([0xc3, 0xa9])), encoder.encode("N02é"));
  deepStrictEqual(
    encodeFrame("L", new Uint8Array(10)),
    new Uint8Array([0x4c, 0x31, 0x30, ...new Uint8Array(10)]),
  );
});

Deno.test("encodeFrame accepts any ASCII letter as type and up to 99 bytes", () => {
  const frame = encodeFrame("x", new Uint8Array(99).fill(0x41));
  strictEqual(frame.length, MAX_FRAME_BYTES);
  strictEqual(text(frame.subarray(0, 3)), "x99");
});

Deno.test("encodeFrame throws RangeError for a bad type or more than 99 bytes", () => {
  for (const type of ["", "NN", "1", " ", "é", ":"]) {
    throws(() => encodeFrame(type, new Uint8Array(0)), RangeError);
  }
  throws(() => encodeFrame("L", new Uint8Array(100)), RangeError);
});

Deno.test("encodeLine splits lines of 0, 1, 99, 100, 198 and 1000 bytes into 99-byte frames", () => {
  const cases: [number, number[]][] = [
    [0, [0]],
    [1, [1]],
    [99, [99]],
    [100, [99, 1]],
    [198, [99, 99]],
    [1000, [...Array(10).fill(99), 10]],
  ];
  for (const [size, lengths] of cases) {
    const line = Array.from({ length: size }, (_, i) => String.fromCharCode(0x21 + (i % 94))).join(
      "",
    );
    const encoded = encodeLine(line);
    strictEqual(encoded.length, size + 3 * lengths.length, `size ${size}`);
    const decoded = decodeLine(encoded);
    deepStrictEqual(decoded.lengths, lengths, `size ${size}`);
    strictEqual(decoded.text, line, `size ${size}`);
  }
});

Deno.test("encodeLine never cuts a multi-byte UTF-8 character across frames", () => {
  const cases: [string, number[]][] = [
    ["é".repeat(50), [98, 2]],
    ["€".repeat(34), [99, 3]],
    ["😀".repeat(25), [96, 4]],
    ["a" + "😀".repeat(25), [97, 4]],
    ["ab" + "😀".repeat(25), [98, 4]],
    ["abc" + "😀".repeat(25), [99, 4]],
    ["a".repeat(98) + "é", [98, 2]],
  ];
  for (const [line, lengths] of cases) {
    const encoded = encodeLine(line);
    const decoded = decodeLine(encoded);
    deepStrictEqual(decoded.lengths, lengths, line);
    strictEqual(decoded.text, line);
    // Every frame's info is valid UTF-8 on its own.
    let offset = 0;
    while (offset < encoded.length) {
      const length = Number(text(encoded.subarray(offset + 1, offset + 3)));
      strictUtf8.decode(encoded.subarray(offset + 3, offset + 3 + length));
      offset += 3 + length;
    }
  }
});

Deno.test("a long line of mixed scripts reassembles intact", () => {
  const line = "Hola, què tal? Привет! こんにちは 😀👍🏽 ".repeat(40);
  const decoded = decodeLine(encodeLine(line));
  strictEqual(decoded.text, line);
  for (const length of decoded.lengths) strictEqual(length <= 99, true);
});

Deno.test("encodeNick cuts a long nickname to 99 bytes at a character boundary", () => {
  strictEqual(text(encodeNick("n".repeat(120))), `N99${"n".repeat(99)}`);
  const nick = encodeNick("é".repeat(60));
  strictEqual(text(nick), `N98${"é".repeat(49)}`);
});

Deno.test("splitUtf8 returns one empty piece for empty input", () => {
  deepStrictEqual(splitUtf8(new Uint8Array(0)), [new Uint8Array(0)]);
});

Deno.test("splitUtf8 honours a custom maximum and refuses one below 4", () => {
  const pieces = splitUtf8(encoder.encode("aé😀b"), 4);
  deepStrictEqual(pieces.map(text), ["aé", "😀", "b"]);
  throws(() => splitUtf8(new Uint8Array(1), 3), RangeError);
});

Deno.test("splitUtf8 cuts bytes that are not UTF-8 at the maximum instead of looping", () => {
  const pieces = splitUtf8(new Uint8Array(250).fill(0x80));
  deepStrictEqual(pieces.map((p) => p.length), [99, 99, 52]);
});
