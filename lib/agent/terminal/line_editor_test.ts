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

Deno.test("line editor ignores escape sequences such as the arrow keys", () => {
  const editor = new LineEditor();
  editor.push(bytes("a\x1b[Db\x1bOAc\x1b[1;5Cd"));
  assert.equal(editor.text, "abcd");
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
