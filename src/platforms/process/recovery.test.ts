// After a controller crash: a second platform on the same state adopts replicas that still run,
// watches them, and starts again those that do not. Plus the pure adoption decision.
import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PlatformEvent } from "../platform.js";
import { isProcessAlive } from "./process-group.js";
import { decideRecovery } from "./recovery.js";
import type { RecordedProcessFacts } from "./recovery.js";
import { pickFreePort } from "./ports.js";
import { APP_COMMAND, APP_ENV, Harness, getJson } from "./testing/harness.js";

const neverAborted = new AbortController().signal;

describe("decideRecovery", () => {
  const facts = (overrides: Partial<RecordedProcessFacts>): RecordedProcessFacts => ({
    recorded: true,
    alive: true,
    startTime: "same",
    portAnswers: true,
    leftoverGroup: false,
    ...overrides,
  });

  it("adopts only a live process that is ours and serves its port", () => {
    expect(decideRecovery(facts({}))).toBe("adopt");
    expect(decideRecovery(facts({ startTime: "unknown" }))).toBe("adopt");
    expect(decideRecovery(facts({ startTime: "different" }))).toBe("leave-foreign-and-start");
    expect(decideRecovery(facts({ portAnswers: false }))).toBe("clean-up-and-start");
    expect(decideRecovery(facts({ portAnswers: false, startTime: "unknown" }))).toBe("leave-foreign-and-start");
  });

  it("starts again what is dead or was never spawned, cleaning up a wrapper's leftovers", () => {
    expect(decideRecovery(facts({ recorded: false, alive: false }))).toBe("start");
    expect(decideRecovery(facts({ alive: false }))).toBe("start");
    expect(decideRecovery(facts({ alive: false, leftoverGroup: true }))).toBe("clean-up-and-start");
  });
});

describe("recover", () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await Harness.create();
  });
  afterEach(async () => {
    await harness.cleanup();
  });

  const config = { command: APP_COMMAND, env: APP_ENV, replicas: 2, restart: { maxBackoff: "100ms" } };
  const ofType = <T extends PlatformEvent["type"]>(type: T, from = 0) =>
    harness.events.slice(from).filter((event): event is Extract<PlatformEvent, { type: T }> => event.type === type);

  it("adopts replicas that survived the controller, then restarts one that dies", async () => {
    const first = harness.platform(config, { readinessPath: "/health" });
    await first.deploy("blue", "v7", neverAborted);
    await first.waitReady("blue", 10_000, neverAborted);
    const pids = ofType("replica-started").map((event) => event.pid);
    const ports = (await first.endpoints("blue")).map((endpoint) => endpoint.port);
    await first.close({ stopReplicas: false }); // what a kill -9 of `flip serve` leaves behind
    for (const pid of pids) expect(isProcessAlive(pid as number)).toBe(true);

    const mark = harness.events.length;
    const second = harness.platform(config, { readinessPath: "/health" });
    await second.recover(neverAborted);
    expect(ofType("replica-adopted", mark).map((event) => event.pid)).toEqual(pids);
    expect(ofType("replica-started", mark)).toEqual([]);
    expect(await second.describe("blue")).toEqual({ version: "v7", replicas: 2, runningReplicas: 2 });
    const endpoints = await second.endpoints("blue");
    expect(endpoints.map((endpoint) => endpoint.port)).toEqual(ports);
    for (const endpoint of endpoints) expect(await getJson(`${endpoint.url}/health`)).toMatchObject({ version: "v7" });
    await second.waitReady("blue", 5_000, neverAborted);

    const victim = pids[1] as number;
    process.kill(-victim, "SIGKILL");
    await harness.waitForEvent((event) => event.type === "replica-exited" && event.replica === 1, mark);
    const restarted = await harness.waitForEvent((event) => event.type === "replica-started" && event.replica === 1, mark);
    expect(restarted).toMatchObject({ slot: "blue", port: ports[1] });
    await second.waitReady("blue", 10_000, neverAborted);
    expect(await getJson(`${endpoints[1]?.url}/health`)).toMatchObject({ version: "v7", pid: restarted.type === "replica-started" ? restarted.pid : -1 });
    expect(isProcessAlive(pids[0] as number)).toBe(true); // the healthy one was left alone

    await second.close({ stopReplicas: true });
    for (const pid of [...pids, restarted.type === "replica-started" ? restarted.pid : undefined]) expect(isProcessAlive(pid as number)).toBe(false);
  });

  it("starts the recorded version again, on the same ports, when its processes are dead", async () => {
    const first = harness.platform(config, { readinessPath: "/health" });
    await first.deploy("green", "v8", neverAborted);
    await first.waitReady("green", 10_000, neverAborted);
    const oldPids = ofType("replica-started").map((event) => event.pid);
    const ports = (await first.endpoints("green")).map((endpoint) => endpoint.port);
    await first.close({ stopReplicas: true }); // the records stay, the processes do not
    for (const pid of oldPids) expect(isProcessAlive(pid as number)).toBe(false);

    const mark = harness.events.length;
    const second = harness.platform(config, { readinessPath: "/health" });
    await second.recover(neverAborted);
    expect(ofType("replica-adopted", mark)).toEqual([]);
    const started = ofType("replica-started", mark);
    expect(started.map((event) => event.replica)).toEqual([0, 1]);
    expect(started.map((event) => event.pid)).not.toContain(oldPids[0]);
    await second.waitReady("green", 10_000, neverAborted);
    const endpoints = await second.endpoints("green");
    expect(endpoints.map((endpoint) => endpoint.port)).toEqual(ports);
    for (const endpoint of endpoints) expect(await getJson(`${endpoint.url}/health`)).toMatchObject({ version: "v8" });
  });

  it("leaves alone a live process whose pid was reused, and starts its own", async () => {
    // A process that is not ours, recorded as if it were (its start time does not match).
    const stranger = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    const strangerPid = stranger.pid as number;
    harness.extraPids.add(strangerPid);
    const port = await pickFreePort();
    harness.state.set("process:blue", { version: "v1", replicas: [{ replica: 0, port, pid: strangerPid, startedAt: 0, processStart: "1" }] });

    const platform = harness.platform({ ...config, replicas: 1 }, { readinessPath: "/health" });
    await platform.recover(neverAborted);
    expect(ofType("replica-adopted")).toEqual([]);
    const [started] = ofType("replica-started");
    expect(started?.pid).not.toBe(strangerPid);
    await platform.waitReady("blue", 10_000, neverAborted);
    expect(isProcessAlive(strangerPid)).toBe(true);
    expect(ofType("log")[0]?.message).toContain(`pid ${strangerPid} is alive but not provably ours`);
  });

  it("finishes a stop that a crash interrupted", async () => {
    const first = harness.platform({ ...config, replicas: 1 }, { readinessPath: "/health" });
    await first.deploy("blue", "v1", neverAborted);
    await first.waitReady("blue", 10_000, neverAborted);
    const [pid] = ofType("replica-started").map((event) => event.pid);
    await first.close({ stopReplicas: false });
    const record = harness.state.get<object>("process:blue");
    harness.state.set("process:blue", { ...record, stopping: true });

    const second = harness.platform({ ...config, replicas: 1 });
    await second.recover(neverAborted);
    expect(isProcessAlive(pid as number)).toBe(false);
    expect(harness.state.get("process:blue")).toBeUndefined();
    expect(await second.describe("blue")).toEqual({ version: undefined, replicas: 0, runningReplicas: 0 });
  });
});
