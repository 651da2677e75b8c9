/**
 * Text for a person: aligned tables, and the node's counters as one.
 * Pure.
 *
 * @module
 */

/**
 * Rows as aligned columns (each as wide as its widest cell), two spaces
 * apart, with an optional header row; numbers are aligned to the right.
 *
 * @example
 * ```ts
 * table([["received", "12"], ["sent", "7"]]);
 * // "received  12\nsent       7"
 * ```
 */
export function table(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  // A column of numbers (its header aside) is aligned to the right.
  const numeric = widths.map((_, i) =>
    rows.length > 0 && rows.every((row) => /^-?\d+(\.\d+)?$/.test(row[i] ?? ""))
  );
  return all.map((row) =>
    row.map((cell, i) => numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd()
  ).join("\n");
}

/**
 * The node's counters as a two-column table: totals first, then each
 * breakdown (`dropped`, `malformed`) as indented `reason` lines, largest first.
 */
export function statsTable(counters: Readonly<Record<string, unknown>>): string {
  const rows: string[][] = [];
  const groups: [string, [string, number][]][] = [];
  for (const [key, value] of Object.entries(counters)) {
    if (typeof value === "number") rows.push([label(key), String(value)]);
    else if (value && typeof value === "object") {
      const entries = Object.entries(value)
        .filter((e): e is [string, number] => typeof e[1] === "number")
        .sort((a, b) => b[1] - a[1]);
      groups.push([key, entries]);
    }
  }
  for (const [key, entries] of groups) {
    const sum = entries.reduce((n, [, v]) => n + v, 0);
    rows.push([label(key), String(sum)]);
    for (const [reason, n] of entries) rows.push([`  ${reason}`, String(n)]);
  }
  return table(rows);
}

/** `sendFailures` → `send failures`. */
function label(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, (_, a, b) => `${a} ${b.toLowerCase()}`);
}
