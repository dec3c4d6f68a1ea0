// The two commands the nginx router runs — the config test and the reload — through the same
// /bin/sh runner as the command platform: its own process group, a timeout on the injected clock,
// and the last lines of output kept, because nginx's own message is what the user needs to see.
import type { Clock } from "../../core/clock.js";
import { quoteTail, runShell } from "../../platforms/command/shell.js";

export interface CommandResult {
  ok: boolean;
  /** "exited with code 1", "timed out after 30s"... */
  outcome: string;
  /** The last lines it printed (stdout and stderr together), indented for a message. */
  output: string;
}

// nginx lives in /usr/sbin, which is not on an ordinary user's PATH: `nginx -t` should work as written.
const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
/** How long a command that ignored SIGTERM at its timeout gets before SIGKILL. */
const KILL_GRACE_MS = 2_000;

export function commandPath(path: string | undefined): string {
  const dirs = (path ?? "").split(":").filter(Boolean);
  return [...dirs, ...SBIN_DIRS.filter((dir) => !dirs.includes(dir))].join(":");
}

export async function runNginxCommand(command: string, options: { cwd: string; timeoutMs: number; clock: Clock }): Promise<CommandResult> {
  const outcome = await runShell({
    command,
    cwd: options.cwd,
    env: { ...process.env, PATH: commandPath(process.env.PATH) },
    timeoutMs: options.timeoutMs,
    killGraceMs: KILL_GRACE_MS,
    clock: options.clock,
    signal: new AbortController().signal,
    onLine: () => undefined,
  });
  const output = quoteTail(outcome.tail);
  switch (outcome.kind) {
    case "exited":
      return { ok: outcome.code === 0, outcome: `exited with code ${outcome.code}`, output };
    case "killed":
      return { ok: false, outcome: `was killed by ${outcome.signal}`, output };
    case "timed-out":
      return { ok: false, outcome: `did not finish within ${options.timeoutMs / 1000}s`, output };
    case "cancelled":
      return { ok: false, outcome: "was cancelled", output };
    case "spawn-failed":
      return { ok: false, outcome: `could not start (${outcome.message})`, output };
  }
}
