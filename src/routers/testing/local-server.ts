// What the tests of the routers for self-run servers (nginx, HAProxy) share: finding the Debian
// package's binary (in /usr/sbin, often not on PATH) and stopping a server by its PID, children
// included, even when the test failed.
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export function findServerBinary(name: string): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin"]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not installed: \`bash scripts/install-debian-packages.sh\` installs it (Debian package ${name})`);
}

/** The PIDs of a process's children, from /proc (nginx's workers). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * SIGTERM (a fast shutdown for both nginx, whose master waits for its workers, and HAProxy), then
 * SIGKILL to the process and the children it had, if it is still running after 3 s.
 */
export async function stopTree(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const children = childPids(pid);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const inTime = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
  if (inTime) return;
  for (const member of [pid, ...children]) {
    try {
      process.kill(member, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await exited;
}

export function readIfExists(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
