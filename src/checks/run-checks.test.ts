import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { checksFrom, processGone, startReplica, targetOf, type TestReplica } from "./testing/helpers.js";
import { runChecks } from "./run-checks.js";
import type { CheckResult } from "./types.js";

const replicas: TestReplica[] = [];
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flip-run-checks-"));
});
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((replica) => replica.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function replica(handler: Parameters<typeof startReplica>[1]): Promise<TestReplica> {
  const started = await startReplica(0, handler);
  replicas.push(started);
  return started;
}

/** Answers 503 to the first `failures` requests, then 200. */
function failingFirst(failures: number): Parameters<typeof startReplica>[1] {
  return (_request, response, count) => {
    response.statusCode = count <= failures ? 503 : 200;
    response.end();
  };
}

async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const signal = new AbortController().signal;

describe("runChecks", () => {
  it("passes with nothing to check (the engine decides whether that is allowed)", async () => {
    expect(await runChecks([], targetOf([]), { signal })).toEqual({ ok: true, results: [] });
  });

  it("retries a failed attempt: fails twice, then passes on the third attempt", async () => {
    const app = await replica(failingFirst(2));
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" }, retries: 2, retryDelay: "0ms" }]), targetOf([app.endpoint]), { signal });
    expect(outcome.ok).toBe(true);
    expect(outcome.results[0]).toMatchObject({ ok: true, attempts: 3 });
    expect(app.requests).toBe(3);
  });

  it("gives up after `retries` retries and reports the last failure", async () => {
    const app = await replica(failingFirst(100));
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" }, retries: 1, retryDelay: "0ms" }]), targetOf([app.endpoint]), { signal });
    expect(outcome.results[0]).toMatchObject({ ok: false, attempts: 2, message: "GET /health on green replica 0 → 503 (expected 2xx)" });
    expect(app.requests).toBe(2);
  });

  it("waits retryDelay between attempts through the clock", async () => {
    const clock = new ManualClock();
    const app = await replica(failingFirst(1));
    const running = runChecks(checksFrom([{ name: "health", http: { path: "/health" }, retries: 3, retryDelay: "5s" }]), targetOf([app.endpoint]), {
      signal,
      clock,
    });
    await waitUntil(() => clock.pendingSleeps === 1);
    expect(app.requests).toBe(1);
    await clock.advance(4999);
    expect(app.requests).toBe(1);
    await clock.advance(1);
    const outcome = await running;
    expect(outcome.results[0]).toMatchObject({ ok: true, attempts: 2, durationMs: 5000, at: clock.now() });
    expect(app.requests).toBe(2);
  });

  it("runs all checks at the same time", async () => {
    // Each command waits for the other's file: run one after the other, both would time out.
    const checks = checksFrom([
      { name: "a", command: "touch a; while [ ! -f b ]; do sleep 0.02; done", timeout: "3s" },
      { name: "b", command: "touch b; while [ ! -f a ]; do sleep 0.02; done", timeout: "3s" },
    ]);
    const outcome = await runChecks(checks, targetOf([]), { signal, cwd: dir });
    expect(outcome.results.map((r) => [r.name, r.ok])).toEqual([
      ["a", true],
      ["b", true],
    ]);
  });

  it("reports each result as it completes, and returns them in config order", async () => {
    const seen: string[] = [];
    const checks = checksFrom([
      { name: "slow", command: "while [ ! -f fast-done ]; do sleep 0.02; done", timeout: "3s" },
      { name: "fast", command: "exit 1" },
    ]);
    const outcome = await runChecks(checks, targetOf([]), {
      signal,
      cwd: dir,
      onResult: (result: CheckResult) => {
        seen.push(result.name);
        if (result.name === "fast") writeFileSync(join(dir, "fast-done"), "");
      },
    });
    expect(seen).toEqual(["fast", "slow"]);
    expect(outcome.results.map((r) => r.name)).toEqual(["slow", "fast"]);
    expect(outcome.ok).toBe(false);
  });

  it("an abort cancels requests and kills commands in flight, then rejects with the reason", async () => {
    const app = await replica(() => {
      // Never answers: the request stays in flight until aborted.
    });
    const pidFile = join(dir, "sleeper.pid");
    const controller = new AbortController();
    const results: CheckResult[] = [];
    const running = runChecks(
      checksFrom([
        { name: "health", http: { path: "/health" }, timeout: "30s" },
        { name: "smoke", command: `sleep 30 & echo $! > ${pidFile}; wait`, timeout: "30s" },
      ]),
      targetOf([app.endpoint]),
      { signal: controller.signal, onResult: (result) => results.push(result) },
    );
    await waitUntil(() => app.requests === 1 && existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "");
    const reason = new Error("deployment aborted by the user");
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    const sleeperPid = Number(readFileSync(pidFile, "utf8"));
    await waitUntil(() => processGone(sleeperPid));
    expect(results).toEqual([]);
  });

  it("an abort during a retry wait rejects at once", async () => {
    const clock = new ManualClock();
    const app = await replica(failingFirst(100));
    const controller = new AbortController();
    const running = runChecks(checksFrom([{ name: "health", http: { path: "/health" }, retries: 5, retryDelay: "1m" }]), targetOf([app.endpoint]), {
      signal: controller.signal,
      clock,
    });
    await waitUntil(() => clock.pendingSleeps === 1);
    controller.abort(new Error("stop"));
    await expect(running).rejects.toThrow("stop");
    expect(app.requests).toBe(1);
  });

  it("refuses to start when already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    await expect(runChecks(checksFrom([{ name: "smoke", command: "true" }]), targetOf([]), { signal: controller.signal })).rejects.toThrow("too late");
  });
});
