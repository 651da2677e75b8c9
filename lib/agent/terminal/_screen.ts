/**
 * A terminal screen for tests: what a {@linkcode TerminalUi} writes is fed to
 * a headless xterm, and the test reads the rows and the cursor as a person
 * would see them. Test-only.
 *
 * @module
 */

import xterm from "#xterm";

// The package is CommonJS: its class comes as a property of the default export.
const Terminal = (xterm as unknown as { Terminal: typeof import("#xterm").Terminal }).Terminal;

/** A screen of `cols` × `rows` that the UI under test writes to. */
export class Screen {
  readonly #term: InstanceType<typeof Terminal>;
  #writing: Promise<void> = Promise.resolve();
  /** Every byte written, in order. */
  raw = "";

  constructor(readonly cols = 60, readonly rows = 8) {
    this.#term = new Terminal({ cols, rows, allowProposedApi: true });
  }

  /** Write bytes to the screen, as the terminal would show them. */
  write(text: string): void {
    this.raw += text;
    this.#writing = this.#writing.then(() =>
      new Promise<void>((resolve) => this.#term.write(text, resolve))
    );
  }

  /** The rows of the screen, trailing spaces removed; after everything written has been shown. */
  async lines(): Promise<string[]> {
    await this.#writing;
    const buffer = this.#term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.rows; y++) {
      out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
    }
    return out;
  }

  /** The rows that hold text, top to bottom. */
  async text(): Promise<string[]> {
    return (await this.lines()).filter((line) => line !== "");
  }

  /** The cursor: column and row on the screen. */
  async cursor(): Promise<{ x: number; y: number }> {
    await this.#writing;
    const buffer = this.#term.buffer.active;
    return { x: buffer.cursorX, y: buffer.cursorY };
  }

  /** Release the emulator. */
  dispose(): void {
    this.#term.dispose();
  }
}
