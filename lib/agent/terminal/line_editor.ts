/**
 * A minimal line editor for a terminal in raw mode: it turns keystrokes into
 * whole lines and keeps the line being typed, so the UI can redraw it after
 * printing a message. Pure: bytes in, events out.
 *
 * Keys: printable characters insert; Backspace deletes a character; Ctrl-U
 * clears the line; Ctrl-W deletes a word; Enter submits; Ctrl-C interrupts;
 * Ctrl-D on an empty line ends the input. Escape sequences (arrows…) are ignored.
 *
 * @module
 */

/** What a keystroke produced. */
export type EditorEvent =
  | { readonly kind: "line"; readonly text: string }
  | { readonly kind: "interrupt" }
  | { readonly kind: "eof" };

type EscapeState = "none" | "esc" | "csi" | "ss3";

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
  #chars: string[] = [];
  #decoder = new TextDecoder();
  #escape: EscapeState = "none";
  #lastWasCr = false;

  /** The line typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** Clear the line typed so far. */
  clear(): void {
    this.#chars = [];
  }

  /** Feed raw input; returns the events it completes, in order. */
  push(bytes: Uint8Array): EditorEvent[] {
    const events: EditorEvent[] = [];
    for (const char of this.#decoder.decode(bytes, { stream: true })) {
      const event = this.#key(char);
      if (event) events.push(event);
    }
    return events;
  }

  #key(char: string): EditorEvent | undefined {
    const code = char.codePointAt(0)!;
    const afterCr = this.#lastWasCr;
    this.#lastWasCr = char === "\r";
    if (this.#escape !== "none") {
      this.#escapeKey(code);
      return undefined;
    }
    switch (char) {
      case "\r":
        return this.#submit();
      case "\n":
        return afterCr ? undefined : this.#submit();
      case "\x03":
        this.#chars = [];
        return { kind: "interrupt" };
      case "\x04":
        return this.#chars.length === 0 ? { kind: "eof" } : undefined;
      case "\x7f":
      case "\b":
        this.#chars.pop();
        return undefined;
      case "\x15":
        this.#chars = [];
        return undefined;
      case "\x17":
        this.#deleteWord();
        return undefined;
      case "\x1b":
        this.#escape = "esc";
        return undefined;
      case "\t":
        this.#chars.push(" ");
        return undefined;
    }
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return undefined;
    this.#chars.push(char);
    return undefined;
  }

  #escapeKey(code: number): void {
    if (this.#escape === "esc") {
      this.#escape = code === 0x5b ? "csi" : code === 0x4f ? "ss3" : "none";
    } else if (this.#escape === "ss3") {
      this.#escape = "none";
    } else if (code >= 0x40 && code <= 0x7e) {
      this.#escape = "none";
    }
  }

  #submit(): EditorEvent {
    const text = this.text;
    this.#chars = [];
    return { kind: "line", text };
  }

  #deleteWord(): void {
    while (this.#chars.length > 0 && this.#chars.at(-1) === " ") this.#chars.pop();
    while (this.#chars.length > 0 && this.#chars.at(-1) !== " ") this.#chars.pop();
  }
}
