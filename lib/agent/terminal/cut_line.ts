/**
 * Cutting a long typed line into pieces an original peer can take (a PMI `L`
 * frame holds at most 99 bytes): at grapheme cluster boundaries only (an
 * emoji with joiners or modifiers is never split), and between words where a
 * space falls in the last half of a piece. The space where a line is cut is
 * dropped: each piece is shown as a line of its own. Pure.
 *
 * @module
 */

import { MAX_INFO_BYTES } from "../../pmi/frame.ts";
import { graphemes } from "./line_editor.ts";

const encoder = new TextEncoder();

function bytesOf(text: string): number {
  return encoder.encode(text).length;
}

/** `cluster` cut at code points into pieces of at most `max` bytes (a cluster longer than a piece). */
function cutCluster(cluster: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = "";
  for (const point of cluster) {
    if (piece !== "" && bytesOf(piece + point) > max) {
      pieces.push(piece);
      piece = "";
    }
    piece += point;
  }
  if (piece !== "") pieces.push(piece);
  return pieces;
}

/**
 * Cut `text` into pieces of at most `maxBytes` UTF-8 bytes each, at grapheme
 * boundaries, between words where possible. A line that fits is returned as
 * it is (also an empty one); no piece of a longer line is empty.
 *
 * @example
 * ```ts
 * cutLine("hello big world", 10); // ["hello big", "world"]
 * ```
 */
export function cutLine(text: string, maxBytes: number = MAX_INFO_BYTES): string[] {
  if (maxBytes < 4) throw new RangeError("pieces must hold at least 4 bytes");
  if (bytesOf(text) <= maxBytes) return [text];
  const pieces: string[] = [];
  let piece: string[] = [];
  let size = 0;
  /** Index in `piece` of the last space, -1 for none. */
  let space = -1;
  const push = (clusters: string[]) => {
    const joined = clusters.join("");
    if (joined !== "") pieces.push(joined);
  };
  for (const cluster of graphemes(text)) {
    const length = bytesOf(cluster);
    if (length > maxBytes) {
      push(piece);
      piece = [];
      size = 0;
      space = -1;
      const parts = cutCluster(cluster, maxBytes);
      pieces.push(...parts.slice(0, -1));
      piece = [parts.at(-1)!];
      size = bytesOf(piece[0]!);
      continue;
    }
    if (size + length > maxBytes) {
      if (cluster === " ") {
        // The cut falls on a space: it is dropped.
        push(piece);
        piece = [];
        size = 0;
        space = -1;
        continue;
      }
      // Cut at the last space when it leaves at least half a piece; else cut here.
      const cutAt = space >= 0 && bytesOf(piece.slice(0, space).join("")) >= maxBytes / 2
        ? space
        : -1;
      if (cutAt >= 0) {
        push(piece.slice(0, cutAt));
        piece = piece.slice(cutAt + 1);
      } else {
        push(piece);
        piece = [];
      }
      size = bytesOf(piece.join(""));
      space = piece.lastIndexOf(" ");
    }
    if (cluster === " ") space = piece.length;
    piece.push(cluster);
    size += length;
  }
  push(piece);
  return pieces;
}
