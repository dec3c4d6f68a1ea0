// Command-line flags shared by the benchmarks (`--duration 10s --connections 64 --rounds 3`).
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../../src/core/duration.js";

/** The repository root, from dist/bench/lib/*.js or bench/lib/*.ts alike. */
export function repoRoot(): string {
  const twoUp = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
  return basename(twoUp) === "dist" ? dirname(twoUp) : twoUp;
}

export interface FlagSpec {
  [name: string]: { default: string; help: string };
}

/** Parses --name value flags against a spec; `--help` prints the spec and exits. */
export function parseFlags<Spec extends FlagSpec>(usage: string, spec: Spec): { [Name in keyof Spec]: string } {
  const options = Object.fromEntries(Object.entries(spec).map(([name, flag]) => [name, { type: "string" as const, default: flag.default }]));
  const help = () => {
    const lines = Object.entries(spec).map(([name, flag]) => `  --${name.padEnd(12)} ${flag.help} (default ${flag.default})`);
    return `${usage}\n\n${lines.join("\n")}\n`;
  };
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: "boolean" } }, strict: true });
    if (values.help) {
      process.stdout.write(help());
      process.exit(0);
    }
    return values as { [Name in keyof Spec]: string };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${help()}`);
    process.exit(2);
  }
}

export function durationFlag(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new Error(`--${name} expects a duration such as 500ms or 10s, got "${text}"`);
  return ms;
}

export function countFlag(name: string, text: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got "${text}"`);
  return value;
}
