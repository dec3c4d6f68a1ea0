// The cheap standby on in-memory drivers and a ManualClock: a day of schedule passes in
// milliseconds. Scale-down and retirement, across a restart, never during a monitor, and the two
// kinds of rollback that follow (scaled back up and checked; redeployed through the full flow).
import { afterEach, describe, expect, it } from "vitest";
import { fakeHarness, type FakeHarness, type FakeHarnessOptions } from "./testing/harness.js";

const harnesses: FakeHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const RETIRE = "retire: { scaleDownAfter: 10m, standbyReplicas: 1, retireAfter: 24h }\n";
const test = { actor: "test" };

async function setUp(extra = RETIRE, options: FakeHarnessOptions = {}): Promise<FakeHarness> {
  const h = await fakeHarness(extra, options);
  harnesses.push(h);
  return h;
}

/** v1 on blue, then v2 on green: blue is the standby. Returns when v2's switch happened. */
async function v2LiveV1Standby(h: FakeHarness): Promise<number> {
  await h.finish((await h.engine.deploy("v1", test)).id);
  const second = await h.finish((await h.engine.deploy("v2", test)).id);
  expect(second.outcome).toBe("succeeded");
  return h.store.phasesOf(second.id).find((p) => p.phase === "switching")!.startedAt;
}

/** Moves the clock to `at`, letting every timer on the way fire. */
async function advanceTo(h: FakeHarness, at: number): Promise<void> {
  await h.clock.advance(at - h.clock.now());
  await h.until(() => true, "a tick"); // let a scheduled action's I/O finish
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("retire: the cheap standby", () => {
  it("scales the standby down after scaleDownAfter and retires it after retireAfter, keeping its version", async () => {
    const h = await setUp();
    const switchedAt = await v2LiveV1Standby(h);
    expect(h.store.standby.pending().map((a) => [a.slot, a.action, a.dueAt - switchedAt, a.replicas])).toEqual([
      ["blue", "scale-down", 10 * MINUTE, 2],
      ["blue", "retire", 24 * HOUR, 2],
    ]);
    const status = await h.engine.status();
    expect(status.slots.blue).toMatchObject({ state: "standby", scheduled: [{ action: "scale-down", at: new Date(switchedAt + 10 * MINUTE).toISOString() }, { action: "retire" }] });

    await advanceTo(h, switchedAt + 10 * MINUTE - 1);
    expect(h.platform.calls).not.toContain("scale blue 1");
    await advanceTo(h, switchedAt + 10 * MINUTE);
    await h.until(() => h.store.slot("blue").state === "scaled-down" && h.platform.calls.includes("scale blue 1"), "the scale-down");
    expect((await h.engine.status()).slots.blue).toMatchObject({ version: "v1", state: "scaled-down", replicas: 1 });
    expect(h.router.targets.blue).toHaveLength(1);
    expect(h.store.events({ limit: 5 }).find((e) => e.kind === "standby.scaled-down")?.message).toMatch(/standby blue \(v1\) scaled down from 2 to 1 replica, 10m after the switch/);

    await advanceTo(h, switchedAt + 24 * HOUR);
    await h.until(() => h.store.slot("blue").state === "retired", "the retirement");
    expect(h.platform.calls.at(-1)).toBe("stop blue");
    expect((await h.engine.status()).slots.blue).toMatchObject({ version: "v1", state: "retired", replicas: 0 });
    expect(h.router.targets.blue).toEqual([]);
    expect(h.store.standby.pending()).toEqual([]);
    expect(h.router.current).toBe("green");
  });

  it("keeps its schedule across restarts of flip serve", async () => {
    const h = await setUp();
    const switchedAt = await v2LiveV1Standby(h);
    await h.restart();
    await advanceTo(h, switchedAt + 10 * MINUTE);
    await h.until(() => h.store.slot("blue").state === "scaled-down", "the scale-down after a restart");
    await h.restart();
    await advanceTo(h, switchedAt + 24 * HOUR);
    await h.until(() => h.store.slot("blue").state === "retired", "the retirement after a second restart");
    // A restart long after the due time carries the action out at once.
    expect(h.platform.calls.filter((call) => call.startsWith("scale") || call.startsWith("stop"))).toEqual(["scale blue 1", "stop blue"]);
  });

  it("never cuts the monitor short: a scale-down that comes due while monitoring waits for it to end", async () => {
    const h = await setUp(RETIRE, { monitor: 'monitor: { duration: 30m, interval: 1m, minRequests: 1000000, rules: ["errorRate < 5%"] }' });
    await h.finish((await h.engine.deploy("v1", test)).id);
    const second = await h.engine.deploy("v2", test);
    await h.reach("monitoring");
    const switchedAt = h.store.phasesOf(second.id).find((p) => p.phase === "switching")!.startedAt;
    for (let minute = 1; minute <= 20; minute++) await h.clock.advance(MINUTE);
    expect(h.store.deployment(second.id)?.phase).toBe("monitoring");
    expect(h.platform.calls).not.toContain("scale blue 1");
    expect(h.events.some((e) => e.type === "log" && e.deploymentId === second.id && /scale-down due now waits until .* \(monitoring\) has ended/.test(e.message))).toBe(true);

    const done = await h.finish(second.id);
    expect(done.outcome).toBe("succeeded");
    await h.until(() => h.platform.calls.includes("scale blue 1"), "the scale-down once the monitor ended");
    const scaledAt = h.store.events({ limit: 10 }).find((e) => e.kind === "standby.scaled-down")!.at;
    expect(scaledAt).toBeGreaterThanOrEqual(done.finishedAt!);
    expect(scaledAt - switchedAt).toBeGreaterThanOrEqual(30 * MINUTE);
  });

  it("cancels the schedule of a deployment that rolled back: the old slot is live again", async () => {
    const h = await setUp(RETIRE, { monitor: 'monitor: { duration: 5s, interval: 1s, minRequests: 10, rules: ["errorRate < 5%"] }' });
    await h.finish((await h.engine.deploy("v1", test)).id);
    h.metrics.setRate("green", 100, 0.5);
    const broken = await h.finish((await h.engine.deploy("v2", test)).id);
    expect(broken.outcome).toBe("rolled-back");
    expect(h.store.standby.pending()).toEqual([]);
    expect(h.store.standby.history().map((a) => [a.action, a.outcome, a.note])).toEqual([
      ["retire", "cancelled", `${broken.id} ended rolled-back`],
      ["scale-down", "cancelled", `${broken.id} ended rolled-back`],
    ]);
    await advanceTo(h, h.clock.now() + 25 * HOUR);
    expect(h.platform.calls.some((call) => call.startsWith("scale") || call === "stop blue")).toBe(false);
  });

  it("cancels a standby's schedule when a deploy replaces it, and plans the next standby's", async () => {
    const h = await setUp();
    await v2LiveV1Standby(h);
    const third = await h.finish((await h.engine.deploy("v3", test)).id);
    expect(third.slot).toBe("blue");
    expect(h.store.standby.pending().map((a) => [a.slot, a.version, a.action])).toEqual([
      ["green", "v2", "scale-down"],
      ["green", "v2", "retire"],
    ]);
    expect(h.store.standby.history().filter((a) => a.slot === "blue").every((a) => a.outcome === "cancelled")).toBe(true);
  });
});

describe("rollback after the standby was scaled down or retired", () => {
  it("scales a scaled-down standby back up, waits until ready, checks it, then flips — and says so", async () => {
    const h = await setUp();
    const switchedAt = await v2LiveV1Standby(h);
    await advanceTo(h, switchedAt + 10 * MINUTE);
    await h.until(() => h.store.slot("blue").state === "scaled-down", "the scale-down");
    const calls = h.platform.calls.length;

    const back = await h.finish((await h.engine.rollback(test)).id);
    expect(back.outcome).toBe("succeeded");
    expect(h.router.current).toBe("blue");
    expect(h.platform.calls.slice(calls)).toEqual(["scale blue 2", "wait-ready blue"]);
    const phases = h.store.phasesOf(back.id);
    expect(phases.map((p) => p.phase)).toEqual(["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "succeeded"]);
    expect(phases[1]?.detail).toBe(
      "standby blue (v1) was scaled down to 1 replica: scaling it back up to 2, waiting until it is ready and running the checks before the switch — this rollback is not instant",
    );
    expect(back.reason).toBe("traffic on blue; the standby had been scaled down, so it was scaled back up to 2 replicas and checked before the switch");
    expect(h.store.checksOf(back.id)).toHaveLength(1);
  });

  it("leaves traffic where it is when the scaled-up standby fails its checks, and scales it down again", async () => {
    const h = await setUp();
    const switchedAt = await v2LiveV1Standby(h);
    await advanceTo(h, switchedAt + 10 * MINUTE);
    await h.until(() => h.store.slot("blue").state === "scaled-down", "the scale-down");
    h.config.checks[0] = { ...h.config.checks[0]!, command: "exit 1" };
    const back = await h.finish((await h.engine.rollback(test)).id);
    expect(back.outcome).toBe("aborted");
    expect(back.reason).toMatch(/^standby blue was scaled back up but check smoke failed: .*; traffic stayed on green$/);
    expect(h.router.current).toBe("green");
    expect(h.platform.calls.slice(-3)).toEqual(["scale blue 2", "wait-ready blue", "scale blue 1"]);
    expect(h.store.slot("blue").state).toBe("scaled-down");
  });

  it("redeploys a retired standby's version through the full flow, and says it is not instant", async () => {
    const h = await setUp();
    const switchedAt = await v2LiveV1Standby(h);
    await advanceTo(h, switchedAt + 24 * HOUR);
    await h.until(() => h.store.slot("blue").state === "retired", "the retirement");

    const back = await h.finish((await h.engine.rollback({ actor: "cli:dana" })).id);
    expect(back).toMatchObject({ kind: "rollback", version: "v1", slot: "blue", outcome: "succeeded" });
    expect(h.platform.calls.slice(-2)).toEqual(["deploy blue v1", "wait-ready blue"]);
    const phases = h.store.phasesOf(back.id);
    expect(phases.map((p) => p.phase)).toEqual(["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring", "succeeded"]);
    expect(phases[1]?.detail).toBe("v1 to blue (rollback to v1: standby blue was retired, so this redeploys it through the full flow — not an instant rollback)");
    expect(back.reason).toMatch(/not an instant rollback$/);
    expect(h.router.current).toBe("blue");
    // v2 is the standby now, with a schedule of its own.
    expect(h.store.standby.pending().map((a) => [a.slot, a.version])).toEqual([
      ["green", "v2"],
      ["green", "v2"],
    ]);
  });
});
