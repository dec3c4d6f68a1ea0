// Small output helpers shared by the commands: colours (node:util styleText, switched off when not
// wanted), aligned tables that ignore colour codes when measuring, and times as people read them.
import { styleText } from "node:util";
import { formatDuration } from "../core/duration.js";
import type { Outcome } from "../core/phases.js";

type Style = "red" | "green" | "yellow" | "cyan" | "magenta" | "dim" | "bold";

export type Colors = Record<Style, (text: string) => string>;

export function createColors(enabled: boolean): Colors {
  // Whether to colour is decided here (for the stream actually written to), not by styleText,
  // which on newer Node would look at process.stdout only.
  const style = (format: Style) => (text: string) => (enabled ? styleText(format, text, { validateStream: false }) : text);
  return { red: style("red"), green: style("green"), yellow: style("yellow"), cyan: style("cyan"), magenta: style("magenta"), dim: style("dim"), bold: style("bold") };
}

export const noColors: Colors = createColors(false);

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Printed width of text, not counting colour codes. */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, "")].length;
}

/** Columns padded to the widest cell; the last column is not padded (no trailing spaces). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], colors: Colors = noColors): string[] {
  const widths = headers.map((header, column) => Math.max(visibleWidth(header), ...rows.map((row) => visibleWidth(row[column] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + " ".repeat((widths[column] ?? 0) - visibleWidth(cell))))
      .join("  ")
      .trimEnd();
  return [colors.dim(line(headers)), ...rows.map(line)];
}

/** "2024-05-01 14:03:12" in the local time zone: what someone at the terminal expects. */
export function formatTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatElapsed(ms: number | undefined): string {
  return ms === undefined ? "" : formatDuration(Math.max(0, ms));
}

/**
 * An outcome word, coloured by what it means for traffic: green it moved and stayed, yellow it
 * never moved, magenta it moved and came back, red something broke, cyan still going.
 */
export function colorOutcome(outcome: Outcome, colors: Colors): string {
  switch (outcome) {
    case "succeeded":
      return colors.green(outcome);
    case "aborted":
      return colors.yellow(outcome);
    case "rolled-back":
      return colors.magenta(outcome);
    case "failed":
      return colors.red(outcome);
    case "running":
      return colors.cyan(outcome);
  }
}

/** Shortens text to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return [...text].length <= max ? text : `${[...text].slice(0, max - 1).join("")}…`;
}

/**
 * JSON for scripts: keys the API leaves out when they have no value (JSON has no undefined) are
 * printed as null, so `jq .reason` and friends see every key of the documented shape.
 */
export function jsonWithNulls<T extends object>(value: T, keys: readonly (keyof T)[]): T {
  const filled: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of keys) filled[key as string] ??= null;
  return filled as T;
}

/** Writes through, or keeps what is written while held. */
export class HeldOutput {
  private held: string[] | undefined;
  constructor(private readonly stream: { write(text: string): unknown }) {}

  get isHeld(): boolean {
    return this.held !== undefined;
  }

  write(text: string): void {
    if (this.held) this.held.push(text);
    else this.stream.write(text);
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    if (held && held.length > 0) this.stream.write(held.join(""));
  }
}
