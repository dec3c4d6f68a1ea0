// Crashed replicas come back: the backoff decision (pure), its timing by the injected clock, and a
// real crash restarted on the same port.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.testing.js";
import type { PlatformEvent } from "../platform.js";
import { consecutiveCrashes, describeExit, restartDelayMs, STABLE_RUN_MS } from "./restart-policy.js";
import { isProcessAlive } from "./process-group.js";
import { APP_COMMAND, APP_ENV, Harness, getJson, waitUntil } from "./testing/harness.js";

const neverAborted = new AbortController().signal;

describe("restart policy", () => {
  it("doubles from 250ms up to the ceiling, and never spins", () => {
    expect([1, 2, 3, 4, 5, 6].map((crashes) => restartDelayMs(crashes, 5_000))).toEqual([250, 500, 1000, 2000, 4000, 5000]);
    expect(restartDelayMs(1_000, 30_000)).toBe(30_000);
    expect(restartDelayMs(1, 0)).toBe(50);
  });

  it("starts over after a run long enough to be healthy", () => {
    expect(consecutiveCrashes(4, 100)).toBe(5);
    expect(consecutiveCrashes(4, STABLE_RUN_MS)).toBe(1);
  });

  it("words exits for people", () => {
    expect(describeExit(127, null)).toBe("exited with code 127 (command not found)");
    expect(describeExit(1, null)).toBe("exited with code 1");
    expect(describeExit(null, "SIGKILL")).toBe("was killed by SIGKILL");
  });
});

describe("restarting crashed replicas", () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await Harness.create();
  });
  afterEach(async () => {
    await harness.cleanup();
  });

  const exits = () => harness.events.filter((event): event is Extract<PlatformEvent, { type: "replica-exited" }> => event.type === "replica-exited");
  const starts = () => harness.events.filter((event) => event.type === "replica-started");

  it("retries a replica that keeps crashing, waiting longer each time by the injected clock", async () => {
    const clock = new ManualClock();
    const platform = harness.platform({ command: "echo crash; exit 1", env: APP_ENV, restart: { maxBackoff: "600ms" } }, { clock });
    await platform.deploy("blue", "v1", neverAborted);

    const expectedDelays = [250, 500, 600, 600];
    for (const [attempt, delayMs] of expectedDelays.entries()) {
      await waitUntil(() => exits().length === attempt + 1 && clock.pendingSleeps === 1, `crash ${attempt + 1} is seen`);
      expect(exits()[attempt]).toMatchObject({ slot: "blue", replica: 0, code: 1, restartInMs: delayMs });
      expect(await platform.describe("blue")).toEqual({ version: "v1", replicas: 1, runningReplicas: 0 });
      await clock.advance(delayMs - 1);
      expect(starts()).toHaveLength(attempt + 1); // not a millisecond early
      await clock.advance(1);
      await waitUntil(() => starts().length === attempt + 2, `restart ${attempt + 1}`);
    }
  });

  it("restarts a killed replica on the same port, and stops restarting once the slot is stopped", async () => {
    const platform = harness.platform({ command: APP_COMMAND, env: APP_ENV, restart: { maxBackoff: "100ms" } }, { readinessPath: "/health" });
    await platform.deploy("green", "v2", neverAborted);
    await platform.waitReady("green", 10_000, neverAborted);
    const [before] = await platform.endpoints("green");
    const firstPid = (await getJson(`${before?.url}/health`)).pid as number;

    process.kill(firstPid, "SIGKILL");
    await harness.waitForEvent((event) => event.type === "replica-exited" && event.signal === "SIGKILL");
    await harness.waitForEvent((event) => event.type === "replica-started" && event.pid !== firstPid);
    await platform.waitReady("green", 10_000, neverAborted);
    const [after] = await platform.endpoints("green");
    expect(after?.port).toBe(before?.port);
    const secondPid = (await getJson(`${after?.url}/health`)).pid as number;
    expect(secondPid).not.toBe(firstPid);
    expect(harness.state.get<{ replicas: { pid: number }[] }>("process:green")?.replicas[0]?.pid).toBe(secondPid);

    await platform.stop("green");
    const startsAfterStop = starts().length;
    await new Promise((resolve) => setTimeout(resolve, 300)); // longer than the 100ms backoff
    expect(starts()).toHaveLength(startsAfterStop);
    expect(isProcessAlive(secondPid)).toBe(false);
  });
});
