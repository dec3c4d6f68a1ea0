// When to start a crashed replica again: exponential backoff from 250ms, doubling up to the
// configured ceiling, reset once a run lasted long enough to count as healthy. Pure decisions;
// the replica does the waiting with the injected clock.

export const FIRST_RESTART_DELAY_MS = 250;

/** Even with `restart.maxBackoff: 0ms` a crashing replica must not spin the CPU. */
export const MIN_RESTART_DELAY_MS = 50;

/** A run at least this long was not a crash loop: the next crash starts the backoff over. */
export const STABLE_RUN_MS = 10_000;

/** How many crashes in a row, counting the one that just happened. */
export function consecutiveCrashes(previousCrashes: number, runMs: number): number {
  return runMs >= STABLE_RUN_MS ? 1 : previousCrashes + 1;
}

/** The wait before restart number `crashes` (1 for the first crash of a series). */
export function restartDelayMs(crashes: number, maxBackoffMs: number): number {
  const doublings = Math.min(Math.max(crashes - 1, 0), 30); // 2^30 already exceeds any sane ceiling
  return Math.max(MIN_RESTART_DELAY_MS, Math.min(FIRST_RESTART_DELAY_MS * 2 ** doublings, maxBackoffMs));
}

/** How an exit reads in a sentence: "exited with code 1", "was killed by SIGKILL". */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `was killed by ${signal}`;
  if (code === 127) return "exited with code 127 (command not found)";
  if (code === 126) return "exited with code 126 (command found but not executable)";
  if (code === null) return "exited";
  return `exited with code ${code}`;
}
