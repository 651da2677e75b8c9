import assert from "#assert";
import { LineEditor } from "./line_editor.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("line editor submits a line on Enter and keeps what is being typed", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.push(bytes("hel")), []);
  assert.equal(editor.text, "hel");
  assert.deepEqual(editor.push(bytes("lo\r")), [{ kind: "line", text: "hello" }]);
  assert.equal(editor.text, "");
});

Deno.test("line editor treats CR LF as one Enter and accepts an empty line", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.push(bytes("a\r\n\r")), [
    { kind: "line", text: "a" },
    { kind: "line", text: "" },
  ]);
});

Deno.test("line editor handles Backspace, Ctrl-U and Ctrl-W", () => {
  const editor = new LineEditor();
  editor.push(bytes("hex\x7fllo"));
  assert.equal(editor.text, "hello");
  editor.push(bytes(" big world\x17"));
  assert.equal(editor.text, "hello big ");
  editor.push(bytes("\x15"));
  assert.equal(editor.text, "");
});

// Was "ignores escape sequences such as the arrow keys" (issue 19: the arrows now move the cursor).
Deno.test("line editor moves the cursor with the arrows, Home and End, and inserts there", () => {
  const editor = new LineEditor();
  editor.push(bytes("ac\x1b[Db"));
  assert.equal(editor.text, "abc");
  editor.push(bytes("\x1b[H>\x1b[F<\x1bOH["));
  assert.equal(editor.text, "[>abc<");
  editor.push(bytes("\x1b[4~]\x1b[1~\x1b[3~"));
  assert.equal(editor.text, ">abc<]");
  editor.push(bytes("\x01\x06\x06\x0b"));
  assert.equal(editor.text, ">a");
});

Deno.test("line editor jumps by words with Ctrl-Left/Right and Alt-b/f", () => {
  const editor = new LineEditor();
  editor.push(bytes("one two  three"));
  editor.push(bytes("\x1b[1;5D"));
  assert.equal(editor.beforeCursor, "one two  ");
  editor.push(bytes("\x1bb"));
  assert.equal(editor.beforeCursor, "one ");
  editor.push(bytes("\x1bf"));
  assert.equal(editor.beforeCursor, "one two");
  editor.push(bytes("\x1b[1;5C_"));
  assert.equal(editor.text, "one two  three_");
  editor.push(bytes("\x1b[1;3D\x17"));
  assert.equal(editor.text, "one three_");
  assert.equal(editor.beforeCursor, "one ");
});

Deno.test("line editor treats an emoji with joiners or modifiers as one character", () => {
  const family = "👨‍👩‍👧";
  const thumb = "👍🏽";
  const editor = new LineEditor();
  // The family arrives one code point at a time, as a slow terminal may send it.
  for (const c of `a${family}b`) editor.push(bytes(c));
  assert.equal(editor.text, `a${family}b`);
  editor.push(bytes("\x1b[D\x1b[D"));
  assert.equal(editor.beforeCursor, "a");
  editor.push(bytes("\x1b[C\x7f"));
  assert.equal(editor.text, "ab");
  editor.push(bytes(`${thumb}\x1b[D\x1b[3~`));
  assert.equal(editor.text, "ab");
  editor.push(bytes(`e\u0301`));
  editor.push(bytes("\x1b[D"));
  assert.equal(editor.beforeCursor, "a");
  assert.equal(editor.cursor, 1);
});

Deno.test("line editor walks the history with Up and Down and keeps the draft", () => {
  const editor = new LineEditor();
  editor.push(bytes("first\rsecond\r\rsecond\rdraft"));
  assert.deepEqual(editor.history, ["first", "second"]);
  editor.push(bytes("\x1b[A"));
  assert.equal(editor.text, "second");
  editor.push(bytes("\x1b[A\x1b[A"));
  assert.equal(editor.text, "first");
  editor.push(bytes("\x1b[B\x1b[B"));
  assert.equal(editor.text, "draft");
  editor.push(bytes("\x10!"));
  assert.deepEqual(editor.push(bytes("\r")), [{ kind: "line", text: "second!" }]);
});

Deno.test("line editor completes the word before the cursor with Tab", () => {
  const seen: Array<[string, boolean]> = [];
  const editor = new LineEditor({
    complete: (word, first) => {
      seen.push([word, first]);
      return first ? ["/switch", "/signup", "/help"] : ["joan@bb.test", "joe@bb.test", "#friends"];
    },
  });
  editor.push(bytes("/sw\t"));
  assert.equal(editor.text, "/switch ");
  editor.push(bytes("jo\t"));
  assert.equal(editor.text, "/switch jo");
  assert.deepEqual(editor.push(bytes("\t")), [
    { kind: "candidates", words: ["joan@bb.test", "joe@bb.test"] },
  ]);
  editor.push(bytes("a\t"));
  assert.equal(editor.text, "/switch joan@bb.test ");
  assert.deepEqual(seen[0], ["/sw", true]);
  assert.deepEqual(seen[1], ["jo", false]);
});

Deno.test("line editor takes a bracketed paste as text: tabs are spaces, lines are submitted in order", () => {
  const editor = new LineEditor({ complete: () => ["never"] });
  const events = editor.push(bytes("\x1b[200~one\ttwo\r\nthree\rfour\x1b[201~"));
  assert.deepEqual(events, [{ kind: "line", text: "one two" }, { kind: "line", text: "three" }]);
  assert.equal(editor.text, "four");
});

Deno.test("line editor joins a UTF-8 character split across reads and deletes it whole", () => {
  const editor = new LineEditor();
  const euro = bytes("€");
  editor.push(euro.subarray(0, 1));
  editor.push(euro.subarray(1));
  assert.equal(editor.text, "€");
  editor.push(bytes("\x7f"));
  assert.equal(editor.text, "");
});

Deno.test("line editor reports Ctrl-C, and Ctrl-D only on an empty line", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.push(bytes("ab\x04")), []);
  assert.deepEqual(editor.push(bytes("\x03")), [{ kind: "interrupt" }]);
  assert.equal(editor.text, "");
  assert.deepEqual(editor.push(bytes("\x04")), [{ kind: "eof" }]);
});
