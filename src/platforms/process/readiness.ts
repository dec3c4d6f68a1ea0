// Waiting until every replica of a slot answers its readiness probe (HTTP GET of a path with a
// 2xx/3xx answer, or a TCP connect), and failing early, with the replica's own words from its log,
// when one exits before it got there.
import { request } from "undici";
import type { Clock } from "../../core/clock.js";
import { formatDuration } from "../../core/duration.js";
import { PlatformError, TimeoutError } from "../../core/errors.js";
import { displayPath, readLogTail } from "./log-file.js";
import { probeTcp } from "./ports.js";
import type { ProbeResult } from "./ports.js";
import type { Replica, ReplicaExit } from "./replica.js";
import { describeExit } from "./restart-policy.js";

// A single probe never waits longer than this, so a hung app cannot stall the polling.
const PROBE_TIMEOUT_MS = 2_000;
const LOG_TAIL_LINES = 10;

/**
 * One GET of `url`; ready on any status from 200 to 399 — or on any answer at all with `anyStatus`
 * (readiness borrowed from a check: "the app answers", judging the answer is the check's job).
 */
export async function probeHttp(url: string, timeoutMs: number, signal?: AbortSignal, anyStatus = false): Promise<ProbeResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(url, {
      method: "GET",
      reset: true, // no keep-alive: a probe must not hold a connection to a replica we may stop
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      headers: { "user-agent": "flip-readiness" },
    });
    await response.body.dump();
    if (anyStatus || (response.statusCode >= 200 && response.statusCode < 400)) return { ok: true };
    return { ok: false, reason: `answered ${response.statusCode}` };
  } catch (error) {
    if (timeout.aborted) return { ok: false, reason: `no answer within ${formatDuration(timeoutMs)}` };
    const code = (error as { code?: string }).code;
    return { ok: false, reason: code === "ECONNREFUSED" ? "connection refused" : (code ?? (error as Error).message) };
  }
}

export interface ReadinessWait {
  replicas: Replica[];
  /** e.g. "green (v3)" */
  slotName: string;
  /** HTTP path to GET; a TCP connect when undefined. */
  readinessPath: string | undefined;
  /** Any HTTP answer counts as ready (the path was borrowed from the first http check). */
  readinessAnyStatus: boolean;
  timeoutMs: number;
  intervalMs: number;
  clock: Clock;
  configDir: string;
  signal: AbortSignal;
}

function probeReplica(replica: Replica, readinessPath: string | undefined, anyStatus: boolean, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const { host, port, url } = replica.endpoint;
  if (readinessPath === undefined) return probeTcp(host, port, timeoutMs, signal);
  return probeHttp(`${url}${readinessPath}`, timeoutMs, signal, anyStatus);
}

function probeLabel(replica: Replica, readinessPath: string | undefined): string {
  const { host, port, url } = replica.endpoint;
  return readinessPath === undefined ? `TCP ${host}:${port}` : `GET ${url}${readinessPath}`;
}

/** The error for a replica whose process ended before it was ready, quoting the end of its log. */
export function exitedBeforeReadyError(replica: Replica, exit: ReplicaExit, configDir: string): PlatformError {
  const logName = displayPath(replica.spec.logPath, configDir);
  const tail = readLogTail(replica.spec.logPath, LOG_TAIL_LINES);
  const quoted = tail.length > 0 ? tail.map((line) => `  ${line}`).join("\n") : "  (empty)";
  const message = `${replica.name} ${describeExit(exit.code, exit.signal)} before it was ready; last lines of ${logName}:\n${quoted}`;
  const hint =
    exit.code === 127
      ? `The shell could not find the program in \`platform.command\` ("${replica.spec.command}"). Check its spelling, PATH, and \`platform.cwd\` (${replica.spec.cwd}).`
      : `Read ${logName} for the full output, and run \`platform.command\` by hand in ${replica.spec.cwd} with PORT=${replica.spec.port} to reproduce.`;
  return new PlatformError(message, hint);
}

/** Resolves when every replica is ready; rejects on an early exit, the timeout, or the signal. */
export async function waitUntilReady(wait: ReadinessWait): Promise<void> {
  const { replicas, clock, signal } = wait;
  const deadline = clock.now() + wait.timeoutMs;
  let failure: PlatformError | undefined;
  let wakeUp = new AbortController();
  const unsubscribes = replicas.map((replica) =>
    replica.onExit((exit) => {
      if (exit.beforeReady) failure ??= exitedBeforeReadyError(replica, exit, wait.configDir);
      wakeUp.abort();
    }),
  );
  // A replica that already crashed before anyone probed it (e.g. "command not found") and now
  // waits out its restart backoff has failed just the same.
  for (const replica of replicas) {
    if (!replica.isRunning && replica.lastExit?.beforeReady) failure ??= exitedBeforeReadyError(replica, replica.lastExit, wait.configDir);
  }
  const notReady = new Map<Replica, string>();
  try {
    for (;;) {
      if (signal.aborted) {
        throw new PlatformError(`Stopped waiting for ${wait.slotName} to be ready: cancelled.`, undefined, { cause: signal.reason });
      }
      if (failure) throw failure;
      const remainingMs = deadline - clock.now();
      const probeTimeoutMs = Math.max(100, Math.min(PROBE_TIMEOUT_MS, remainingMs));
      await Promise.all(
        replicas.map(async (replica) => {
          if (replica.isReady) {
            notReady.delete(replica);
            return;
          }
          if (!replica.isRunning) {
            notReady.set(replica, "not running (waiting to be restarted)");
            return;
          }
          const result = await probeReplica(replica, wait.readinessPath, wait.readinessAnyStatus, probeTimeoutMs, signal);
          if (result.ok) {
            replica.markReady();
            notReady.delete(replica);
          } else {
            notReady.set(replica, `${probeLabel(replica, wait.readinessPath)}: ${result.reason}`);
          }
        }),
      );
      if (failure) throw failure;
      if (replicas.every((replica) => replica.isReady)) return;
      if (clock.now() >= deadline) throw timeoutError(wait, notReady);
      wakeUp = new AbortController();
      const stopSleeping = AbortSignal.any([wakeUp.signal, signal]);
      await clock.sleep(Math.min(wait.intervalMs, deadline - clock.now()), stopSleeping).catch(() => undefined);
    }
  } finally {
    for (const unsubscribe of unsubscribes) unsubscribe();
  }
}

function timeoutError(wait: ReadinessWait, notReady: Map<Replica, string>): TimeoutError {
  const lines = [...notReady].map(
    ([replica, reason]) => `  replica ${replica.spec.index} (${reason}; log: ${displayPath(replica.spec.logPath, wait.configDir)})`,
  );
  const answer = wait.readinessPath === undefined ? "accept TCP connections" : wait.readinessAnyStatus ? `answer GET ${wait.readinessPath}` : `answer GET ${wait.readinessPath} with a 2xx or 3xx status`;
  return new TimeoutError(
    `${wait.slotName} was not ready after ${formatDuration(wait.timeoutMs)}; not ready:\n${lines.join("\n")}`,
    `The app must listen on 127.0.0.1 on the port Flip gives it (e.g. \`PORT: "{port}"\` in platform.env) and ${answer}. If it is just slow to start, raise \`readyTimeout\` in flip.yaml.`,
  );
}
