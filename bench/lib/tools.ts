// Finding the programs a benchmark drives (nginx, HAProxy, wrk, autocannon) and the machine it runs
// on. The benchmarks install nothing: when something is missing they say what to apt-get install.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { delimiter, join } from "node:path";
import type { LoadTool } from "./wrk.js";

// nginx and haproxy live in /usr/sbin, which is not on an ordinary user's PATH.
const EXTRA_DIRS = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/** The absolute path of an executable on PATH (or in the sbin folders), or undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...extraDirs, ...(process.env.PATH ?? "").split(delimiter), ...EXTRA_DIRS].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Tools {
  nginx?: string;
  haproxy?: string;
  caddy?: string;
  named?: string;
  load?: LoadTool;
}

/** wrk, or autocannon when wrk is absent (from PATH or this repository's node_modules). */
export function findLoadTool(repoRoot: string): LoadTool | undefined {
  const wrk = findExecutable("wrk");
  if (wrk !== undefined) return { kind: "wrk", path: wrk };
  const autocannon = findExecutable("autocannon", [join(repoRoot, "node_modules/.bin")]);
  return autocannon === undefined ? undefined : { kind: "autocannon", path: autocannon };
}

/**
 * The Debian packages to install for what is missing, or undefined when nothing is. wrk is named
 * even though autocannon would do, because autocannon is what we fall back to, not what we advise.
 */
export function missingPackages(needs: { nginx?: boolean; haproxy?: boolean; load?: boolean }, tools: Tools): string[] {
  const missing: string[] = [];
  if (needs.nginx && tools.nginx === undefined) missing.push("nginx");
  if (needs.haproxy && tools.haproxy === undefined) missing.push("haproxy");
  if (needs.load && tools.load === undefined) missing.push("wrk");
  return missing;
}

export function installHint(packages: string[]): string {
  return [
    `This benchmark needs ${packages.join(", ")}, which ${packages.length === 1 ? "is" : "are"} not installed.`,
    `Install ${packages.length === 1 ? "it" : "them"} (Debian/Ubuntu) and run it again:`,
    ``,
    `    sudo apt-get install -y ${packages.join(" ")}`,
    ``,
    packages.includes("wrk") ? `(Instead of wrk, \`npm install -D autocannon\` also works; wrk disturbs the measurement less.)\n` : "",
  ].join("\n");
}

/** The first line a `--version`-style call prints, on stdout or stderr (nginx -v), exit code ignored (wrk exits 1). */
function versionOf(command: string | undefined, args: string[]): string {
  if (command === undefined) return "absent";
  const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5000 });
  const text = `${result.stdout ?? ""}\n${result.stderr ?? ""}`.trim();
  return text.split("\n")[0] || "unknown";
}

/** One line per fact about the machine, printed above every result so numbers carry their context. */
export function describeMachine(tools: Tools): string[] {
  const model = /^model name\s*:\s*(.+)$/m.exec(safeRead("/proc/cpuinfo"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  const loadAverage = safeRead("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  const software = [`node ${process.version}`];
  if (tools.nginx !== undefined) software.push(versionOf(tools.nginx, ["-v"]).replace(/^nginx version: /, ""));
  if (tools.haproxy !== undefined) software.push(versionOf(tools.haproxy, ["-v"]).replace(/ - https.*$/, ""));
  if (tools.caddy !== undefined) software.push(`Caddy ${versionOf(tools.caddy, ["version"]).split(" ")[0] ?? ""}`);
  if (tools.named !== undefined) software.push(versionOf(tools.named, ["-v"]).replace(/ \(.*$/, ""));
  const lines = [`machine: ${cpus().length} cores (nproc ${nproc()}), ${model}; load average ${loadAverage || "unknown"}`, software.join("; ")];
  if (tools.load !== undefined) lines.push(`load generator: ${versionOf(tools.load.path, ["--version"]).replace(/ Copyright.*$/, "")}`);
  return lines;
}

function nproc(): string {
  try {
    return execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
