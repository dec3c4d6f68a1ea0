// The process platform against real processes: deploy, replace, stop (whole process groups),
// SIGKILL after the grace, readiness failures, fixed ports.
import { readFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.testing.js";
import { FlipError } from "../../core/errors.js";
import { isProcessAlive } from "./process-group.js";
import { APP_COMMAND, APP_ENV, Harness, getJson, waitUntil } from "./testing/harness.js";

let harness: Harness;
const neverAborted = new AbortController().signal;

beforeEach(async () => {
  harness = await Harness.create();
});
afterEach(async () => {
  await harness.cleanup();
});

function startedPids(slot: string): number[] {
  return harness.events.flatMap((event) => (event.type === "replica-started" && event.slot === slot && event.pid ? [event.pid] : []));
}

async function rejection(promise: Promise<unknown>): Promise<FlipError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof FlipError)) throw new Error(`expected a FlipError, got ${String(error)}`);
  return error;
}

describe("deploy", () => {
  it("runs the replicas on their own ports, templating env, and logs their output", async () => {
    const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV, replicas: 2 }, { readinessPath: "/health" });
    await platform.deploy("blue", "v1", neverAborted);
    await platform.waitReady("blue", 10_000, neverAborted);

    const endpoints = await platform.endpoints("blue");
    expect(endpoints.map((endpoint) => endpoint.replica)).toEqual([0, 1]);
    expect(new Set(endpoints.map((endpoint) => endpoint.port)).size).toBe(2);
    for (const endpoint of endpoints) {
      expect(endpoint.url).toBe(`http://127.0.0.1:${endpoint.port}`);
      expect(await getJson(`${endpoint.url}/health`)).toMatchObject({ version: "v1", replica: String(endpoint.replica) });
    }
    expect(await platform.describe("blue")).toEqual({ version: "v1", replicas: 2, runningReplicas: 2 });
    expect(await platform.endpoints("green")).toEqual([]);

    const log = readFileSync(path.join(harness.logDir, "blue-1.log"), "utf8");
    expect(log).toContain(`listening on ${endpoints[1]?.port} as v1`);
    expect(harness.state.get("process:blue")).toMatchObject({ version: "v1", replicas: [{ replica: 0 }, { replica: 1 }] });
  });

  it("replaces the version: the old processes are gone", async () => {
    const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV, replicas: 2 }, { readinessPath: "/health" });
    await platform.deploy("green", "v1", neverAborted);
    await platform.waitReady("green", 10_000, neverAborted);
    const oldPids = startedPids("green");
    expect(oldPids).toHaveLength(2);

    await platform.deploy("green", "v2", neverAborted);
    await platform.waitReady("green", 10_000, neverAborted);
    for (const pid of oldPids) expect(isProcessAlive(pid)).toBe(false);
    const [first] = await platform.endpoints("green");
    expect(await getJson(`${first?.url}/health`)).toMatchObject({ version: "v2" });
    const record = harness.state.get<{ version: string; replicas: { pid: number }[] }>("process:green");
    expect(record?.version).toBe("v2");
    expect(record?.replicas.map((replica) => replica.pid)).not.toContain(oldPids[0]);
  });

  it("refuses a fixed port that is already taken, before spawning anything", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const takenPort = (blocker.address() as { port: number }).port;
      const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV, ports: { blue: 1, green: takenPort } });
      const error = await rejection(platform.deploy("green", "v1", neverAborted));
      expect(error.code).toBe("FLIP_E_PLATFORM");
      expect(error.message).toContain(`port ${takenPort} for green replica 0 is already in use`);
      expect(error.hint).toContain("platform.ports.green");
      expect(startedPids("green")).toEqual([]);
      expect(existsSync(path.join(harness.logDir, "green-0.log"))).toBe(false);
      expect(await platform.describe("green")).toEqual({ version: undefined, replicas: 0, runningReplicas: 0 });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe("stop", () => {
  it("kills the whole process group of a wrapper, grandchildren included", async () => {
    // sh leads the group; node is its child, the grandchild of the controller.
    const command = "node app.cjs & echo $! > grandchild-{replica}.pid; wait";
    const platform = harness.platform({ command, env: APP_ENV }, { readinessPath: "/health" });
    await platform.deploy("blue", "v1", neverAborted);
    await platform.waitReady("blue", 10_000, neverAborted);
    const [wrapperPid] = startedPids("blue");
    const grandchildPid = harness.readPidFile("grandchild-0.pid");
    expect(grandchildPid).not.toBe(wrapperPid);
    expect(isProcessAlive(grandchildPid)).toBe(true);

    await platform.stop("blue");
    expect(isProcessAlive(wrapperPid as number)).toBe(false);
    expect(isProcessAlive(grandchildPid)).toBe(false);
    expect(await platform.endpoints("blue")).toEqual([]);
    expect(await platform.describe("blue")).toEqual({ version: undefined, replicas: 0, runningReplicas: 0 });
    expect(harness.state.get("process:blue")).toBeUndefined();
  });

  it("sends SIGKILL after the grace to a process that ignores SIGTERM", async () => {
    const platform = harness.platform(
      { command: APP_COMMAND, env: { ...APP_ENV, IGNORE_TERM: "1" }, stopGrace: "300ms" },
      { readinessPath: "/health" },
    );
    await platform.deploy("blue", "v1", neverAborted);
    await platform.waitReady("blue", 10_000, neverAborted);
    const [pid] = startedPids("blue");

    const startedAt = Date.now();
    await platform.stop("blue");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    expect(isProcessAlive(pid as number)).toBe(false);
    expect(readFileSync(path.join(harness.logDir, "blue-0.log"), "utf8")).toContain("ignoring SIGTERM");
    const exited = harness.events.find((event) => event.type === "replica-exited");
    expect(exited).toMatchObject({ signal: "SIGKILL" });
    expect(exited).not.toHaveProperty("restartInMs");
  });
});

describe("waitReady", () => {
  it("fails fast with 'command not found' and the log tail when the command does not exist", async () => {
    const platform = harness.platform({ command: "flip-no-such-command-xyz --serve", env: APP_ENV });
    await platform.deploy("green", "v3", neverAborted);
    const startedAt = Date.now();
    const error = await rejection(platform.waitReady("green", 20_000, neverAborted));
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(error.code).toBe("FLIP_E_PLATFORM");
    expect(error.message).toContain("replica 0 of green (v3) exited with code 127 (command not found) before it was ready");
    expect(error.message).toContain("last lines of .flip/logs/green-0.log");
    expect(error.message).toMatch(/flip-no-such-command-xyz: .*not found/);
    expect(error.hint).toContain("flip-no-such-command-xyz");
  });

  it("fails with the exit code and the log tail when a replica exits at once", async () => {
    const platform = harness.platform({ command: "echo 'fatal: DATABASE_URL is not set' >&2; exit 3", env: APP_ENV });
    await platform.deploy("green", "v3", neverAborted);
    const error = await rejection(platform.waitReady("green", 20_000, neverAborted));
    expect(error.message).toContain("replica 0 of green (v3) exited with code 3 before it was ready");
    expect(error.message).toContain("  fatal: DATABASE_URL is not set");
  });

  it("times out by the injected clock, naming the replicas that are not ready and their logs", async () => {
    const clock = new ManualClock();
    // Replica 0 answers; replica 1 runs but never listens.
    const command = 'if [ "{replica}" = 0 ]; then exec node app.cjs; else exec sleep 30; fi';
    const platform = harness.platform({ command, env: APP_ENV, replicas: 2 }, { clock, readinessPath: "/health" });
    await platform.deploy("blue", "v1", neverAborted);
    const [first] = await platform.endpoints("blue");
    await waitUntil(async () => getJson(`${first?.url}/health`).then(() => true, () => false), "replica 0 answers");

    let settled = false;
    const outcome = rejection(platform.waitReady("blue", 5_000, neverAborted)).finally(() => (settled = true));
    while (!settled) {
      await waitUntil(() => settled || clock.pendingSleeps > 0, "waitReady sleeps between probes");
      if (!settled) await clock.advance(200);
    }
    const error = await outcome;
    expect(error.code).toBe("FLIP_E_TIMEOUT");
    expect(error.message).toContain("blue (v1) was not ready after 5.0s");
    expect(error.message).toContain("replica 1 (GET http://127.0.0.1:");
    expect(error.message).toContain("connection refused; log: .flip/logs/blue-1.log");
    expect(error.message).not.toContain("replica 0 (");
  });

  it("a path borrowed from the first check needs any answer; an explicit readiness path needs 2xx/3xx", async () => {
    // The example app answers /health with 503 for an "unhealthy" version: judging that is the checks' job.
    const hello = path.resolve(import.meta.dirname, "../../../examples/hello/server.js");
    const env = { PORT: "{port}", APP_VERSION: "{version}" };
    const borrowed = harness.platform({ command: `exec node ${hello}`, env }, { readinessPath: "/health" });
    await borrowed.deploy("blue", "v2-unhealthy", neverAborted);
    await borrowed.waitReady("blue", 10_000, neverAborted);

    const clock = new ManualClock();
    const explicit = harness.platform({ command: `exec node ${hello}`, env, readiness: { path: "/health" } }, { clock });
    await explicit.deploy("green", "v2-unhealthy", neverAborted);
    const [replica] = await explicit.endpoints("green");
    await waitUntil(() => fetch(`${replica?.url}/health`).then((r) => r.status === 503, () => false), "the app answers 503");
    let settled = false;
    const outcome = rejection(explicit.waitReady("green", 2_000, neverAborted)).finally(() => (settled = true));
    while (!settled) {
      await waitUntil(() => settled || clock.pendingSleeps > 0, "waitReady sleeps between probes");
      if (!settled) await clock.advance(200);
    }
    const error = await outcome;
    expect(error.code).toBe("FLIP_E_TIMEOUT");
    expect(error.message).toContain("answered 503");
  });

  it("uses a TCP connect when no readiness path is known, and rejects on an empty slot", async () => {
    const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV });
    expect((await rejection(platform.waitReady("blue", 1_000, neverAborted))).message).toContain("Nothing runs in blue");
    await platform.deploy("blue", "v1", neverAborted);
    await platform.waitReady("blue", 10_000, neverAborted);
    const [endpoint] = await platform.endpoints("blue");
    expect(await getJson(`${endpoint?.url}/health`)).toMatchObject({ version: "v1" });
  });

  it("rejects with a PlatformError when the signal aborts", async () => {
    const platform = harness.platform({ command: "exec sleep 30", env: APP_ENV });
    await platform.deploy("blue", "v1", neverAborted);
    const controller = new AbortController();
    const waiting = rejection(platform.waitReady("blue", 20_000, controller.signal));
    setTimeout(() => controller.abort(new Error("deployment aborted")), 100);
    const error = await waiting;
    expect(error.code).toBe("FLIP_E_PLATFORM");
    expect(error.message).toContain("cancelled");
  });
});

describe("scale", () => {
  it("adds and removes replicas of the same version", async () => {
    const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV }, { readinessPath: "/health" });
    await expect(platform.scale("blue", 2)).rejects.toThrow("nothing is deployed there");
    await platform.deploy("blue", "v1", neverAborted);
    await platform.scale("blue", 3);
    await platform.waitReady("blue", 10_000, neverAborted);
    const endpoints = await platform.endpoints("blue");
    expect(endpoints.map((endpoint) => endpoint.replica)).toEqual([0, 1, 2]);
    for (const endpoint of endpoints) expect(await getJson(`${endpoint.url}/health`)).toMatchObject({ version: "v1" });

    const pids = startedPids("blue");
    await platform.scale("blue", 1);
    expect(await platform.describe("blue")).toEqual({ version: "v1", replicas: 1, runningReplicas: 1 });
    expect(isProcessAlive(pids[0] as number)).toBe(true);
    expect(isProcessAlive(pids[1] as number)).toBe(false);
    expect(isProcessAlive(pids[2] as number)).toBe(false);
    expect(harness.state.get<{ replicas: unknown[] }>("process:blue")?.replicas).toHaveLength(1);
  });
});
