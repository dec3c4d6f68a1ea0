// What an http check expects of an answer: a status (200, [200, 204], "2xx") and values at dotted
// paths of a JSON body. Pure functions, so the http check only does I/O and these decide.
import { isDeepStrictEqual } from "node:util";
import type { StatusMatcher } from "../config/schema.js";
import { renderTemplate, type TemplateVars } from "../core/template.js";

export function statusMatches(status: number, expected: StatusMatcher): boolean {
  if (typeof expected === "number") return status === expected;
  if (Array.isArray(expected)) return expected.includes(status);
  return Math.floor(status / 100) === Number(expected[0]);
}

/** "200", "200 or 204", "2xx" */
export function describeStatusMatcher(expected: StatusMatcher): string {
  if (Array.isArray(expected)) return expected.length === 1 ? String(expected[0]) : `${expected.slice(0, -1).join(", ")} or ${String(expected.at(-1))}`;
  return String(expected);
}

/** Fills {version}-style placeholders in every string of an expected value, however deep. */
export function renderExpected(value: unknown, vars: TemplateVars): unknown {
  if (typeof value === "string") return renderTemplate(value, vars);
  if (Array.isArray(value)) return value.map((item) => renderExpected(item, vars));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderExpected(item, vars)]));
  }
  return value;
}

const MISSING = Symbol("missing");

/** The value at "build.version" or "items.0.id"; MISSING when any step does not exist. */
export function valueAtPath(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const key of path.split(".")) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(key) || Number(key) >= current.length) return MISSING;
      current = current[Number(key)];
    } else if (current !== null && typeof current === "object" && Object.hasOwn(current, key)) {
      current = (current as Record<string, unknown>)[key];
    } else {
      return MISSING;
    }
  }
  return current;
}

/**
 * Every path whose value differs from the (already rendered) expectation, one phrase each:
 * `version: expected "v2", got "v1"`. An empty list means the body matches.
 */
export function jsonMismatches(document: unknown, expected: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [path, want] of Object.entries(expected)) {
    const got = valueAtPath(document, path);
    if (got === MISSING) problems.push(`${path}: expected ${show(want)}, got nothing (no such field)`);
    else if (!isDeepStrictEqual(got, want)) problems.push(`${path}: expected ${show(want)}, got ${show(got)}`);
  }
  return problems;
}

function show(value: unknown): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
