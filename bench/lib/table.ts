// Plain-text tables and the small number helpers the benchmarks print with. Markdown-compatible
// (pipes), so a run's output pastes straight into the README.

export interface Column {
  title: string;
  /** Numbers read best right-aligned. */
  align?: "left" | "right";
}

export function formatTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((column, index) => Math.max(column.title.length, ...rows.map((row) => (row[index] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, index) => (columns[index]?.align === "right" ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0)))
      .join(" | ")} |`;
  const rule = `|${columns.map((column, index) => (column.align === "right" ? `${"-".repeat((widths[index] ?? 0) + 1)}:` : "-".repeat((widths[index] ?? 0) + 2))).join("|")}|`;
  return [line(columns.map((column) => column.title)), rule, ...rows.map(line)].join("\n");
}

export function median(values: number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? (finite[middle] as number) : ((finite[middle - 1] as number) + (finite[middle] as number)) / 2;
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** 48213 → "48,213" */
export function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
}

export function megabytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MB` : "–";
}
