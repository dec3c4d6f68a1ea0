// Approval, switch windows and the rate gate, on in-memory drivers and a ManualClock: hours of
// waiting pass in milliseconds, and every wait is asserted through the phases in the store.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BadRequestError } from "../core/errors.js";
import { fakeHarness, type FakeHarness } from "./testing/harness.js";

const harnesses: FakeHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function setUp(extra: string, options: Parameters<typeof fakeHarness>[1] = {}): Promise<FakeHarness> {
  const h = await fakeHarness(extra, options);
  harnesses.push(h);
  return h;
}

const test = { actor: "test" };
const phasesOf = (h: FakeHarness, id: string) => h.store.phasesOf(id).map((p) => p.phase);

/** Deploys v1 to blue with nothing in the way, so later deploys have a live slot. */
async function withLiveBlue(h: FakeHarness): Promise<void> {
  const first = await h.engine.deploy("v1", { actor: "test", now: true });
  if (h.config.approval === "manual") {
    await h.reach("awaiting-approval");
    await h.engine.promote(test);
  }
  expect((await h.finish(first.id)).outcome).toBe("succeeded");
  expect(h.router.current).toBe("blue");
}

describe("approval: manual", () => {
  it("waits after the checks until promote approves, then checks again and switches", async () => {
    const h = await setUp("approval: manual\n");
    const started = await h.engine.deploy("v1", test);
    const waiting = await h.reach("awaiting-approval");
    expect(h.store.phasesOf(started.id).at(-1)?.detail).toMatch(/waiting for approval \(`flip promote`\)/);
    await h.clock.advance(3_600_000); // an hour passes: nothing moves without approval
    expect(waiting.id).toBe(started.id);
    expect(h.router.switches).toEqual([]);
    expect((await h.engine.status()).deployment?.phase).toBe("awaiting-approval");

    await h.engine.promote({ actor: "cli:alice" });
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("succeeded");
    expect(phasesOf(h, started.id)).toEqual(["queued", "deploying", "waiting-ready", "checking", "awaiting-approval", "checking", "switching", "verifying-switch", "monitoring", "succeeded"]);
    expect(h.store.checksOf(started.id)).toHaveLength(2);
    expect(h.store.events({ deploymentId: started.id }).find((e) => e.kind === "deployment.approved")).toMatchObject({ actor: "cli:alice" });
  });

  it("aborts when nobody approves within approvalTimeout, leaving traffic where it was", async () => {
    const h = await setUp("approval: manual\napprovalTimeout: 2h\n");
    await withLiveBlue(h);
    const started = await h.engine.deploy("v2", test);
    await h.reach("awaiting-approval");
    await h.clock.advance(2 * 3_600_000 - 1);
    expect(h.store.deployment(started.id)?.outcome).toBe("running");
    await h.clock.advance(1);
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toBe("not approved within approvalTimeout (2h); traffic stayed on blue");
    expect(h.router.current).toBe("blue");
    expect(h.platform.calls.at(-1)).toBe("stop green");
  });

  it("abort while waiting for approval aborts; promote at another phase is refused", async () => {
    const h = await setUp("approval: manual\n");
    h.platform.holdReady = true;
    const started = await h.engine.deploy("v1", test);
    await h.reach("waiting-ready");
    await expect(h.engine.promote(test)).rejects.toBeInstanceOf(BadRequestError);
    h.platform.releaseReady("blue");
    await h.reach("awaiting-approval");
    await h.engine.abort({ actor: "cli:bob" });
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toMatch(/^aborted by cli:bob/);
    expect(h.router.switches).toEqual([]);
  });
});

describe("switchWindows", () => {
  // The ManualClock starts on Wednesday 2026-01-14 12:00 UTC (13:00 in Berlin).
  const WINDOWS = 'switchWindows: ["Mon-Fri 02:00-05:00 Europe/Berlin"]\n';

  it("waits in awaiting-window until the next window opens, then checks again and switches", async () => {
    const h = await setUp(WINDOWS);
    const started = await h.engine.deploy("v1", test);
    await h.reach("awaiting-window");
    expect(h.store.phasesOf(started.id).at(-1)?.detail).toBe(
      "outside the switch windows (Mon-Fri 02:00-05:00 Europe/Berlin); the next opens 2026-01-15 02:00 Europe/Berlin",
    );
    const opensAt = Date.parse("2026-01-15T01:00:00Z");
    await h.clock.advance(opensAt - h.clock.now() - 1);
    expect(h.router.switches).toEqual([]);
    expect(h.store.checksOf(started.id)).toHaveLength(1);

    await h.clock.advance(1);
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("succeeded");
    expect(h.store.phasesOf(started.id).find((p) => p.phase === "switching")?.startedAt).toBe(opensAt);
    expect(phasesOf(h, started.id)).toEqual(["queued", "deploying", "waiting-ready", "checking", "awaiting-window", "checking", "switching", "verifying-switch", "monitoring", "succeeded"]);
    expect(h.store.checksOf(started.id)).toHaveLength(2);
  });

  it("aborts when the checks run again at the window and fail: what passed hours ago may not pass now", async () => {
    const h = await setUp(WINDOWS);
    const broken = join(h.dir, "broken");
    const config = h.config;
    config.checks[0] = { ...config.checks[0]!, command: `test ! -f ${broken}` };
    const started = await h.engine.deploy("v1", test);
    await h.reach("awaiting-window");
    writeFileSync(broken, "");
    const done = await h.finish(started.id);
    expect(existsSync(broken)).toBe(true);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toMatch(/check smoke failed/);
    expect(h.router.switches).toEqual([]);
  });

  it("switches at once inside a window, without waiting or checking twice", async () => {
    const h = await setUp(WINDOWS, { start: Date.parse("2026-01-15T02:00:00Z") });
    const done = await h.finish((await h.engine.deploy("v1", test)).id);
    expect(done.outcome).toBe("succeeded");
    expect(phasesOf(h, done.id)).not.toContain("awaiting-window");
    expect(h.store.checksOf(done.id)).toHaveLength(1);
  });

  it("--now switches outside a window, and the override is in the audit log", async () => {
    const h = await setUp(WINDOWS);
    const started = await h.engine.deploy("v1", { actor: "cli:carol", now: true });
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("succeeded");
    expect(phasesOf(h, started.id)).not.toContain("awaiting-window");
    const override = h.store.events({ deploymentId: started.id }).find((e) => e.kind === "deployment.window-override");
    expect(override).toMatchObject({ actor: "cli:carol", data: { switchWindows: ["Mon-Fri 02:00-05:00 Europe/Berlin"] } });
    expect(override?.message).toMatch(/--now/);
  });

  it("asks for approval first, then waits for the window", async () => {
    const h = await setUp(`${WINDOWS}approval: manual\n`);
    const started = await h.engine.deploy("v1", test);
    await h.reach("awaiting-approval");
    await h.engine.promote(test);
    await h.reach("awaiting-window");
    expect(h.router.switches).toEqual([]);
    expect((await h.finish(started.id)).outcome).toBe("succeeded");
    expect(phasesOf(h, started.id).slice(3, 7)).toEqual(["checking", "awaiting-approval", "awaiting-window", "checking"]);
  });

  it("a restart of flip serve while waiting aborts the deployment, as before any switch", async () => {
    const h = await setUp(WINDOWS);
    const started = await h.engine.deploy("v1", test);
    await h.reach("awaiting-window");
    await h.restart();
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toMatch(/during awaiting-window/);
  });
});

describe("maxRequestRate", () => {
  const GATE = "maxRequestRate: 500/s\nmaxRequestRateTimeout: 1m\n";

  it("does not switch while the live slot is busier than the limit, and switches once it is not", async () => {
    const h = await setUp(GATE);
    await withLiveBlue(h);
    h.metrics.setRate("blue", 800);
    const started = await h.engine.deploy("v2", test);
    await h.reach("awaiting-window");
    await h.clock.advance(5_000); // the first sample: two reads of the counters 5 s apart
    await h.until(() => /serves 800\/s, above maxRequestRate 500\/s/.test(h.store.phasesOf(started.id).at(-1)?.detail ?? ""), "the rate detail");
    // Half a minute of samples later, still too busy: still on blue.
    for (let i = 0; i < 6; i++) await h.clock.advance(5_000);
    expect(h.router.current).toBe("blue");

    h.metrics.setRate("blue", 120);
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("succeeded");
    expect(h.router.current).toBe("green");
    expect(h.store.checksOf(started.id)).toHaveLength(2);
  });

  it("aborts after maxRequestRateTimeout of a live slot that stays busy", async () => {
    const h = await setUp(GATE);
    await withLiveBlue(h);
    h.metrics.setRate("blue", 800);
    const done = await h.finish((await h.engine.deploy("v2", test)).id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toBe("live slot blue serves 800/s, above maxRequestRate 500/s after waiting 1m; traffic stayed on blue");
    expect(h.router.switches).toEqual(["blue"]);
  });

  it("measures without waiting when the live slot is quiet, and skips the gate on a first deploy", async () => {
    const h = await setUp(GATE);
    const first = await h.finish((await h.engine.deploy("v1", test)).id);
    expect(phasesOf(h, first.id)).not.toContain("awaiting-window");
    h.metrics.setRate("blue", 100);
    const second = await h.finish((await h.engine.deploy("v2", test)).id);
    expect(second.outcome).toBe("succeeded");
    expect(h.store.phasesOf(second.id).find((p) => p.phase === "awaiting-window")?.detail).toBe("measuring the request rate of live slot blue (maxRequestRate 500/s)");
    expect(h.store.checksOf(second.id)).toHaveLength(1);
  });

  it("--now does not wait for a quieter live slot", async () => {
    const h = await setUp(GATE);
    await withLiveBlue(h);
    h.metrics.setRate("blue", 800);
    const done = await h.finish((await h.engine.deploy("v2", { actor: "test", now: true })).id);
    expect(done.outcome).toBe("succeeded");
    expect(phasesOf(h, done.id)).not.toContain("awaiting-window");
  });
});

describe("the dry-run plan", () => {
  it("shows approval, the windows and the rate gate", async () => {
    const h = await setUp(`approval: manual\napprovalTimeout: 1h\nswitchWindows: ["Mon-Fri 02:00-05:00 Europe/Berlin"]\nmaxRequestRate: 500/s\n`);
    await withLiveBlue(h);
    const plan = await h.engine.planDeploy("v2", test);
    const changes = Object.fromEntries(plan.steps.map((step) => [step.phase, step.changes.join("\n")]));
    expect(plan.steps.map((step) => step.phase)).toEqual(["deploying", "waiting-ready", "checking", "awaiting-approval", "awaiting-window", "switching", "verifying-switch", "monitoring"]);
    expect(changes["awaiting-approval"]).toContain("wait for `flip promote` (abort after 1h)");
    expect(changes["awaiting-window"]).toContain("Mon-Fri 02:00-05:00 Europe/Berlin");
    expect(changes["awaiting-window"]).toContain("wait until live slot blue serves at most 500/s (abort after 30m; unless --now)");
  });
});
