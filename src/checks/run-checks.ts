// The `checking` phase's work: every configured check against the idle slot, all at once, each
// retried as configured. An http check runs against every replica, so one broken replica fails
// the slot. Failures are results; only an abort makes runChecks reject.
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { describeError } from "../core/errors.js";
import type { CheckConfig } from "../config/schema.js";
import { runCommandCheck } from "./command.js";
import { runHttpCheck } from "./http.js";
import type { CheckAttempt, CheckKind, CheckResult, CheckTarget } from "./types.js";

export interface RunChecksOptions {
  /** Cancels everything in flight: requests are aborted, commands killed; runChecks rejects with its reason. */
  signal: AbortSignal;
  /** Waits between retries and timestamps results. */
  clock?: Clock;
  /** Called once per final result, as each completes. */
  onResult?: (result: CheckResult) => void;
  /** Base environment of command checks (process.env when absent). */
  env?: NodeJS.ProcessEnv;
  /** Working folder of command checks (usually flip.yaml's folder). */
  cwd?: string;
}

export interface ChecksOutcome {
  ok: boolean;
  /** In config order (and replica order within an http check), whatever order they finished in. */
  results: CheckResult[];
}

/** One unit of work: a check against one replica (http) or against the slot (command). */
interface CheckJob {
  check: CheckConfig;
  kind: CheckKind;
  replica?: number;
  attempt: () => Promise<CheckAttempt>;
}

export async function runChecks(checks: CheckConfig[], target: CheckTarget, options: RunChecksOptions): Promise<ChecksOutcome> {
  const { signal } = options;
  signal.throwIfAborted();
  const clock = options.clock ?? systemClock;
  const jobs = checks.flatMap((check) => jobsFor(check, target, options));

  // allSettled, not all: on abort every job must finish killing what it started before we return.
  const settled = await Promise.allSettled(
    jobs.map(async (job) => {
      const result = await runWithRetries(job, clock, signal);
      options.onResult?.(result);
      return result;
    }),
  );
  signal.throwIfAborted();
  const results: CheckResult[] = [];
  for (const outcome of settled) {
    if (outcome.status === "rejected") throw outcome.reason;
    results.push(outcome.value);
  }
  return { ok: results.every((result) => result.ok), results };
}

function jobsFor(check: CheckConfig, target: CheckTarget, options: RunChecksOptions): CheckJob[] {
  const { signal } = options;
  const timeoutMs = check.timeout;
  if (check.http) {
    const http = check.http;
    if (target.endpoints.length === 0) {
      const message = `${http.method} ${http.path} on ${target.slot}: the slot has no replicas to check`;
      return [{ check, kind: "http", attempt: () => Promise.resolve({ ok: false, message }) }];
    }
    return target.endpoints.map((endpoint) => ({
      check,
      kind: "http" as const,
      replica: endpoint.replica,
      attempt: () => runHttpCheck(http, endpoint, target, { signal, timeoutMs }),
    }));
  }
  if (check.command !== undefined) {
    const command = check.command;
    return [{ check, kind: "command", attempt: () => runCommandCheck(command, target, { signal, timeoutMs, env: options.env, cwd: options.cwd }) }];
  }
  // The schema refuses this; a check built by hand could still get here.
  return [{ check, kind: "command", attempt: () => Promise.resolve({ ok: false, message: `check ${check.name} has neither http nor command` }) }];
}

async function runWithRetries(job: CheckJob, clock: Clock, signal: AbortSignal): Promise<CheckResult> {
  const startedAt = clock.now();
  for (let attempts = 1; ; attempts++) {
    const outcome = await attemptSafely(job, signal);
    if (outcome.ok || attempts > job.check.retries) {
      const at = clock.now();
      return {
        name: job.check.name,
        kind: job.kind,
        ok: outcome.ok,
        message: outcome.message,
        ...(outcome.output !== undefined ? { output: outcome.output } : {}),
        ...(job.replica !== undefined ? { replica: job.replica } : {}),
        attempts,
        durationMs: at - startedAt,
        at,
      };
    }
    await clock.sleep(job.check.retryDelay, signal);
  }
}

/** A bug in a check must not look like an abort, nor crash the others: it becomes a failed attempt. */
async function attemptSafely(job: CheckJob, signal: AbortSignal): Promise<CheckAttempt> {
  try {
    return await job.attempt();
  } catch (error) {
    signal.throwIfAborted();
    return { ok: false, message: `check ${job.check.name} failed unexpectedly: ${describeError(error)}` };
  }
}
