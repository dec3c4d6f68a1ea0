// flip.yaml as a YAML document that remembers where every key was written, so each problem found
// later (by zod or by the cross-checks) can name its line. ${ENV} references are expanded here, in
// the document itself, before validation — a missing variable is a problem at the line that uses it.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parse as parseYamlText, parseDocument } from "yaml";
import type { Document, Scalar } from "yaml";
import type { ConfigProblem } from "../core/errors.js";
import { expandEnv } from "../core/template.js";

/** Keys and list indexes from the top of the file down to one value, e.g. ["checks", 0, "name"]. */
export type KeyPath = readonly PropertyKey[];

/** A problem that knows its place in the config but not yet its line. */
export interface PathProblem {
  path: KeyPath;
  message: string;
}

export interface ConfigSource {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/** "checks[1].http.path" — the way problems name a place in the file. */
export function formatPath(path: KeyPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text === "" ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/** Parses the text keeping positions; YAML syntax errors come back as problems with their lines. */
export function readSource(text: string): { source: ConfigSource; syntaxProblems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { keepSourceTokens: true, lineCounter });
  const syntaxProblems = doc.errors.map((error): ConfigProblem => {
    const position = error.linePos?.[0];
    return { path: "", line: position?.line, message: describeSyntaxError(error.code, error.message, position?.col) };
  });
  return { source: { doc, lineCounter }, syntaxProblems };
}

function describeSyntaxError(code: string, message: string, column: number | undefined): string {
  if (code === "MULTIPLE_DOCS") return "YAML syntax error: flip.yaml holds a single document; remove the `---` separator and what follows it";
  if (code === "TAB_AS_INDENT") return "YAML syntax error: tabs are not allowed as indentation; indent with spaces";
  // The parser's message ends with " at line L, column C:" and a code excerpt; the line is reported apart.
  const firstLine = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  return `YAML syntax error: ${firstLine}${column === undefined ? "" : ` (column ${column})`}`;
}

/**
 * Where the key (or list item) at `path` is written. When the path leads somewhere the file does
 * not reach — a missing key, a default — where the deepest written part is: the parent.
 */
export function positionOf(source: ConfigSource, path: KeyPath): { line: number; col: number } | undefined {
  let node: unknown = source.doc.contents;
  let position = startOf(source, node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(source.doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (!pair) break;
      position = startOf(source, pair.key) ?? position;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (item === undefined) break;
      position = startOf(source, item) ?? position;
      node = item;
    } else {
      break;
    }
  }
  return position;
}

export function lineOf(source: ConfigSource, path: KeyPath): number | undefined {
  return positionOf(source, path)?.line;
}

function startOf(source: ConfigSource, node: unknown): { line: number; col: number } | undefined {
  const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
  return range ? source.lineCounter.linePos(range[0]) : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/**
 * Replaces ${NAME} and ${NAME:-default} in every string value, in place. Keys are left alone.
 * An unquoted value that becomes a number or true/false is read as one (`replicas: ${N:-2}` is 2),
 * as if it had been written so; a quoted one stays a string, as YAML would have it.
 */
export function expandEnvInSource(source: ConfigSource, env: NodeJS.ProcessEnv): PathProblem[] {
  const problems: PathProblem[] = [];
  const visit = (node: unknown, path: PropertyKey[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) visit(pair.value, [...path, keyText(pair.key)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === "string" && node.value.includes("${")) {
      // Aliases are skipped above: their anchor is expanded once, where it is written.
      const { value, missing } = expandEnv(node.value, env);
      for (const name of missing) {
        problems.push({ path, message: `environment variable ${name} is not set (used in ${formatPath(path)})` });
      }
      node.value = node.type === "PLAIN" ? readPlainScalar(value) : value;
    }
  };
  visit(source.doc.contents, []);
  return problems;
}

function readPlainScalar(text: string): Scalar["value"] {
  if (text.trim() === "") return text;
  try {
    const value: unknown = parseYamlText(text);
    return typeof value === "number" || typeof value === "boolean" ? value : text;
  } catch {
    return text;
  }
}
