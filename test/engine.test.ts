// The engine driving real pieces: the process platform running examples/hello, the built-in
// proxy on a loopback port, a SQLite store in a temp folder. The engine's clock is a ManualClock,
// so the monitor window moves only when the test says so; processes and sockets are real.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.testing.js";
import { systemClock } from "../src/core/clock.js";
import { EmptySlotError, LockedError, NoChecksError, NoStandbyError } from "../src/core/errors.js";
import { parseConfigText } from "../src/config/load.js";
import { Engine } from "../src/engine/engine.js";
import { silentLogger } from "../src/logging.js";
import { createMetricsSource } from "../src/metrics/registry.js";
import type { Platform } from "../src/platforms/platform.js";
import { createPlatform } from "../src/platforms/registry.js";
import { createRouter } from "../src/routers/registry.js";
import type { Router } from "../src/routers/router.js";
import type { DeploymentRecord } from "../src/store/records.js";
import { Store } from "../src/store/store.js";
import { helloDir } from "./helpers/flip-process.js";

interface Harness {
  engine: Engine;
  store: Store;
  platform: Platform;
  router: Router;
  clock: ManualClock;
  proxy: string;
  /** Runs the deployment to its end, sending `requestsPerWindow` requests before each monitor window closes. */
  finish(id: string, requestsPerWindow?: number): Promise<DeploymentRecord>;
  /** Waits (real time) until the running deployment reaches `phase`. */
  reach(phase: string): Promise<void>;
  newEngine(): Promise<Engine>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const HEALTH_CHECKS = `
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }`;

async function harness(options: { checks?: string; monitor?: string } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "flip-engine-"));
  const config = parseConfigText(
    `app: hello
platform: { kind: process, command: "node server.js", cwd: ${JSON.stringify(helloDir)}, stopGrace: 2s,
            env: { APP_VERSION: "{version}", PORT: "{port}", ERROR_RATE: "1" } }
router: { kind: builtin, listen: "127.0.0.1:0", drainTimeout: 1s }
checks: ${options.checks ?? HEALTH_CHECKS}
monitor: ${options.monitor ?? '{ duration: 3s, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }'}
readyTimeout: 10s
`,
    join(dir, "flip.yaml"),
  );
  const clock = new ManualClock(Date.now());
  const store = Store.open(config.statePath, { clock });
  const platform = createPlatform(config, { app: "hello", configDir: dir, logDir: config.logDir, logger: silentLogger, clock: systemClock, state: store.driverState("platform.process") });
  const router = createRouter(config, { app: "hello", logger: silentLogger, clock: systemClock, state: store.driverState("router.builtin") });
  await router.start();
  const make = async () => {
    const engine = new Engine({ config, store, platform, router, metrics: createMetricsSource(config, router), clock, logger: silentLogger });
    await engine.start();
    return engine;
  };
  let engine = await make();
  cleanups.push(async () => {
    await engine.stop();
    await router.close();
    await platform.close({ stopReplicas: true });
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const proxy = `http://${router.listenAddresses?.().listen ?? "?"}`;

  const reach = async (phase: string) => {
    for (let i = 0; i < 400; i++) {
      if (store.runningDeployment()?.phase === phase) return;
      await sleep(25);
    }
    throw new Error(`never reached ${phase}; now ${store.runningDeployment()?.phase ?? "finished"}`);
  };
  const finish = async (id: string, requestsPerWindow = 0) => {
    for (let i = 0; i < 2000; i++) {
      const record = store.deployment(id);
      if (!record) throw new Error(`no deployment ${id}`);
      if (record.outcome !== "running") return record;
      if (record.phase === "monitoring" && clock.pendingSleeps > 0) {
        for (let n = 0; n < requestsPerWindow; n++) await get(proxy + "/");
        await clock.advance(1000);
      } else {
        await sleep(20);
      }
    }
    throw new Error("deployment did not finish");
  };
  return {
    get engine() {
      return engine;
    },
    store,
    platform,
    router,
    clock,
    proxy,
    finish,
    reach,
    async newEngine() {
      engine = await make();
      return engine;
    },
  } as Harness;
}

async function get(url: string): Promise<{ status: number; version: string | undefined }> {
  const response = await request(url);
  await response.body.dump();
  const version = response.headers["x-flip-version"];
  return { status: response.statusCode, version: typeof version === "string" ? version : undefined };
}

const actor = { actor: "test" };

describe("Engine", () => {
  it("runs a deploy through every phase in order, checks the idle slot, and switches traffic", async () => {
    const h = await harness();
    const started = await h.engine.deploy("v1", actor);
    expect(started.slot).toBe("blue");
    const done = await h.finish(started.id, 10);
    expect(done.outcome).toBe("succeeded");
    expect(h.store.phasesOf(done.id).map((p) => p.phase)).toEqual([
      "queued",
      "deploying",
      "waiting-ready",
      "checking",
      "switching",
      "verifying-switch",
      "monitoring",
      "succeeded",
    ]);
    expect(h.store.checksOf(done.id).map((c) => [c.name, c.ok])).toEqual(
      expect.arrayContaining([
        ["health", true],
        ["version", true],
      ]),
    );
    expect(h.store.samplesOf(done.id).filter((s) => s.judged).length).toBeGreaterThan(0);
    expect(await h.router.live()).toBe("blue");
    expect((await get(h.proxy + "/")).version).toBe("v1");

    const second = await h.engine.deploy("v2", actor);
    expect(second.slot).toBe("green");
    expect((await h.finish(second.id, 10)).outcome).toBe("succeeded");
    const status = await h.engine.status();
    expect(status.live).toBe("green");
    expect(status.slots.green).toMatchObject({ version: "v2", state: "live" });
    expect(status.slots.blue).toMatchObject({ version: "v1", state: "standby" });
  }, 30_000);

  it("aborts a release that fails its checks before any traffic moves", async () => {
    const h = await harness();
    await h.finish((await h.engine.deploy("v1", actor)).id);
    const bad = await h.finish((await h.engine.deploy("v2-unhealthy", actor)).id);
    expect(bad.outcome).toBe("aborted");
    expect(bad.reason).toMatch(/check health failed/);
    expect(bad.reason).toMatch(/traffic stayed on blue/);
    expect(h.store.phasesOf(bad.id).map((p) => p.phase)).not.toContain("switching");
    expect(await h.router.live()).toBe("blue");
    expect((await get(h.proxy + "/")).version).toBe("v1");
    expect(h.store.slot("green").state).toBe("failed");
    expect(await h.platform.endpoints("green")).toEqual([]);
  }, 30_000);

  it("rolls back automatically when the error rate breaks its rule", async () => {
    const h = await harness();
    await h.finish((await h.engine.deploy("v1", actor)).id);
    const broken = await h.finish((await h.engine.deploy("v2-errors", actor)).id, 10);
    expect(broken.outcome).toBe("rolled-back");
    expect(broken.reason).toMatch(/errorRate 100\.0% breaks errorRate < 5%/);
    expect(await h.router.live()).toBe("blue");
    expect((await get(h.proxy + "/")).version).toBe("v1");
    expect(h.store.slot("green").state).toBe("failed");
    // A failed slot is not a rollback target.
    await expect(h.engine.rollback(actor)).rejects.toBeInstanceOf(NoStandbyError);
  }, 30_000);

  it("does not judge windows with fewer than minRequests requests", async () => {
    const h = await harness();
    await h.finish((await h.engine.deploy("v1", actor)).id);
    const quiet = await h.finish((await h.engine.deploy("v2-errors", actor)).id, 2);
    expect(quiet.outcome).toBe("succeeded");
    expect(quiet.reason).toMatch(/no window had enough requests/);
    expect(h.store.samplesOf(quiet.id).every((s) => !s.judged)).toBe(true);
  }, 30_000);

  it("abort while monitoring flips back; promote ends the window as a success", async () => {
    const h = await harness({ monitor: '{ duration: 1h, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }' });
    const first = await h.engine.deploy("v1", actor);
    await h.reach("monitoring");
    await h.engine.promote(actor);
    expect((await h.finish(first.id)).reason).toMatch(/promoted by test/);

    const second = await h.engine.deploy("v2", actor);
    await h.reach("monitoring");
    expect(await h.router.live()).toBe("green");
    await h.engine.abort(actor);
    const aborted = await h.finish(second.id);
    expect(aborted.outcome).toBe("rolled-back");
    expect(aborted.reason).toMatch(/aborted by test/);
    expect(await h.router.live()).toBe("blue");
  }, 30_000);

  it("rollback flips to the standby at once, and rollback again flips forward", async () => {
    const h = await harness();
    await expect(h.engine.rollback(actor)).rejects.toBeInstanceOf(NoStandbyError);
    await h.finish((await h.engine.deploy("v1", actor)).id);
    await expect(h.engine.rollback(actor)).rejects.toThrow(/green is empty/);
    await h.finish((await h.engine.deploy("v2", actor)).id);
    const back = await h.finish((await h.engine.rollback(actor)).id);
    expect(back.outcome).toBe("succeeded");
    expect(back.kind).toBe("rollback");
    expect(await h.router.live()).toBe("blue");
    expect((await get(h.proxy + "/")).version).toBe("v1");
    const events = h.store.events({ limit: 20 }).map((e) => e.kind);
    expect(events).toContain("traffic.switched");
  }, 30_000);

  it("refuses a second deployment, a switch to an empty slot, and a deploy without checks", async () => {
    const h = await harness({ monitor: '{ duration: 1h, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }' });
    await expect(h.engine.switchTo("green", actor)).rejects.toBeInstanceOf(EmptySlotError);
    const first = await h.engine.deploy("v1", actor);
    const refusal = await h.engine.deploy("v2", actor).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(LockedError);
    expect((refusal as LockedError).message).toContain(first.id);
    await expect(h.engine.rollback(actor)).rejects.toBeInstanceOf(LockedError);
    await h.reach("monitoring");
    await h.engine.promote(actor);
    await h.finish(first.id);

    const untested = await harness({ checks: "[]" });
    await expect(untested.engine.deploy("v1", actor)).rejects.toBeInstanceOf(NoChecksError);
    expect(untested.store.listDeployments()).toEqual([]);
    const forced = await untested.finish((await untested.engine.deploy("v1", { actor: "test", force: true })).id);
    expect(forced.outcome).toBe("succeeded");
  }, 30_000);

  it("plans a deploy (--dry-run) with the exact changes, and makes none", async () => {
    const h = await harness();
    await h.finish((await h.engine.deploy("v1", actor)).id);
    const before = h.store.listDeployments().length;
    const plan = await h.engine.planDeploy("v2", actor);
    expect(plan).toMatchObject({ version: "v2", slot: "green", fromSlot: "blue" });
    expect(plan.steps.map((step) => step.phase)).toEqual(["deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring"]);
    const changes = Object.fromEntries(plan.steps.map((step) => [step.phase, step.changes.join("\n")]));
    expect(changes.deploying).toContain("nothing runs in green");
    expect(changes.deploying).toMatch(/start replica 0: \/bin\/sh -c "node server.js" in .*examples\/hello with APP_VERSION=v2 PORT=\{port\}/);
    expect(changes.checking).toContain('http check version: GET /api/status on every replica of green, expecting 2xx and JSON {"version":"v2"}');
    expect(changes.switching).toMatch(/sends every new request to green/);
    expect(changes.monitoring).toContain("on a breach, switch traffic back to blue");
    // Nothing changed: no deployment recorded, nothing started, traffic where it was.
    expect(h.store.listDeployments().length).toBe(before);
    expect(await h.platform.endpoints("green")).toEqual([]);
    expect(await h.router.live()).toBe("blue");
    // Refused the same way a real deploy would be.
    const running = await h.engine.deploy("v3", actor);
    await expect(h.engine.planDeploy("v4", actor)).rejects.toBeInstanceOf(LockedError);
    await h.finish(running.id);
  }, 30_000);

  it("a check that hangs times out and aborts the deployment", async () => {
    const h = await harness({ checks: `\n  - { name: hangs, command: "sleep 30", timeout: 300ms }` });
    const done = await h.finish((await h.engine.deploy("v1", actor)).id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toMatch(/hangs/);
    expect(done.reason).toMatch(/timed out/);
    expect(await h.router.live()).toBeUndefined();
  }, 30_000);

  it("after a restart mid-monitor, resumes the window on the switched slot", async () => {
    const h = await harness({ monitor: '{ duration: 1h, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }' });
    const first = await h.engine.deploy("v1", actor);
    await h.reach("monitoring");
    await h.engine.stop(); // as if flip serve died: nothing finished, the store says "monitoring"
    expect(h.store.deployment(first.id)?.outcome).toBe("running");
    const engine = await h.newEngine();
    await h.reach("monitoring");
    expect(await h.router.live()).toBe("blue");
    await engine.promote(actor);
    expect((await h.finish(first.id)).outcome).toBe("succeeded");
  }, 30_000);

  it("after a restart before the switch, aborts and discards the unchecked slot", async () => {
    const h = await harness({ checks: `\n  - { name: slow, command: "sleep 30", timeout: 60s }` });
    const first = await h.engine.deploy("v1", actor);
    await h.reach("checking");
    await h.engine.stop();
    await h.newEngine();
    const done = await h.finish(first.id);
    expect(done.outcome).toBe("aborted");
    expect(done.reason).toMatch(/during checking/);
    expect(await h.router.live()).toBeUndefined();
    expect(await h.platform.endpoints("blue")).toEqual([]);
  }, 30_000);
});
