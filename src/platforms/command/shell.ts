// Runs one of the user's commands (deploy, ready, scale, stop): `/bin/sh -c` in its own process
// group, output handed over line by line as it comes, the last lines kept for an error message.
// At its timeout (or when cancelled) the whole group gets SIGTERM, then SIGKILL after a grace.
// The outcome is data: the caller decides whether a non-zero exit is a failure or "not yet".
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { setTimeout as sleepReal } from "node:timers/promises";
import type { Clock } from "../../core/clock.js";
// The process platform's view of process groups (zombies count as gone) serves here too.
import { groupHasLiveMembers, signalGroup } from "../process/process-group.js";

export interface ShellRun {
  /** Already templated. */
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** SIGTERM → SIGKILL delay when the command must be stopped. */
  killGraceMs: number;
  clock: Clock;
  signal: AbortSignal;
  /** Each line of stdout and stderr, as soon as it is complete. */
  onLine: (line: string) => void;
}

export type ShellOutcome =
  | { kind: "exited"; code: number; tail: string[] }
  | { kind: "killed"; signal: string; tail: string[] }
  | { kind: "timed-out"; tail: string[] }
  | { kind: "cancelled"; tail: string[] }
  | { kind: "spawn-failed"; message: string; tail: string[] };

const TAIL_LINES = 20;
/** A line longer than this is cut: one runaway line must not flood the deployment log. */
const MAX_LINE_CHARS = 2_000;
/** After the shell exits, how long a background process still holding its pipes may delay the result. */
const PIPE_GRACE_MS = 250;

export function runShell(run: ShellRun): Promise<ShellOutcome> {
  const { tail, addLine } = tailKeeper(run.onLine);
  if (run.signal.aborted) return Promise.resolve({ kind: "cancelled", tail });

  return new Promise<ShellOutcome>((resolve) => {
    // detached: the shell leads a new process group, so a timeout can stop everything it started.
    // `exec 2>&1` first: stderr joins stdout in one pipe, so the log keeps the order things happened in.
    const child = spawn("/bin/sh", ["-c", `exec 2>&1\n${run.command}`], { cwd: run.cwd, env: run.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const streams = [child.stdout, child.stderr];
    const readers = streams.map((stream) => readLines(stream, addLine));
    const stopTimers = new AbortController();
    let stopping: "timed-out" | "cancelled" | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;

    const signalShellGroup = (name: NodeJS.Signals): void => {
      if (child.pid !== undefined) signalGroup(child.pid, name);
    };
    const stop = (why: "timed-out" | "cancelled"): void => {
      if (stopping || settled || exit) return;
      stopping = why;
      signalShellGroup("SIGTERM");
      run.clock.sleep(run.killGraceMs, stopTimers.signal).then(
        () => signalShellGroup("SIGKILL"),
        () => undefined,
      );
    };
    const onAbort = (): void => stop("cancelled");

    const finish = (outcome: ShellOutcome): void => {
      if (settled) return;
      settled = true;
      stopTimers.abort();
      run.signal.removeEventListener("abort", onAbort);
      for (const reader of readers) reader.flush();
      releasePipes(streams);
      if (!stopping || child.pid === undefined) {
        resolve(outcome);
        return;
      }
      // Stragglers that ignored SIGTERM while the shell itself exited still belong to the group:
      // a stopped command is reported only once nothing of it runs any more.
      signalShellGroup("SIGKILL");
      void waitUntilGroupGone(child.pid).then(() => resolve(outcome));
    };
    const finishFromExit = (): void => {
      if (stopping) {
        finish({ kind: stopping, tail });
        return;
      }
      if (exit?.code !== null && exit?.code !== undefined) finish({ kind: "exited", code: exit.code, tail });
      else finish({ kind: "killed", signal: exit?.signal ?? "a signal", tail });
    };

    run.clock.sleep(run.timeoutMs, stopTimers.signal).then(
      () => stop("timed-out"),
      () => undefined,
    );
    run.signal.addEventListener("abort", onAbort, { once: true });

    child.on("error", (error) => {
      // The shell could not start at all (a missing cwd, usually): there is nothing to kill.
      if (child.pid === undefined) finish({ kind: "spawn-failed", message: error.message, tail });
    });
    child.on("exit", (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      // Normally "close" follows at once; a background job holding the pipes must not delay us long.
      setTimeout(finishFromExit, PIPE_GRACE_MS).unref();
    });
    child.on("close", finishFromExit);
  });
}

/** The last TAIL_LINES lines, each cut at MAX_LINE_CHARS, passed on as they come. */
function tailKeeper(onLine: (line: string) => void): { tail: string[]; addLine: (raw: string) => void } {
  const tail: string[] = [];
  const addLine = (raw: string): void => {
    const line = raw.length > MAX_LINE_CHARS ? `${raw.slice(0, MAX_LINE_CHARS)}…` : raw;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    onLine(line);
  };
  return { tail, addLine };
}

/**
 * A background process the command started may still hold the pipes: keep draining them (unread
 * pipes would block it, closed ones would kill it with SIGPIPE) without keeping Node alive for it.
 */
function releasePipes(streams: Readable[]): void {
  for (const stream of streams) {
    stream.removeAllListeners("data");
    stream.resume();
    (stream as Readable & { unref?: () => void }).unref?.();
  }
}

// How often to look whether the OS has finished with a killed group, and for how long at most. This
// waits on the OS, not on a policy, so it uses real time whatever the injected clock.
const GROUP_POLL_MS = 20;
const GROUP_GONE_LIMIT_MS = 5_000;

async function waitUntilGroupGone(pgid: number): Promise<void> {
  const giveUpAt = Date.now() + GROUP_GONE_LIMIT_MS;
  while (groupHasLiveMembers(pgid) && Date.now() < giveUpAt) await sleepReal(GROUP_POLL_MS, undefined, { ref: false });
}

/** Splits a stream into lines (a final line without a newline is delivered by flush()). */
function readLines(stream: Readable, onLine: (line: string) => void): { flush(): void } {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (pending + chunk).split(/\r?\n/);
    pending = parts.pop() ?? "";
    for (const part of parts) onLine(part);
    // A very long line without a newline yet is delivered in pieces rather than held forever.
    if (pending.length > MAX_LINE_CHARS) {
      onLine(pending);
      pending = "";
    }
  });
  return {
    flush() {
      if (pending !== "") onLine(pending);
      pending = "";
    },
  };
}

/** The tail as an indented block for an error message. */
export function quoteTail(tail: readonly string[], lines = 10): string {
  const shown = tail.slice(-lines);
  return shown.length === 0 ? "  (no output)" : shown.map((line) => `  ${line}`).join("\n");
}

// Characters that never need quoting in a POSIX shell word.
const SHELL_SAFE = /^[A-Za-z0-9._:/@%+=,-]+$/;

/** A value made safe to paste into a shell command: as it is when it can be, else single-quoted. */
export function shellQuote(value: string): string {
  if (SHELL_SAFE.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
