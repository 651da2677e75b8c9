/**
 * A line editor for a terminal in raw mode: it turns keystrokes into whole
 * lines and keeps the line being typed and the cursor, so the UI can redraw
 * them after printing a message. It edits on grapheme clusters (what a reader
 * sees as one character: `👨‍👩‍👧`, `é` written as `e` and a combining accent,
 * a flag): the cursor steps over one whole, Backspace removes one whole.
 * Pure: bytes in, events out.
 *
 * Keys: printable characters insert at the cursor; Left/Right (Ctrl-B/F) move
 * by a character, Ctrl-Left/Right and Alt-B/F by a word, Home/End (Ctrl-A/E)
 * to the ends; Backspace and Delete (Ctrl-D on a non-empty line) delete a
 * character; Ctrl-W and Alt-Backspace delete the word before the cursor, Ctrl-U
 * everything before it, Ctrl-K everything after it; Up/Down (Ctrl-P/N) walk
 * the history of submitted lines; Tab completes the word before the cursor
 * (see {@linkcode Completer}); Enter submits; Ctrl-C interrupts; Ctrl-D on an
 * empty line ends the input; Ctrl-L asks for a redraw. A bracketed paste
 * (`ESC [200~ … ESC [201~`) is taken as text: its tabs are spaces, and its
 * line breaks submit its lines one by one, in order.
 *
 * @module
 */

/** What a keystroke produced. */
export type EditorEvent =
  | { readonly kind: "line"; readonly text: string }
  | { readonly kind: "interrupt" }
  | { readonly kind: "eof" }
  /** Tab found several completions: the UI may show them. */
  | { readonly kind: "candidates"; readonly words: readonly string[] }
  /** Ctrl-L: clear the screen and redraw. */
  | { readonly kind: "redraw" };

/**
 * Offers completions for `word`, the text between the last space before the
 * cursor and the cursor; `first` is true when it is the line's first word.
 */
export type Completer = (word: string, first: boolean) => readonly string[];

/** Options of {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** Completions for Tab. Default: none (Tab inserts a space). */
  readonly complete?: Completer;
  /** Most lines kept in the history. Default: 500. */
  readonly historySize?: number;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** The grapheme clusters of `text`, in order. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** The longest common prefix of `words` (empty for none). */
function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return "";
  let prefix = words[0]!;
  for (const word of words) {
    while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/**
 * Turns raw terminal input into lines.
 *
 * @example
 * ```ts
 * const editor = new LineEditor();
 * editor.push(new TextEncoder().encode("hx\x7fi\r")); // [{ kind: "line", text: "hi" }]
 * ```
 */
export class LineEditor {
  /** The line, as grapheme clusters. */
  #chars: string[] = [];
  /** The cursor: how many clusters are before it. */
  #cursor = 0;
  #decoder = new TextDecoder();
  /** An escape sequence being read (starts with ESC), or `undefined`. */
  #escape: string | undefined;
  #lastWasCr = false;
  #pasting = false;
  #history: string[] = [];
  /** Where Up/Down are in the history: `history.length` is the line being typed. */
  #historyAt = 0;
  /** The line being typed while the history is walked. */
  #draft = "";
  readonly #complete: Completer | undefined;
  readonly #historySize: number;

  constructor(options: LineEditorOptions = {}) {
    this.#complete = options.complete;
    this.#historySize = options.historySize ?? 500;
  }

  /** The line typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The text before the cursor (to place the cursor on screen). */
  get beforeCursor(): string {
    return this.#chars.slice(0, this.#cursor).join("");
  }

  /** How many grapheme clusters are before the cursor. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Lines submitted, oldest first (without repeats in a row, without empty lines). */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Clear the line typed so far. */
  clear(): void {
    this.#set("");
  }

  /** Feed raw input; returns the events it completes, in order. */
  push(bytes: Uint8Array): EditorEvent[] {
    const events: EditorEvent[] = [];
    let run = "";
    const flush = () => {
      if (run !== "") this.#insert(run);
      run = "";
    };
    for (const char of this.#decoder.decode(bytes, { stream: true })) {
      if (this.#escape === undefined && this.#printable(char)) {
        // Printable runs are inserted at once, so a cluster that arrives in pieces stays whole.
        run += char === "\t" ? " " : char;
        this.#lastWasCr = false;
        continue;
      }
      flush();
      const event = this.#key(char);
      if (event) events.push(event);
    }
    flush();
    return events;
  }

  #printable(char: string): boolean {
    if (char === "\t") return this.#pasting || this.#complete === undefined;
    const code = char.codePointAt(0)!;
    return !(code < 0x20 || (code >= 0x7f && code < 0xa0));
  }

  #key(char: string): EditorEvent | undefined {
    const afterCr = this.#lastWasCr;
    this.#lastWasCr = char === "\r";
    if (this.#escape !== undefined) return this.#escapeKey(char);
    switch (char) {
      case "\r":
        return this.#submit();
      case "\n":
        return afterCr ? undefined : this.#submit();
      case "\x03":
        this.#set("");
        return { kind: "interrupt" };
      case "\x04":
        if (this.#chars.length === 0) return { kind: "eof" };
        this.#chars.splice(this.#cursor, 1);
        return undefined;
      case "\x7f":
      case "\b":
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return undefined;
      case "\x01":
        this.#cursor = 0;
        return undefined;
      case "\x05":
        this.#cursor = this.#chars.length;
        return undefined;
      case "\x02":
        this.#move(-1);
        return undefined;
      case "\x06":
        this.#move(1);
        return undefined;
      case "\x0b":
        this.#chars.splice(this.#cursor);
        return undefined;
      case "\x0c":
        return { kind: "redraw" };
      case "\x10":
        this.#walkHistory(-1);
        return undefined;
      case "\x0e":
        this.#walkHistory(1);
        return undefined;
      case "\x15":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return undefined;
      case "\x17":
        this.#deleteWord();
        return undefined;
      case "\x1b":
        this.#escape = "\x1b";
        return undefined;
      case "\t":
        return this.#tab();
    }
    return undefined;
  }

  /** One more character of an escape sequence; acts once the sequence is complete. */
  #escapeKey(char: string): EditorEvent | undefined {
    const sequence = this.#escape + char;
    const code = char.codePointAt(0)!;
    if (sequence.length === 2) {
      if (char === "[" || char === "O") {
        this.#escape = sequence;
        return undefined;
      }
      this.#escape = undefined;
      // Alt-<key>: ESC then the key.
      if (char === "b" || char === "B") this.#cursor = this.#wordStart();
      else if (char === "f" || char === "F") this.#cursor = this.#wordEnd();
      else if (char === "\x7f" || char === "\b") this.#deleteWord();
      else if (char === "\x1b") this.#escape = "\x1b";
      return undefined;
    }
    if (sequence.startsWith("\x1bO")) {
      this.#escape = undefined;
      return this.#named(char, "");
    }
    // CSI: parameters and intermediates until a final byte 0x40-0x7e.
    if (code < 0x40 || code > 0x7e) {
      this.#escape = sequence.length > 32 ? undefined : sequence;
      return undefined;
    }
    this.#escape = undefined;
    if (sequence === PASTE_START) this.#pasting = true;
    else if (sequence === PASTE_END) this.#pasting = false;
    else return this.#named(char, sequence.slice(2, -1));
    return undefined;
  }

  /** A cursor or editing key: `final` is its last byte, `params` the CSI parameters. */
  #named(final: string, params: string): EditorEvent | undefined {
    const word = /;[35]$/.test(params); // Ctrl or Alt held
    switch (final) {
      case "D":
        if (word) this.#cursor = this.#wordStart();
        else this.#move(-1);
        break;
      case "C":
        if (word) this.#cursor = this.#wordEnd();
        else this.#move(1);
        break;
      case "A":
        this.#walkHistory(-1);
        break;
      case "B":
        this.#walkHistory(1);
        break;
      case "H":
        this.#cursor = 0;
        break;
      case "F":
        this.#cursor = this.#chars.length;
        break;
      case "~":
        if (params === "1" || params === "7") this.#cursor = 0;
        else if (params === "4" || params === "8") this.#cursor = this.#chars.length;
        else if (params === "3") this.#chars.splice(this.#cursor, 1);
        break;
    }
    return undefined;
  }

  #insert(text: string): void {
    const before = this.#chars.slice(0, this.#cursor).join("");
    const after = this.#chars.slice(this.#cursor).join("");
    const joined = graphemes(before + text + after);
    // The cursor goes after what was inserted, which may have joined the cluster before it.
    this.#chars = joined;
    this.#cursor = joined.length - graphemes(after).length;
    if (this.#cursor < 0) this.#cursor = 0;
  }

  #move(by: number): void {
    this.#cursor = Math.max(0, Math.min(this.#chars.length, this.#cursor + by));
  }

  /** The start of the word before the cursor (spaces before it skipped). */
  #wordStart(): number {
    let at = this.#cursor;
    while (at > 0 && this.#chars[at - 1]!.trim() === "") at--;
    while (at > 0 && this.#chars[at - 1]!.trim() !== "") at--;
    return at;
  }

  /** The end of the word after the cursor. */
  #wordEnd(): number {
    let at = this.#cursor;
    const n = this.#chars.length;
    while (at < n && this.#chars[at]!.trim() === "") at++;
    while (at < n && this.#chars[at]!.trim() !== "") at++;
    return at;
  }

  #deleteWord(): void {
    const start = this.#wordStart();
    this.#chars.splice(start, this.#cursor - start);
    this.#cursor = start;
  }

  #set(text: string): void {
    this.#chars = graphemes(text);
    this.#cursor = this.#chars.length;
  }

  #walkHistory(by: number): void {
    const at = this.#historyAt + by;
    if (at < 0 || at > this.#history.length) return;
    if (this.#historyAt === this.#history.length) this.#draft = this.text;
    this.#historyAt = at;
    this.#set(at === this.#history.length ? this.#draft : this.#history[at]!);
  }

  #submit(): EditorEvent {
    const text = this.text;
    this.#set("");
    if (text.trim() !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.#historyAt = this.#history.length;
    this.#draft = "";
    return { kind: "line", text };
  }

  #tab(): EditorEvent | undefined {
    if (!this.#complete) return undefined;
    const before = this.#chars.slice(0, this.#cursor).join("");
    const space = before.lastIndexOf(" ");
    const word = before.slice(space + 1);
    const first = before.slice(0, space + 1).trim() === "";
    const words = [...new Set(this.#complete(word, first))].filter((w) => w.startsWith(word));
    if (words.length === 0) return undefined;
    if (words.length === 1) {
      this.#insert(`${words[0]!.slice(word.length)} `);
      return undefined;
    }
    const prefix = commonPrefix(words);
    if (prefix.length > word.length) {
      this.#insert(prefix.slice(word.length));
      return undefined;
    }
    return { kind: "candidates", words: words.toSorted() };
  }
}
