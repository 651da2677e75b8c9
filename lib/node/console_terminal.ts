/**
 * The console on a terminal: lines read with editing (arrows, Home/End,
 * Ctrl-A/E/U/W) and a history (up and down arrows) by `node:readline`.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";

/**
 * Lines typed on the process's terminal, each asked with `prompt.text` as
 * it is when the line is asked for. Ends at Ctrl-D on an empty line, when
 * `signal` aborts, or when the consumer stops. Ctrl-C gives the line `exit`
 * (it stops the node, as SIGINT does).
 */
export async function* readTerminalLines(
  prompt: { text: string },
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    historySize: 500,
    removeHistoryDuplicates: true,
  });
  let closed = false;
  let interrupted = false;
  rl.on("close", () => closed = true);
  // Raw mode turns Ctrl-C into a key: it stops the node, as SIGINT does without a terminal.
  rl.on("SIGINT", () => {
    interrupted = true;
    rl.close();
  });
  const close = () => rl.close();
  signal?.addEventListener("abort", close, { once: true });
  try {
    while (!closed) {
      const line = await new Promise<string | null>((resolve) => {
        const onClose = () => resolve(null);
        rl.once("close", onClose);
        rl.question(prompt.text, (answer) => {
          rl.off("close", onClose);
          resolve(answer);
        });
      });
      if (line === null) {
        if (interrupted) yield "exit";
        return;
      }
      yield line;
    }
  } finally {
    signal?.removeEventListener("abort", close);
    rl.close();
  }
}
