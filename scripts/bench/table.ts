/**
 * Result tables: plain text for the terminal, Markdown for docs/PERFORMANCE.md.
 *
 * @module
 */

/** One table of results. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Lines printed under the table. */
  readonly notes?: readonly string[];
}

/** A target of the issue, checked against what was measured. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** What one benchmark reports. */
export interface BenchResult {
  readonly tables: readonly Table[];
  readonly targets: readonly TargetCheck[];
  /** Raw figures, for `--json` and the smoke test. */
  readonly data: Record<string, unknown>;
}

const NUMERIC = /^[-–~≈<>]?\s?[\d.,]+/;

/** Render a table as aligned text. Columns whose cells start with a number are right-aligned. */
export function renderText(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.length, ...table.rows.map((r) => (r[i] ?? "").length))
  );
  const right = table.columns.map((_, i) =>
    table.rows.length > 0 &&
    table.rows.every((r) => NUMERIC.test(r[i] ?? "") || (r[i] ?? "") === "–")
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  const out = [
    table.title,
    line(table.columns),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...table.rows.map(line),
  ];
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return out.join("\n");
}

/** Render a table as Markdown. */
export function renderMarkdown(table: Table): string {
  const right = table.columns.map((_, i) =>
    table.rows.length > 0 &&
    table.rows.every((r) => NUMERIC.test(r[i] ?? "") || (r[i] ?? "") === "–")
  );
  const out = [
    `**${table.title}**`,
    "",
    `| ${table.columns.join(" | ")} |`,
    `|${right.map((r) => (r ? "---:" : "---")).join("|")}|`,
    ...table.rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  if (table.notes?.length) out.push("", ...table.notes.map((n) => `- ${n}`));
  return out.join("\n");
}

/** The targets as a table. */
export function targetTable(targets: readonly TargetCheck[]): Table {
  return {
    title: "Targets of issue 7",
    columns: ["target", "measured", "result"],
    rows: targets.map((t) => [t.target, t.measured, t.met ? "met" : "MISSED"]),
  };
}
