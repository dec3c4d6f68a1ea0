// The processes a benchmark starts (upstream, proxies, load generator), and their cleanup: every one
// is stopped by PID when the benchmark ends, fails or is interrupted, including the children they
// forked (nginx workers, cluster workers). Also what /proc says about a process tree: RSS and CPU.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { probeTcp } from "../../src/platforms/process/ports.js";

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last few KB of its stdout and stderr, for the error message when it dies. */
  output(): string;
}

const OUTPUT_TAIL_BYTES = 4096;
const STOP_GRACE_MS = 3000;

export class ProcessGroup {
  private readonly started: Started[] = [];
  private readonly extraPids = new Set<number>();
  private readonly afterStop: Array<() => void> = [];
  private stopping: Promise<void> | undefined;

  /** Spawns `command`; its output is kept (tail only), never printed unless it fails. */
  start(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Started {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let tail = "";
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_BYTES));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("error", (error) => (tail += `\n${error.message}`));
    const started: Started = { name, pid: child.pid, child, output: () => tail };
    this.started.push(started);
    return started;
  }

  /** A process started elsewhere (the load generator) that must not outlive the benchmark either. */
  adopt(pid: number): void {
    this.extraPids.add(pid);
  }

  /** Runs once everything has stopped (removing the scratch folder), on a signal too. */
  onStopped(cleanup: () => void): void {
    this.afterStop.push(cleanup);
  }

  /** Resolves once host:port accepts connections; rejects if the process exits first or on timeout. */
  async waitForPort(started: Started, host: string, port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (started.child.exitCode !== null || started.child.signalCode !== null) {
        throw new Error(`${started.name} exited (${started.child.exitCode ?? started.child.signalCode}) before listening:\n${started.output()}`);
      }
      const probe = await probeTcp(host, port, 500);
      if (probe.ok) return;
      await sleep(50);
    }
    throw new Error(`${started.name} did not listen on ${host}:${port} within ${timeoutMs}ms:\n${started.output()}`);
  }

  /** SIGTERM to every process and its descendants, SIGKILL to what is left after a grace period. */
  stopAll(): Promise<void> {
    this.stopping ??= this.stopEverything();
    return this.stopping;
  }

  private async stopEverything(): Promise<void> {
    const roots = [...this.started.map((started) => started.pid), ...this.extraPids];
    // Collected before the parents go: once a parent exits, its children are reparented and lost.
    const pids = roots.flatMap((pid) => [pid, ...descendantsOf(pid)]);
    for (const pid of roots) signal(pid, "SIGTERM");
    const deadline = Date.now() + STOP_GRACE_MS;
    while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
    for (const pid of pids.filter(isAlive)) signal(pid, "SIGKILL");
    for (const cleanup of this.afterStop) cleanup();
  }

  /** Stops everything on Ctrl-C / SIGTERM, then exits with the conventional 128+n code. */
  stopOnSignals(): void {
    const onSignal = (name: NodeJS.Signals, code: number) => {
      process.stderr.write(`\n${name}: stopping every process the benchmark started…\n`);
      void this.stopAll().finally(() => process.exit(code));
    };
    process.once("SIGINT", () => onSignal("SIGINT", 130));
    process.once("SIGTERM", () => onSignal("SIGTERM", 143));
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it has stopped running, which is all we need.
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Every process below `pid`, found through the parent PIDs in /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]); // field 4 overall: ppid
    if (!Number.isFinite(parent)) continue;
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Resident memory of a process and its descendants, in bytes (VmRSS from /proc/<pid>/status). */
export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const member of [pid, ...descendantsOf(pid)]) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${member}/status`, "utf8"));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // exited between the listing and the read
    }
  }
  return total;
}

let clockTicksPerSecond: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100; // Linux's USER_HZ nearly everywhere
    }
  }
  return clockTicksPerSecond;
}

/** User + system CPU time used so far by a process and its live descendants, in microseconds. */
export function treeCpuMicros(pid: number): number {
  let ticks = 0;
  for (const member of [pid, ...descendantsOf(pid)]) {
    const fields = statFields(member);
    if (fields === undefined) continue;
    ticks += Number(fields[11]) + Number(fields[12]); // fields 14 and 15 overall: utime, stime
  }
  return (ticks / ticksPerSecond()) * 1e6;
}
