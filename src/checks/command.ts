// One try of a command check: `/bin/sh -c` in its own process group, exit 0 passes. A command that
// hangs is killed with its whole group (SIGTERM, then SIGKILL), so it can never hang a deploy.
import { spawn } from "node:child_process";
import { formatDuration } from "../core/duration.js";
import { renderTemplate } from "../core/template.js";
import type { CheckAttempt, CheckTarget } from "./types.js";

const OUTPUT_TAIL_BYTES = 4096;
/** Between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1000;
/** After the shell exits, how long a leftover holder of its pipes may keep us waiting for output. */
const PIPE_GRACE_MS = 250;

export interface CommandAttemptOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** The base environment (process.env when absent); FLIP_URL, FLIP_VERSION, FLIP_SLOT are added. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function runCommandCheck(command: string, target: CheckTarget, options: CommandAttemptOptions): Promise<CheckAttempt> {
  const rendered = renderTemplate(command, { url: target.url, version: target.version, slot: target.slot });
  const label = `\`${rendered.length > 80 ? `${rendered.slice(0, 77)}...` : rendered}\``;
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason as Error);

  return new Promise<CheckAttempt>((resolve, reject) => {
    const env = { ...(options.env ?? process.env), FLIP_URL: target.url, FLIP_VERSION: target.version, FLIP_SLOT: target.slot };
    const child = spawn("/bin/sh", ["-c", rendered], { cwd: options.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const output = new OutputTail(OUTPUT_TAIL_BYTES);
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));

    let stopping: "timeout" | "abort" | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    // Negative pid = the whole group: the shell and everything it started.
    const signalGroup = (name: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, name);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const stop = (why: "timeout" | "abort"): void => {
      if (stopping || settled) return;
      // The shell already answered; only its leftover pipes are pending, and they have their own grace.
      if (why === "timeout" && exit) return;
      stopping = why;
      signalGroup("SIGTERM");
      timers.push(
        setTimeout(() => {
          signalGroup("SIGKILL");
          // SIGKILL cannot be refused; whatever still holds the pipes now is outside the group.
          timers.push(setTimeout(finish, PIPE_GRACE_MS));
        }, KILL_GRACE_MS),
      );
    };
    const onAbort = (): void => stop("abort");

    const finish = (): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      // Stragglers that closed their output but ignored SIGTERM still belong to the group.
      if (stopping) signalGroup("SIGKILL");
      if (stopping === "abort") {
        reject(signal.reason as Error);
        return;
      }
      const text = output.text();
      const result = (ok: boolean, message: string): CheckAttempt => (text ? { ok, message, output: text } : { ok, message });
      if (stopping === "timeout") resolve(result(false, `${label} timed out after ${formatDuration(options.timeoutMs)}`));
      else if (exit?.code === 0) resolve(result(true, `${label} exited 0`));
      else if (exit?.code != null) resolve(result(false, `${label} exited with code ${exit.code}${lastLineOf(text)}`));
      else resolve(result(false, `${label} was killed by ${exit?.signal ?? "a signal"}${lastLineOf(text)}`));
    };

    timers.push(setTimeout(() => stop("timeout"), options.timeoutMs));
    signal.addEventListener("abort", onAbort, { once: true });

    child.on("error", (error) => {
      // The shell could not start at all (a missing cwd, usually): there is nothing to kill.
      if (child.pid !== undefined || settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) reject(signal.reason as Error);
      else resolve({ ok: false, message: `${label} could not start: ${error.message}${options.cwd ? ` (cwd ${options.cwd})` : ""}` });
    });
    child.on("exit", (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      // A background job may keep the pipes open after the shell is gone; do not wait on it forever.
      if (!stopping) timers.push(setTimeout(finish, PIPE_GRACE_MS));
    });
    child.on("close", finish);
  });
}

/** The last bytes of a stream of output, kept without holding all of it. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly limitBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limitBytes) this.compact();
  }

  text(): string {
    this.compact();
    // Cutting bytes may split a character; drop the broken start rather than show garbage.
    const body = Buffer.concat(this.chunks).toString("utf8").replace(/^\uFFFD+/, "").trim();
    return this.dropped && body ? `[...earlier output trimmed]\n${body}` : body;
  }

  private compact(): void {
    if (this.size <= this.limitBytes) return;
    const all = Buffer.concat(this.chunks);
    const kept = all.subarray(all.length - this.limitBytes);
    this.chunks = [kept];
    this.size = kept.length;
    this.dropped = true;
  }
}

/** ": <last line>" for a failure message, so one line tells why without opening the output. */
function lastLineOf(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).filter(Boolean).at(-1);
  if (!line) return "";
  return `: ${line.length > 120 ? `${line.slice(0, 117)}...` : line}`;
}
