/**
 * A picture of a terminal: the bytes a program wrote to its pseudo-terminal
 * are played into a headless xterm, and its screen is turned into HTML (one
 * `<span>` per run of same-styled cells, in the xterm palette), for a browser
 * to take a screenshot of (the README's picture of the terminal client).
 *
 * @module
 */

import xterm from "#xterm";

// The package is CommonJS: its class comes as a property of the default export.
const Terminal = (xterm as unknown as { Terminal: typeof import("#xterm").Terminal }).Terminal;

/** The 16 colours of xterm's default palette, then the greys of the 256 used for dim text. */
const PALETTE = [
  "#000000",
  "#cd0000",
  "#00cd00",
  "#cdcd00",
  "#0000ee",
  "#cd00cd",
  "#00cdcd",
  "#e5e5e5",
  "#7f7f7f",
  "#ff0000",
  "#00ff00",
  "#ffff00",
  "#5c5cff",
  "#ff00ff",
  "#00ffff",
  "#ffffff",
];

function colour(index: number): string {
  if (index < 16) return PALETTE[index]!;
  if (index >= 232) {
    const grey = 8 + (index - 232) * 10;
    return `rgb(${grey},${grey},${grey})`;
  }
  const i = index - 16;
  const step = (n: number) => (n === 0 ? 0 : 55 + n * 40);
  return `rgb(${step(Math.floor(i / 36))},${step(Math.floor(i / 6) % 6)},${step(i % 6)})`;
}

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** The screen that `output` leaves on a `cols` × `rows` terminal, as an HTML page. */
export async function terminalHtml(output: string, cols = 80, rows = 24): Promise<string> {
  const term = new Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(output, resolve));
  const buffer = term.buffer.active;
  const lines: string[] = [];
  const cell = buffer.getNullCell();
  for (let y = 0; y < rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    let html = "";
    let run = "";
    let style = "";
    for (let x = 0; x < cols; x++) {
      line?.getCell(x, cell);
      const inverse = cell.isInverse() !== 0;
      let fg = cell.isFgPalette()
        ? colour(cell.getFgColor())
        : cell.isFgRGB()
        ? `#${cell.getFgColor().toString(16).padStart(6, "0")}`
        : "";
      let bg = cell.isBgPalette() ? colour(cell.getBgColor()) : "";
      if (inverse) [fg, bg] = [bg || "#1e1e1e", fg || "#d4d4d4"];
      const next = [
        fg && `color:${fg}`,
        bg && `background:${bg}`,
        cell.isBold() ? "font-weight:bold" : "",
        cell.isDim() ? "opacity:.6" : "",
      ].filter(Boolean).join(";");
      const chars = cell.getWidth() === 0 ? "" : cell.getChars() || " ";
      if (next !== style) {
        if (run) html += style ? `<span style="${style}">${escape(run)}</span>` : escape(run);
        run = "";
        style = next;
      }
      run += chars;
    }
    if (run) html += style ? `<span style="${style}">${escape(run)}</span>` : escape(run);
    lines.push(html);
  }
  term.dispose();
  return `<!doctype html><meta charset="utf-8"><style>
body { margin: 0; background: #1e1e1e; }
pre { margin: 0; padding: 12px 14px; color: #d4d4d4; background: #1e1e1e;
  font: 15px/1.3 "DejaVu Sans Mono", monospace; }
</style><pre>${lines.join("\n")}</pre>`;
}
