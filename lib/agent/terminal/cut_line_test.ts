import assert from "#assert";
import { cutLine } from "./cut_line.ts";
import { graphemes } from "./line_editor.ts";

const bytes = (text: string) => new TextEncoder().encode(text).length;

Deno.test("cutLine leaves a line that fits alone, empty lines included", () => {
  assert.deepEqual(cutLine("hello"), ["hello"]);
  assert.deepEqual(cutLine(""), [""]);
  assert.deepEqual(cutLine("x".repeat(99)), ["x".repeat(99)]);
});

Deno.test("cutLine cuts between words, dropping the space at the cut", () => {
  assert.deepEqual(cutLine("hello big world", 10), ["hello big", "world"]);
  assert.deepEqual(cutLine("aaaa bbbb cccc", 9), ["aaaa bbbb", "cccc"]);
});

Deno.test("cutLine cuts a word with no space in reach at the limit", () => {
  assert.deepEqual(cutLine("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  // A space in the first half of a piece is not worth a short piece.
  assert.deepEqual(cutLine("a bcdefghij", 8), ["a bcdefg", "hij"]);
});

Deno.test("cutLine never splits an emoji with joiners or modifiers", () => {
  const family = "👨‍👩‍👧"; // 18 bytes
  const text = `${"x".repeat(90)}${family}${family}`;
  const pieces = cutLine(text);
  assert.deepEqual(pieces, ["x".repeat(90), `${family}${family}`]);
  for (const piece of cutLine("👍🏽".repeat(60))) {
    assert.ok(bytes(piece) <= 99);
    assert.ok(graphemes(piece).every((g) => g === "👍🏽"));
  }
});

Deno.test("cutLine turns a 3,000-character paste into whole words of at most 99 bytes", () => {
  const words = Array.from({ length: 500 }, (_, i) => `word${i}`);
  const text = words.join(" ");
  const pieces = cutLine(text);
  assert.ok(pieces.every((p) => bytes(p) <= 99 && p.length > 0));
  assert.deepEqual(pieces.join(" ").split(" "), words);
  assert.ok(pieces.length <= Math.ceil(bytes(text) / 90));
});

Deno.test("cutLine cuts a cluster longer than a piece at code points", () => {
  const zalgo = `a${"\u0301".repeat(60)}`; // one cluster of 121 bytes
  const pieces = cutLine(zalgo);
  assert.equal(pieces.join(""), zalgo);
  assert.ok(pieces.every((p) => bytes(p) <= 99));
});
