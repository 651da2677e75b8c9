import { deepStrictEqual, ok, strictEqual } from "#assert";
import { encodeLine, encodeNick, PmiDecoder, type PmiFrame, PmiStreamError } from "./mod.ts";

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Feed `chunks` one after another; collect every frame and the last error. */
function feed(decoder: PmiDecoder, chunks: Iterable<Uint8Array>) {
  const frames: PmiFrame[] = [];
  let error: PmiStreamError | undefined;
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    frames.push(...result.frames);
    error = result.error;
  }
  return { frames, error };
}

function* oneByteAtATime(data: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i++) yield data.subarray(i, i + 1);
}

/** A small seeded PRNG (mulberry32), so random splits reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* randomSplits(data: Uint8Array, random: () => number): Generator<Uint8Array> {
  let i = 0;
  while (i < data.length) {
    const size = Math.floor(random() * 12); // zero-length chunks included
    yield data.subarray(i, i + size);
    i += size;
  }
}

const conversation = concat(
  encodeNick("Laura"),
  encodeNick("Jordi"),
  encodeLine("hello"),
  encodeLine(""),
  encodeLine("què tal? 😀"),
  encodeLine("x".repeat(250)),
);
const expected: PmiFrame[] = [
  { kind: "nick", text: "Laura" },
  { kind: "nick", text: "Jordi" },
  { kind: "line", text: "hello" },
  { kind: "line", text: "" },
  { kind: "line", text: "què tal? 😀" },
  { kind: "line", text: "x".repeat(99) },
  { kind: "line", text: "x".repeat(99) },
  { kind: "line", text: "x".repeat(52) },
];

Deno.test("decoder returns frames as soon as they complete", () => {
  const decoder = new PmiDecoder();
  deepStrictEqual(decoder.push(bytes("N05Lau")), { frames: [] });
  strictEqual(decoder.pendingBytes, 6);
  deepStrictEqual(decoder.push(bytes("raL02hi")), {
    frames: [{ kind: "nick", text: "Laura" }, { kind: "line", text: "hi" }],
  });
  strictEqual(decoder.pendingBytes, 0);
  strictEqual(decoder.error, undefined);
});

Deno.test("decoder reads all frames fed in one chunk", () => {
  const decoder = new PmiDecoder();
  const result = feed(decoder, [conversation]);
  deepStrictEqual(result, { frames: expected, error: undefined });
  strictEqual(decoder.pendingBytes, 0);
});

Deno.test("decoder reads a stream fed one byte at a time", () => {
  const decoder = new PmiDecoder();
  deepStrictEqual(feed(decoder, oneByteAtATime(conversation)), {
    frames: expected,
    error: undefined,
  });
  strictEqual(decoder.pendingBytes, 0);
});

Deno.test("decoder reads a stream split at random points", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const decoder = new PmiDecoder();
    const result = feed(decoder, randomSplits(conversation, prng(seed)));
    deepStrictEqual(result, { frames: expected, error: undefined }, `seed ${seed}`);
  }
});

Deno.test("decoder accepts empty chunks", () => {
  const decoder = new PmiDecoder();
  deepStrictEqual(decoder.push(new Uint8Array(0)), { frames: [] });
  deepStrictEqual(feed(decoder, [bytes("L0"), new Uint8Array(0), bytes("0")]).frames, [
    { kind: "line", text: "" },
  ]);
});

Deno.test("decoder rebuilds a character split across chunks", () => {
  const decoder = new PmiDecoder();
  deepStrictEqual(feed(decoder, oneByteAtATime(bytes("N04😀"))).frames, [
    { kind: "nick", text: "😀" },
  ]);
});

Deno.test("decoder reads zero-length and 99-byte frames", () => {
  const decoder = new PmiDecoder();
  const data = bytes(`L00N00L99${"z".repeat(99)}L00`);
  deepStrictEqual(decoder.push(data).frames, [
    { kind: "line", text: "" },
    { kind: "nick", text: "" },
    { kind: "line", text: "z".repeat(99) },
    { kind: "line", text: "" },
  ]);
});

Deno.test("decoder rejects a bad type byte with bad-type and its offset", () => {
  for (
    const [stream, offset] of [["X05hello", 0], ["n05Laura", 0], ["L02hiX", 5], [
      "N00\n",
      3,
    ]] as const
  ) {
    const decoder = new PmiDecoder();
    const { error } = decoder.push(bytes(stream));
    if (!(error instanceof PmiStreamError)) throw new Error(`${stream} was accepted`);
    strictEqual(error.name, "PmiStreamError");
    strictEqual(error.kind, "bad-type", stream);
    strictEqual(error.offset, offset, stream);
    ok(error.message.includes(`byte ${offset}`), error.message);
  }
});

Deno.test("decoder returns the frames completed before an error in the same chunk", () => {
  const decoder = new PmiDecoder();
  const result = decoder.push(bytes("L02hiN01xQ"));
  deepStrictEqual(result.frames, [{ kind: "line", text: "hi" }, { kind: "nick", text: "x" }]);
  strictEqual(result.error?.kind, "bad-type");
  strictEqual(result.error?.offset, 9);
});

Deno.test("decoder rejects a non-digit length with bad-length and its offset", () => {
  for (
    const [stream, offset] of [["Lx1", 1], ["L0a", 2], ["N-1", 1], ["L 5hello", 1], [
      "L02hiL9:",
      7,
    ]] as const
  ) {
    const decoder = new PmiDecoder();
    const { error } = decoder.push(bytes(stream));
    if (!(error instanceof PmiStreamError)) throw new Error(`${stream} was accepted`);
    strictEqual(error.kind, "bad-length", stream);
    strictEqual(error.offset, offset, stream);
  }
});

Deno.test("decoder counts the error offset across the whole stream, not the chunk", () => {
  const decoder = new PmiDecoder();
  const result = feed(decoder, [bytes("N05Lau"), bytes("raL0"), bytes("2hi"), bytes("L0?")]);
  deepStrictEqual(result.frames, [{ kind: "nick", text: "Laura" }, { kind: "line", text: "hi" }]);
  strictEqual(result.error?.kind, "bad-length");
  strictEqual(result.error?.offset, 15);
});

Deno.test("decoder stays dead after an error", () => {
  const decoder = new PmiDecoder();
  const first = decoder.push(bytes("Z"));
  ok(first.error);
  strictEqual(decoder.error, first.error);
  const again = decoder.push(bytes("L05hello"));
  deepStrictEqual(again.frames, []);
  strictEqual(again.error, first.error);
  strictEqual(decoder.push(new Uint8Array(0)).error, first.error);
});

Deno.test("decoder rejects extension frame types unless told to accept them", () => {
  const decoder = new PmiDecoder();
  strictEqual(decoder.push(bytes("T03abc")).error?.kind, "bad-type");
});

Deno.test("extensionTypes lets extra frame types through as extension frames", () => {
  const decoder = new PmiDecoder({ extensionTypes: "TA" });
  const info = new Uint8Array([0x00, 0xff, 0x41]);
  const result = feed(decoder, oneByteAtATime(concat(bytes("T03"), info, bytes("L02hiA00"))));
  deepStrictEqual(result, {
    frames: [
      { kind: "extension", type: "T", info },
      { kind: "line", text: "hi" },
      { kind: "extension", type: "A", info: new Uint8Array(0) },
    ],
    error: undefined,
  });
  strictEqual(decoder.push(bytes("B00")).error?.kind, "bad-type");
});

Deno.test("extension frames own their bytes, so reusing the input chunk is safe", () => {
  const decoder = new PmiDecoder({ extensionTypes: "T" });
  const chunk = bytes("T02ok");
  const { frames } = decoder.push(chunk);
  chunk.fill(0);
  deepStrictEqual(frames, [{ kind: "extension", type: "T", info: bytes("ok") }]);
});

Deno.test("decoder replaces invalid UTF-8 in a line with U+FFFD instead of failing", () => {
  const decoder = new PmiDecoder();
  const result = decoder.push(concat(bytes("L02"), new Uint8Array([0xff, 0x41])));
  deepStrictEqual(result, { frames: [{ kind: "line", text: "\uFFFDA" }] });
});
