/**
 * Questions on the terminal for `ctl`: a line, or a password typed hidden
 * (the terminal in raw mode, nothing echoed).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Ask `question` and read one line from stdin; `undefined` at the end of input. */
export async function askLine(question: string): Promise<string | undefined> {
  Deno.stderr.writeSync(encoder.encode(question));
  const buffer = new Uint8Array(1024);
  let line = "";
  const decoder = new TextDecoder();
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) return line || undefined;
    line += decoder.decode(buffer.subarray(0, n), { stream: true });
    const newline = line.indexOf("\n");
    if (newline >= 0) return line.slice(0, newline).replace(/\r$/, "");
  }
}

/**
 * Ask `question` and read a password without echoing it: Enter ends it,
 * Backspace deletes, Ctrl-C or Ctrl-D gives up (`""`). Needs a terminal on stdin.
 */
export async function askHidden(question: string): Promise<string> {
  // Raw before the question shows: what is typed after it is never echoed.
  Deno.stdin.setRaw(true);
  Deno.stderr.writeSync(encoder.encode(question));
  const chars: string[] = [];
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(256);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return "";
      for (const char of decoder.decode(buffer.subarray(0, n), { stream: true })) {
        if (char === "\r" || char === "\n") return chars.join("");
        if (char === "\x03" || char === "\x04") return "";
        if (char === "\x7f" || char === "\b") chars.pop();
        else if (char >= " ") chars.push(char);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}
