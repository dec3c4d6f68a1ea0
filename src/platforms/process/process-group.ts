// What the OS says about a replica's processes. Every replica leads its own process group
// (spawned detached), so stopping it means signalling the whole group: `npm start` or `sh -c`
// wrappers then leave no orphans behind. Zombies count as gone: a controller running as PID 1's
// child in a container may never see them reaped, and they hold no port.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleepReal } from "node:timers/promises";
import type { Clock } from "../../core/clock.js";

/** Fields of /proc/<pid>/stat after the command name; undefined when the file cannot be read (gone, or not Linux). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may itself contain spaces or parentheses.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state === "Z" || state === "X";
}

/** Whether a process with this pid exists and is not a zombie. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else. It cannot be ours, yet it is alive.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/**
 * When the process started, in clock ticks since boot (Linux), or undefined elsewhere. Recorded
 * with the pid so a pid reused by an unrelated process after a crash is not mistaken for ours.
 */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** Whether any non-zombie process is left in the group led (once) by `pgid`. */
export function groupHasLiveMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true; // no /proc: trust kill(), which said the group exists
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && Number(stat[2]) === pgid && stat[0] !== "Z" && stat[0] !== "X") return true;
  }
  return false;
}

/** Sends a signal to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

// How often to look whether the OS has finished with a group. This waits on the OS, not on a
// policy, so it uses real time even when the injected clock is a test clock.
const EXIT_POLL_MS = 25;
// After SIGKILL a group is gone within milliseconds; past this something is badly wrong (D state).
const AFTER_KILL_LIMIT_MS = 5_000;

async function waitUntilGroupGone(pgid: number, stopWaiting: AbortSignal): Promise<boolean> {
  while (!stopWaiting.aborted) {
    if (!groupHasLiveMembers(pgid)) return true;
    await sleepReal(EXIT_POLL_MS, undefined, { ref: false });
  }
  return !groupHasLiveMembers(pgid);
}

export type TerminateOutcome = "already-gone" | "exited" | "killed" | "stuck";

/**
 * SIGTERM to the group, SIGKILL after `graceMs` (timed by the injected clock) if anything is still
 * alive; resolves once every member is gone.
 */
export async function terminateGroup(pgid: number, graceMs: number, clock: Clock): Promise<TerminateOutcome> {
  if (!groupHasLiveMembers(pgid)) return "already-gone";
  signalGroup(pgid, "SIGTERM");
  const graceOver = new AbortController();
  const exitedInGrace = await Promise.race([
    waitUntilGroupGone(pgid, graceOver.signal),
    clock.sleep(graceMs, graceOver.signal).then(
      () => false,
      () => false,
    ),
  ]);
  graceOver.abort();
  if (exitedInGrace) return "exited";
  signalGroup(pgid, "SIGKILL");
  const gone = await waitUntilGroupGone(pgid, AbortSignal.timeout(AFTER_KILL_LIMIT_MS));
  return gone ? "killed" : "stuck";
}
