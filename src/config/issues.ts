// zod's findings about flip.yaml, said in plain words: what was expected, what was written, and
// for a mistyped key the key that was probably meant. Lines are added later, from the YAML source.
import { z } from "zod";
import type { KeyPath, PathProblem } from "./source.js";

type Issue = z.core.$ZodIssue;

/** One problem per issue (an issue about several unknown keys becomes one problem per key). */
export function describeIssues(schema: z.ZodType, issues: readonly Issue[], input: unknown): PathProblem[] {
  return issues.flatMap((issue) => describeIssue(schema, issue, input));
}

function describeIssue(schema: z.ZodType, issue: Issue, input: unknown): PathProblem[] {
  const path = issue.path;
  const value = valueAt(input, path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeys(schema, input, path);
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, known) }));
    }
    case "invalid_type":
      if (value === undefined) return [{ path, message: `required: ${missingKeyMessage(schema, input, path, issue.expected)}` }];
      return [{ path, message: typeMessage(issue.expected, value) }];
    case "invalid_union":
      return [{ path, message: unionMessage(issue, path, value) }];
    case "invalid_value":
      return [{ path, message: `${oneOf(issue.values.map((option) => JSON.stringify(option)))}, got ${quoted(value)}` }];
    case "too_small":
      return [{ path, message: sizeMessage("small", issue.origin, Number(issue.minimum), issue.inclusive !== false, value) }];
    case "too_big":
      return [{ path, message: sizeMessage("big", issue.origin, Number(issue.maximum), issue.inclusive !== false, value) }];
    case "invalid_format":
    case "custom":
      return [{ path, message: withGot(issue.message, value) }];
    default:
      return [{ path, message: issue.message }];
  }
}

// ---- messages ---------------------------------------------------------------------------------

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  if (suggestion !== undefined) return `unknown key "${key}" — did you mean "${suggestion}"?`;
  if (known.length > 0) return `unknown key "${key}" — expected one of: ${known.join(", ")}`;
  return `unknown key "${key}"`;
}

function missingKeyMessage(schema: z.ZodType, input: unknown, path: KeyPath, expected: string): string {
  const key = path.at(-1);
  const name = typeof key === "number" ? `item ${key}` : `"${String(key)}"`;
  const kinds = kindOptions(schemaAt(schema, input, path));
  const what = kinds ? `a map with kind: ${kinds.join(" | ")}` : expectedWords(expected);
  return `${name} is missing (expected ${what})`;
}

function typeMessage(expected: string, value: unknown): string {
  const message = `expected ${expectedWords(expected)}, got ${describeValue(value)}`;
  const wantsNumber = expected === "number" || expected === "int";
  if (wantsNumber && typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
    return `${message} — write it without quotes`;
  }
  return message;
}

function unionMessage(issue: Extract<Issue, { code: "invalid_union" }>, path: KeyPath, value: unknown): string {
  if (issue.discriminator !== undefined && "options" in issue && issue.options) {
    const options = issue.options.map(String);
    if (value === undefined) return `required: "${issue.discriminator}" is missing (expected one of ${options.join(", ")})`;
    const section = path.length >= 2 ? String(path.at(-2)) : "section";
    return `unknown ${section} ${issue.discriminator} ${JSON.stringify(value)}: expected one of ${options.join(", ")}`;
  }
  // A union with its own words in the schema says best what it wants.
  if (!issue.message.startsWith("Invalid")) return withGot(issue.message, value);
  // A plain union (e.g. expectStatus: 200 | [200, 204] | "2xx"): say what each branch wanted.
  const wanted = issue.errors
    .map((branch) => branch.find((inner) => inner.code === "invalid_type" && inner.path.length === 0))
    .filter((inner): inner is Extract<Issue, { code: "invalid_type" }> => inner !== undefined)
    .map((inner) => expectedWords(inner.expected));
  if (wanted.length === 0) return issue.message;
  return `expected ${joinOr([...new Set(wanted)])}, got ${describeValue(value)}`;
}

function sizeMessage(which: "small" | "big", origin: string, limit: number, inclusive: boolean, value: unknown): string {
  if (origin === "string") {
    if (which === "small" && limit <= 1) return "must not be empty";
    return `expected ${which === "small" ? "at least" : "at most"} ${limit} characters, got ${String(value).length}`;
  }
  if (origin === "array") {
    const items = `${limit} item${limit === 1 ? "" : "s"}`;
    return `expected ${which === "small" ? "at least" : "at most"} ${items}, got ${Array.isArray(value) ? value.length : 0}`;
  }
  const bound = which === "small" ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "less than";
  return `expected ${bound} ${limit}, got ${describeValue(value)}`;
}

/** Custom messages from the schema already say what was expected; add what was written. */
function withGot(message: string, value: unknown): string {
  if (!message.startsWith("expected") || message.includes(" got ")) return message;
  if (value === undefined) return message;
  return `${message}, got ${quoted(value)}`;
}

function expectedWords(expected: string): string {
  switch (expected) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "int":
      return "a whole number";
    case "boolean":
      return "true/false";
    case "array":
    case "tuple":
      return "a list";
    case "object":
    case "record":
    case "map":
      return "a map (key: value)";
    default:
      return expected;
  }
}

export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string") return `a string (${JSON.stringify(value)})`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return String(value);
}

/** What was written, where its type is not in question: "PUT" rather than a string ("PUT"). */
function quoted(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : describeValue(value);
}

function oneOf(options: readonly string[]): string {
  return options.length === 1 ? `expected ${options[0]}` : `expected one of ${options.join(", ")}`;
}

function joinOr(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

// ---- where the schema expects what -------------------------------------------------------------

function valueAt(input: unknown, path: KeyPath): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** Strips defaults, optionals and transforms; picks the union member that `value` chose by its kind. */
function unwrap(schema: z.ZodType | undefined, value: unknown): z.ZodType | undefined {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else if (current instanceof z.ZodUnion) {
      const options = current.options as readonly z.ZodType[];
      const kind = valueAt(value, ["kind"]);
      current = options.find((option) => option instanceof z.ZodObject && option.shape.kind?.safeParse(kind).success);
    } else {
      return current;
    }
  }
}

function schemaAt(schema: z.ZodType, input: unknown, path: KeyPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (let depth = 0; depth < path.length && current; depth++) {
    const here = unwrap(current, valueAt(input, path.slice(0, depth)));
    const segment = path[depth];
    if (here instanceof z.ZodObject) current = here.shape[String(segment)] as z.ZodType | undefined;
    else if (here instanceof z.ZodArray) current = here.element as z.ZodType;
    else if (here instanceof z.ZodRecord) current = here.valueType as z.ZodType;
    else current = undefined;
  }
  return current;
}

function knownKeys(schema: z.ZodType, input: unknown, path: KeyPath): string[] {
  const here = unwrap(schemaAt(schema, input, path), valueAt(input, path));
  return here instanceof z.ZodObject ? Object.keys(here.shape) : [];
}

/** For a section chosen by `kind` (platform, router): the kinds there are. */
function kindOptions(schema: z.ZodType | undefined): string[] | undefined {
  let current = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap() as z.ZodType;
  }
  if (!(current instanceof z.ZodUnion)) return undefined;
  const kinds = (current.options as readonly z.ZodType[]).flatMap((option) => {
    const kind = option instanceof z.ZodObject ? option.shape.kind : undefined;
    return kind instanceof z.ZodLiteral ? [...kind.values].map(String) : [];
  });
  return kinds.length > 0 ? kinds : undefined;
}

// ---- did you mean ------------------------------------------------------------------------------

/** The known key nearest to a mistyped one, when near enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Two edits for words of five letters or more, one below: "platfrom", "replica", "comand".
  const allowed = key.length >= 5 ? 2 : 1;
  return bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance where swapping two neighbouring letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}
