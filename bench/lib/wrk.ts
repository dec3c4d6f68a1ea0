// Running a load generator and reading its answer: wrk (preferred; its C event loop leaves the most
// CPU to the proxy under test) or autocannon when wrk is absent. Both become one LoadResult, so the
// benchmark never cares which one ran. The parsers are pure and unit-tested (wrk.test.ts).
import { spawn } from "node:child_process";

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** connect + read + write + timeout errors. */
  socketErrors: number;
}

export interface LoadOptions {
  url: string;
  durationSeconds: number;
  connections: number;
  threads: number;
}

export type LoadTool = { kind: "wrk"; path: string } | { kind: "autocannon"; path: string };

// In microseconds, then divided: 824 * 0.001 is not 0.824 in floating point, 824 / 1000 is.
const TIME_UNIT_US: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
const COUNT_SUFFIX: Record<string, number> = { "": 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 };

/** "824.00us", "1.45ms", "2.00s" → milliseconds. */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk time: "${text}"`);
  return (Number(match[1]) * (TIME_UNIT_US[match[2] as string] as number)) / 1000;
}

/** "170603", "42.86k", "1.20M" → a number. */
export function parseWrkCount(text: string): number {
  const match = /^([\d.]+)([kKmMgG]?)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk count: "${text}"`);
  return Number(match[1]) * (COUNT_SUFFIX[match[2] as string] as number);
}

function required(pattern: RegExp, output: string, what: string): RegExpExecArray {
  const match = pattern.exec(output);
  if (!match) throw new Error(`wrk output has no ${what} (was --latency passed?):\n${output}`);
  return match;
}

/** The text `wrk --latency` prints. Throws when a figure the benchmark needs is missing. */
export function parseWrkOutput(output: string): LoadResult {
  const total = required(/^\s*(\d+) requests in ([\d.]+\w+),/m, output, "request total");
  const rate = required(/^Requests\/sec:\s+([\d.]+)/m, output, "Requests/sec");
  const p50 = required(/^\s+50%\s+(\S+)/m, output, "50% latency");
  const p99 = required(/^\s+99%\s+(\S+)/m, output, "99% latency");
  // Both lines are absent when there was nothing to report.
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(total[1]),
    durationSeconds: parseWrkTime(total[2] as string) / 1000,
    requestsPerSecond: Number(rate[1]),
    p50Ms: parseWrkTime(p50[1] as string),
    p99Ms: parseWrkTime(p99[1] as string),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: errors ? errors.slice(1, 5).reduce((sum, count) => sum + Number(count), 0) : 0,
  };
}

interface AutocannonJson {
  duration: number;
  latency: { p50: number; p99: number };
  requests: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** What `autocannon --json` prints (latencies already in ms). */
export function parseAutocannonJson(text: string): LoadResult {
  const json = JSON.parse(text) as AutocannonJson;
  if (typeof json.requests?.total !== "number" || typeof json.latency?.p99 !== "number") {
    throw new Error(`autocannon output is missing requests.total or latency.p99:\n${text.slice(0, 500)}`);
  }
  return {
    requests: json.requests.total,
    durationSeconds: json.duration,
    requestsPerSecond: json.requests.total / json.duration,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    non2xx: json.non2xx ?? 0,
    socketErrors: (json.errors ?? 0) + (json.timeouts ?? 0),
  };
}

export function loadArgs(tool: LoadTool, options: LoadOptions): string[] {
  const seconds = String(Math.max(1, Math.round(options.durationSeconds)));
  if (tool.kind === "wrk") {
    return [`-t${options.threads}`, `-c${options.connections}`, `-d${seconds}s`, "--latency", options.url];
  }
  return ["-c", String(options.connections), "-d", seconds, "--json", options.url];
}

/** Runs the load generator to completion; the answer is parsed, the child never outlives the call. */
export function runLoad(tool: LoadTool, options: LoadOptions, onSpawn?: (pid: number) => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool.path, loadArgs(tool, options), { stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) {
        reject(new Error(`${tool.kind} exited with ${code}: ${stderr || stdout}`));
        return;
      }
      try {
        resolve(tool.kind === "wrk" ? parseWrkOutput(stdout) : parseAutocannonJson(stdout));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
