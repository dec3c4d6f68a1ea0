// End to end, across processes: the real `flip` CLI against a real `flip serve` running the
// example app through the built-in proxy. Requires `npm run build` (npm test builds first).
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  hit,
  killQuietly,
  makeWorkspace,
  pidsMatching,
  runCli,
  ServeProcess,
  Traffic,
  type Workspace,
} from "./helpers/flip-process.js";

interface StatusJson {
  app: string;
  live: string | null;
  slots: Record<"blue" | "green", { version: string | null; state: string }>;
  deployment: { id: string; phase: string } | null;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startFlip(options: Parameters<typeof makeWorkspace>[0] = {}): Promise<{ ws: Workspace; serve: ServeProcess }> {
  const ws = await makeWorkspace(options);
  const serve = new ServeProcess(ws.config);
  cleanups.push(async () => {
    await serve.stop("SIGTERM");
    for (const pid of await pidsMatching(`--workspace ${ws.dir}`)) killQuietly(pid);
    ws.cleanup();
  });
  await serve.ready(ws.control);
  return { ws, serve };
}

/** Deploys with a long monitor window and ends the window early with `flip promote`. */
async function deployAndPromote(ws: Workspace, version: string): Promise<void> {
  const deploying = runCli(["deploy", version, "-c", ws.config]);
  for (let i = 0; i < 300 && (await status(ws)).deployment?.phase !== "monitoring"; i++) await sleep(50);
  const promoted = await runCli(["promote", "-c", ws.config]);
  expect(promoted.code, promoted.stderr).toBe(0);
  const result = await deploying;
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

async function status(ws: Workspace): Promise<StatusJson> {
  const result = await runCli(["status", "--json", "-c", ws.config]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusJson;
}

describe("flip CLI against flip serve", () => {
  it("deploys, switches with zero failed requests, rolls back, aborts a bad release, and rolls back a broken one", async () => {
    const { ws } = await startFlip();

    const first = await runCli(["deploy", "v1", "-c", ws.config]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/checking/);
    expect(first.stdout).toMatch(/succeeded/);
    expect((await hit(ws.proxy + "/")).version).toBe("v1");

    const traffic = new Traffic(ws.proxy + "/");
    cleanups.push(() => traffic.stop());
    const second = await runCli(["deploy", "v2", "-c", ws.config]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    await sleep(200);
    await traffic.stop();
    expect(traffic.failures).toBe(0);
    expect(traffic.versions.v1).toBeGreaterThan(0);
    expect(traffic.versions.v2).toBeGreaterThan(0);

    let now = await status(ws);
    expect(now.app).toBe("hello");
    expect(now.live).toBe("green");
    expect(now.slots.green).toMatchObject({ version: "v2", state: "live" });
    expect(now.slots.blue).toMatchObject({ version: "v1", state: "standby" });

    const back = await runCli(["rollback", "-c", ws.config]);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect((await hit(ws.proxy + "/")).version).toBe("v1");
    now = await status(ws);
    expect(now.live).toBe("blue");

    // A release that fails its smoke tests never gets traffic: exit 2, traffic untouched.
    const unhealthy = await runCli(["deploy", "v3-unhealthy", "-c", ws.config]);
    expect(unhealthy.code, unhealthy.stdout + unhealthy.stderr).toBe(2);
    expect(unhealthy.stdout + unhealthy.stderr).toMatch(/health/);
    expect((await hit(ws.proxy + "/")).version).toBe("v1");
    now = await status(ws);
    expect(now.live).toBe("blue");
    expect(now.slots.green.state).toBe("failed");

    // A release that breaks after the switch is rolled back automatically: exit 3.
    const load = new Traffic(ws.proxy + "/");
    cleanups.push(() => load.stop());
    const broken = await runCli(["deploy", "v4-errors", "-c", ws.config]);
    await load.stop();
    expect(broken.code, broken.stdout + broken.stderr).toBe(3);
    expect(broken.stdout + broken.stderr).toMatch(/errorRate/);
    expect((await hit(ws.proxy + "/")).version).toBe("v1");
    expect(load.versions["v4-errors"]).toBeGreaterThan(0);

    const history = await runCli(["history", "--json", "-c", ws.config]);
    expect(history.code).toBe(0);
    const entries = JSON.parse(history.stdout) as { version: string; outcome: string; reason: string | null; startedAt: string; finishedAt: string | null; id: string; slot: string }[];
    expect(entries.map((e) => [e.version, e.outcome])).toEqual([
      ["v4-errors", "rolled-back"],
      ["v3-unhealthy", "aborted"],
      ["v1", "succeeded"],
      ["v2", "succeeded"],
      ["v1", "succeeded"],
    ]);
    expect(entries[0]?.reason).toMatch(/errorRate/);
    for (const entry of entries) expect(entry).toHaveProperty("finishedAt");
  }, 120_000);

  it("refuses a second concurrent deploy, naming the running one, and leaves it running", async () => {
    const { ws } = await startFlip({ monitor: '{ duration: 3s, interval: 500ms, minRequests: 1000, rules: ["errorRate < 5%"] }' });
    const firstRun = runCli(["deploy", "v1", "-c", ws.config]);
    let running: StatusJson["deployment"] = null;
    for (let i = 0; i < 100 && !running; i++) {
      running = (await status(ws)).deployment;
      if (!running) await sleep(50);
    }
    expect(running).not.toBeNull();
    const second = await runCli(["deploy", "v2", "-c", ws.config]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(running?.id ?? "?");
    expect((await firstRun).code).toBe(0);
    expect((await status(ws)).slots.blue.version).toBe("v1");
  }, 60_000);

  it("answers bad requests with clear errors and exit code 1, changing nothing", async () => {
    const { ws } = await startFlip();
    const emptySwitch = await runCli(["switch", "green", "-c", ws.config]);
    expect(emptySwitch.code).toBe(1);
    expect(emptySwitch.stderr).toMatch(/green/);
    const noStandby = await runCli(["rollback", "-c", ws.config]);
    expect(noStandby.code).toBe(1);
    expect(noStandby.stderr).toMatch(/roll back/i);
    const unknownSlot = await runCli(["switch", "purple", "-c", ws.config]);
    expect(unknownSlot.code).toBe(1);
    const dryRun = await runCli(["deploy", "v1", "--dry-run", "-c", ws.config]);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(/Dry run: deploying v1 would go to blue/);
    expect(dryRun.stdout).toMatch(/start replica 0: \/bin\/sh -c "node server.js/);
    const crash = await runCli(["deploy", "v1-crash", "-c", ws.config]);
    expect(crash.code).toBe(2);
    expect(crash.stdout + crash.stderr).toMatch(/exited|code 1/);
    const history = JSON.parse((await runCli(["history", "--json", "-c", ws.config])).stdout) as { outcome: string }[];
    expect(history.map((h) => h.outcome)).toEqual(["aborted"]);
    const now = await status(ws);
    expect(now.live).toBeNull();
  }, 60_000);

  it("refuses to deploy without checks unless --force", async () => {
    const { ws } = await startFlip({ checks: "checks: []" });
    const refused = await runCli(["deploy", "v1", "-c", ws.config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--force/);
    expect((await status(ws)).live).toBeNull();
    const forced = await runCli(["deploy", "v1", "--force", "-c", ws.config]);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect((await status(ws)).live).toBe("blue");
  }, 60_000);

  it("survives kill -9 in the middle of a deployment: store intact, status truthful, traffic on a checked slot", async () => {
    const ws = await makeWorkspace({ monitor: '{ duration: 30s, interval: 500ms, minRequests: 1000, rules: ["errorRate < 5%"] }' });
    let serve = new ServeProcess(ws.config);
    cleanups.push(async () => {
      await serve.stop("SIGTERM");
      for (const pid of await pidsMatching(`--workspace ${ws.dir}`)) killQuietly(pid);
      ws.cleanup();
    });
    await serve.ready(ws.control);
    await deployAndPromote(ws, "v1");
    expect((await hit(ws.proxy + "/")).version).toBe("v1");

    // v2 switches, then monitors for 30 s; kill -9 while it monitors.
    const deploying = runCli(["deploy", "v2", "-c", ws.config]);
    for (let i = 0; i < 200; i++) {
      const now = await status(ws);
      if (now.deployment?.phase === "monitoring" && now.deployment.id) break;
      await sleep(50);
    }
    const replicasBefore = await pidsMatching(`--workspace ${ws.dir}`);
    serve.child.kill("SIGKILL");
    await serve.exited();

    // The watching CLI reconnects to the new flip serve and reports the resumed deployment's end.
    serve = new ServeProcess(ws.config);
    await serve.ready(ws.control);
    const now = await status(ws);
    expect(now.live).toBe("green");
    expect(now.slots.green.version).toBe("v2");
    expect(now.slots.blue.version).toBe("v1");
    expect(now.deployment?.phase).toBe("monitoring"); // resumed, not forgotten
    expect((await hit(ws.proxy + "/")).version).toBe("v2");
    // The replicas that ran before the crash were adopted, not started twice.
    expect((await pidsMatching(`--workspace ${ws.dir}`)).sort()).toEqual(replicasBefore.sort());

    const promoted = await runCli(["promote", "-c", ws.config]);
    expect(promoted.code, promoted.stderr).toBe(0);
    for (let i = 0; i < 100 && (await status(ws)).deployment; i++) await sleep(50);
    const history = JSON.parse((await runCli(["history", "--json", "-c", ws.config])).stdout) as { version: string; outcome: string }[];
    expect(history[0]).toMatchObject({ version: "v2", outcome: "succeeded" });
    const watched = await deploying;
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);

    // A clean shutdown stops every replica (no orphans).
    expect(await serve.stop("SIGTERM")).toBe(0);
    expect(await pidsMatching(`--workspace ${ws.dir}`)).toEqual([]);
  }, 120_000);

  it("kill -9 before the switch: the half-deployed slot never gets traffic", async () => {
    const ws = await makeWorkspace({
      checks: `checks:
  - { name: health, http: { path: /health } }
  - { name: slow, command: "sleep 30", timeout: 60s }`,
    });
    let serve = new ServeProcess(ws.config);
    cleanups.push(async () => {
      await serve.stop("SIGTERM");
      for (const pid of await pidsMatching(`--workspace ${ws.dir}`)) killQuietly(pid);
      for (const pid of await pidsMatching("sleep 30")) killQuietly(pid);
      ws.cleanup();
    });
    await serve.ready(ws.control);
    const deploying = runCli(["deploy", "v1", "-c", ws.config]);
    for (let i = 0; i < 200 && (await status(ws)).deployment?.phase !== "checking"; i++) await sleep(50);
    serve.child.kill("SIGKILL");
    await serve.exited();

    serve = new ServeProcess(ws.config);
    await serve.ready(ws.control);
    const watched = await deploying;
    expect(watched.code, watched.stdout + watched.stderr).toBe(2);
    const now = await status(ws);
    expect(now.live).toBeNull();
    expect(now.deployment).toBeNull();
    const history = JSON.parse((await runCli(["history", "--json", "-c", ws.config])).stdout) as { outcome: string; reason: string }[];
    expect(history[0]?.outcome).toBe("aborted");
    expect(history[0]?.reason).toMatch(/checking/);
    expect((await hit(ws.proxy + "/")).status).toBe(503);
  }, 90_000);
});

describe("flip serve start-up errors", () => {
  let blocker: Server | undefined;
  afterEach(() => new Promise<void>((done) => (blocker ? blocker.close(() => done()) : done())));

  it("refuses a bad config with the line of each problem, and starts nothing", async () => {
    const ws = await makeWorkspace({ extra: "platfrom: oops\nmonitor2: {}" });
    cleanups.push(() => ws.cleanup());
    const validate = await runCli(["validate", "-c", ws.config]);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toMatch(/platfrom/);
    expect(validate.stderr).toMatch(/flip\.yaml:\d+/);
    const serve = new ServeProcess(ws.config);
    expect(await serve.exited()).toBe(1);
    expect(serve.output).toMatch(/platfrom/);
    expect(existsSync(join(ws.dir, ".flip/state.db"))).toBe(false);
  });

  it("says which address is taken when the proxy port is in use", async () => {
    const ws = await makeWorkspace();
    cleanups.push(() => ws.cleanup());
    const port = Number(new URL(ws.proxy).port);
    blocker = createServer();
    await new Promise<void>((done) => blocker?.listen(port, "127.0.0.1", done));
    const serve = new ServeProcess(ws.config);
    expect(await serve.exited()).toBe(1);
    expect(serve.output).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(serve.output).toMatch(/in use/);
  });
});
