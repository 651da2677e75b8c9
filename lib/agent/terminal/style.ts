/**
 * How the terminal client dresses its lines: the time of day before each
 * line, a colour per peer (stable: drawn from the peer's address), and text
 * fitted to the screen's width by columns (a wide character or an emoji takes
 * two). Pure.
 *
 * @module
 */

import stringWidth from "#string-width";
import { graphemes } from "./line_editor.ts";

/** `HH:MM` of `at`, local time. */
export function clockTime(at: Date): string {
  return `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
}

/** The colours peers are drawn in (SGR codes): the six plain hues and their bright forms. */
export const PEER_COLOURS: readonly string[] = [
  "31",
  "32",
  "33",
  "34",
  "35",
  "36",
  "91",
  "92",
  "93",
  "94",
  "95",
  "96",
];

/**
 * The colour (an SGR code from {@linkcode PEER_COLOURS}) of the peer known as
 * `key` (its address, any case; or its nickname when the address is unknown):
 * always the same for the same peer, in every run.
 */
export function peerColour(key: string): string {
  // FNV-1a, 32 bits.
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key.toLowerCase())) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return PEER_COLOURS[hash % PEER_COLOURS.length]!;
}

/** Columns `text` takes on a terminal (no escape sequences in it). */
export function columns(text: string): number {
  return stringWidth(text);
}

/** `text` cut to at most `width` columns, at a grapheme boundary, `…` marking the cut. */
export function fitColumns(text: string, width: number): string {
  if (columns(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const cluster of graphemes(text)) {
    const w = columns(cluster);
    if (used + w > width - 1) break;
    out += cluster;
    used += w;
  }
  return `${out}…`;
}

/**
 * The part of an input line to show in `room` columns so that the cursor
 * (after `before`, the text before it) stays visible: `shown`, of which
 * `shownBefore` is before the cursor.
 */
export function inputWindow(
  before: string,
  after: string,
  room: number,
): { shown: string; shownBefore: string } {
  const left = graphemes(before);
  const right = graphemes(after);
  let start = 0;
  let width = left.reduce((n, c) => n + columns(c), 0);
  while (width > room && start < left.length) width -= columns(left[start++]!);
  const shownBefore = left.slice(start).join("");
  let shown = shownBefore;
  for (const cluster of right) {
    const w = columns(cluster);
    if (width + w > room) break;
    shown += cluster;
    width += w;
  }
  return { shown, shownBefore };
}
