// Reads flip.yaml into a FlipConfig, or throws one ConfigError listing every problem with its line.
// A config is never partly used: either all of it is valid and returned, or nothing is.
// Order: YAML syntax → ${ENV} expansion → schema (zod) → cross-key checks → absolute paths.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";
import type { ConfigProblem } from "../core/errors.js";
import { crossCheck } from "./crossChecks.js";
import { describeIssues } from "./issues.js";
import { configSchema } from "./schema.js";
import type { FlipConfig } from "./schema.js";
import { expandEnvInSource, formatPath, lineOf, positionOf, readSource } from "./source.js";
import type { ConfigSource, KeyPath, PathProblem } from "./source.js";

export interface LoadOptions {
  /** Where ${ENV} references are read from; process.env when absent. */
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates `file` (relative paths are taken from the current folder). */
export async function loadConfig(file: string, options?: LoadOptions): Promise<FlipConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw unreadable(file, error);
  }
  return parseConfigText(text, file, options);
}

/** The whole of loadConfig except reading the file: `file` names the source and anchors relative paths. */
export function parseConfigText(text: string, file: string, options?: LoadOptions): FlipConfig {
  const { source, syntaxProblems } = readSource(text);
  if (syntaxProblems.length > 0) throw new ConfigError(file, syntaxProblems);
  if (source.doc.contents === null) {
    throw new ConfigError(file, [{ path: "", line: 1, message: "the file is empty: it needs at least `app:` and `platform:` (`flip init` writes a commented starter)" }]);
  }

  const envProblems = expandEnvInSource(source, options?.env ?? process.env);
  let input: unknown;
  try {
    input = source.doc.toJS();
  } catch (error) {
    // e.g. an alias bomb ("excessive alias count"): refuse the file rather than expand it.
    throw new ConfigError(file, [{ path: "", line: undefined, message: `cannot read the YAML: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    const found = Array.isArray(input) ? "a list" : `${JSON.stringify(input)}`;
    throw new ConfigError(file, [{ path: "", line: lineOf(source, []), message: `expected keys such as \`app:\` and \`platform:\` at the top level, got ${found}` }]);
  }

  const problems: PathProblem[] = [...envProblems];
  const result = configSchema.safeParse(input);
  if (result.success) {
    const written = (path: KeyPath): boolean => source.doc.hasIn(path);
    problems.push(...crossCheck(result.data, written));
  } else {
    // A value emptied by a missing variable fails the schema too; its env problem says it better.
    const envPaths = new Set(envProblems.map((problem) => formatPath(problem.path)));
    const issues = result.error.issues.filter((issue) => !envPaths.has(formatPath(issue.path)));
    problems.push(...describeIssues(configSchema, issues, input));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(file, locate(problems, source));

  const absoluteFile = resolve(file);
  const dir = dirname(absoluteFile);
  return { ...result.data, file: absoluteFile, dir, statePath: resolve(dir, result.data.state), logDir: resolve(dir, result.data.logs) };
}

/** Adds lines and sorts by place, so the report reads top to bottom like the file. */
function locate(problems: readonly PathProblem[], source: ConfigSource): ConfigProblem[] {
  return problems
    .map((problem) => ({ problem, position: positionOf(source, problem.path) }))
    .sort((a, b) => (a.position?.line ?? Infinity) - (b.position?.line ?? Infinity) || (a.position?.col ?? 0) - (b.position?.col ?? 0))
    .map(({ problem, position }) => ({ path: formatPath(problem.path), line: position?.line, message: problem.message }));
}

function unreadable(file: string, error: unknown): ConfigError {
  const absoluteFile = resolve(file);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    return new ConfigError(file, [{ path: "", line: undefined, message: `no such file: ${absoluteFile}` }], {
      message: `No Flip config at ${absoluteFile}.`,
      hint: "Run `flip init` to write a commented starter flip.yaml there, or name another file with -c/--config or FLIP_CONFIG.",
    });
  }
  const reason = code === "EISDIR" ? "it is a folder, not a file" : error instanceof Error ? error.message : String(error);
  return new ConfigError(file, [{ path: "", line: undefined, message: `cannot read ${absoluteFile}: ${reason}` }], {
    message: `Cannot read the Flip config ${absoluteFile}: ${reason}.`,
    hint: "Check the path and its permissions, or name another file with -c/--config or FLIP_CONFIG.",
  });
}
