// `router.workers: 2`: the built-in proxy in two node:cluster workers. node:cluster forks the
// compiled worker entry, so the router under test is the BUILT one (dist/, made by `npm run build`,
// which `npm test` runs first); the upstreams and the load are the TypeScript test helpers.
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinRouter as BuiltinRouterClass } from "../src/routers/builtin/builtin-router.js";
import type { builtinRouterSchema as BuiltinRouterSchema } from "../src/routers/builtin/config.js";
import type { MemoryDriverState as MemoryDriverStateClass } from "../src/core/state.js";
import type { systemClock as SystemClock } from "../src/core/clock.js";
import type { silentLogger as SilentLogger } from "../src/logging.js";
import type { Slot } from "../src/core/slots.js";
import { runSwitchLoad } from "../src/proxy/testing/switch-load.js";
import { closeAll, startTextUpstream, startUpstream, type TestUpstream } from "../src/proxy/testing/upstream-server.js";
import type { RouterEvent } from "../src/routers/router.js";

const dist = (path: string) => fileURLToPath(new URL(`../dist/src/${path}`, import.meta.url));
if (!existsSync(dist("routers/builtin/cluster-worker-entry.js"))) throw new Error("test/proxy-workers.test.ts needs the built code: run `npm run build` first (npm test does).");

const { BuiltinRouter } = (await import(dist("routers/builtin/builtin-router.js"))) as { BuiltinRouter: typeof BuiltinRouterClass };
const { builtinRouterSchema } = (await import(dist("routers/builtin/config.js"))) as { builtinRouterSchema: typeof BuiltinRouterSchema };
const { MemoryDriverState } = (await import(dist("core/state.js"))) as { MemoryDriverState: typeof MemoryDriverStateClass };
const { systemClock } = (await import(dist("core/clock.js"))) as { systemClock: typeof SystemClock };
const { silentLogger } = (await import(dist("logging.js"))) as { silentLogger: typeof SilentLogger };

describe("the built-in proxy with workers: 2", () => {
  const routers: BuiltinRouterClass[] = [];
  const upstreams: TestUpstream[] = [];
  const stopped: number[] = [];

  afterEach(async () => {
    for (const pid of stopped.splice(0)) process.kill(pid, "SIGCONT");
    await closeAll(routers);
    await closeAll(upstreams);
  });

  async function startRouter(tuning: { workerAckTimeoutMs?: number } = {}, blueHandler?: Parameters<typeof startUpstream>[0]) {
    const config = builtinRouterSchema.parse({ kind: "builtin", listen: "127.0.0.1:0", drainTimeout: "5s", workers: 2 });
    const events: RouterEvent[] = [];
    const router = new BuiltinRouter(config, { app: "test", logger: silentLogger, clock: systemClock, state: new MemoryDriverState(), onEvent: (event) => events.push(event) }, tuning);
    routers.push(router);
    for (const slot of ["blue", "green"] as const) {
      const upstream = slot === "blue" && blueHandler ? await startUpstream(blueHandler) : await startTextUpstream(slot);
      upstreams.push(upstream);
      await router.setTargets(slot, [upstream.endpoint(slot)]);
    }
    await router.switchTo("blue");
    await router.start();
    return { router, events, base: `http://${router.listenAddresses().listen}` };
  }

  /** `count` requests, each on a new connection, so both workers take some. */
  async function answersOnFreshConnections(base: string, count: number): Promise<Set<string>> {
    const answers = new Set<string>();
    for (let i = 0; i < count; i++) {
      const client = new Agent();
      try {
        const response = await request(`${base}/`, { dispatcher: client, signal: AbortSignal.timeout(5_000) });
        answers.add(`${response.statusCode} ${await response.body.text()}`);
      } finally {
        await client.destroy();
      }
    }
    return answers;
  }

  it("switches under load without a failed request: every request started after switchTo() returned reaches the new slot", async () => {
    const { router, base } = await startRouter();
    const workers = (await router.workers()) ?? [];
    expect(workers).toHaveLength(2);

    const report = await runSwitchLoad({ url: `${base}/`, clients: 8, switches: 10, switchEveryMs: 200, firstSlot: "blue", switchTo: (slot) => router.switchTo(slot) });
    expect(report.failures).toEqual([]);
    expect(report.wrongSlot).toEqual([]);
    expect(report.requests.length).toBeGreaterThan(200);

    // The primary's counters are the sum of both workers' (fetched afresh here; pushed every 250 ms otherwise).
    const afterLoad = (await router.workers()) ?? [];
    expect(afterLoad.every((worker) => worker.requests > 0)).toBe(true);
    const counted = router.traffic.snapshot("blue").requests + router.traffic.snapshot("green").requests;
    expect(counted).toBe(report.requests.length);
    expect(afterLoad.reduce((sum, worker) => sum + worker.requests, 0)).toBe(report.requests.length);
  });

  it("pushes the counters to the primary without being asked", async () => {
    const { router, base } = await startRouter();
    await answersOnFreshConnections(base, 6);
    const deadline = Date.now() + 3_000;
    while (router.traffic.snapshot("blue").requests < 6 && Date.now() < deadline) await sleep(50);
    expect(router.traffic.snapshot("blue")).toMatchObject({ requests: 6, errors: 0, inFlight: 0 });
  });

  it("replaces a worker that dies, with the live slot of now, and keeps its counts", async () => {
    const { router, base } = await startRouter();
    await answersOnFreshConnections(base, 6);
    await router.switchTo("green");
    const before = (await router.workers()) ?? [];
    const counted = router.traffic.snapshot("blue").requests;
    expect(counted).toBe(6);

    const victim = before[0]?.pid as number;
    process.kill(victim, "SIGKILL");
    const deadline = Date.now() + 10_000;
    let now = before;
    while (Date.now() < deadline) {
      now = (await router.workers()) ?? [];
      if (now.length === 2 && !now.some((worker) => worker.pid === victim) && now.every((worker) => worker.listening)) break;
      await sleep(50);
    }
    expect(now.map((worker) => worker.pid)).not.toContain(victim);
    expect(now.filter((worker) => worker.listening)).toHaveLength(2);

    // Connections are dealt round robin, so the replacement takes about half of these.
    expect(await answersOnFreshConnections(base, 8)).toEqual(new Set(["200 green"]));
    const replacement = ((await router.workers()) ?? []).find((worker) => !before.some((old) => old.pid === worker.pid));
    expect(replacement?.requests).toBeGreaterThan(0);
    expect(router.traffic.snapshot("blue").requests).toBe(counted); // the dead worker's counts stayed
  });

  it("returns from a switch only after the slowest worker has applied it", async () => {
    const { router, base } = await startRouter();
    const [first] = (await router.workers()) ?? [];
    const pid = first?.pid as number;
    process.kill(pid, "SIGSTOP");
    stopped.push(pid);

    let resolvedAt = 0;
    const switched = router.switchTo("green").then(() => (resolvedAt = Date.now()));
    await sleep(300);
    expect(resolvedAt).toBe(0); // one worker has not seen the switch yet: it must not count as done
    const continuedAt = Date.now();
    process.kill(pid, "SIGCONT");
    stopped.splice(stopped.indexOf(pid), 1);
    await switched;
    expect(resolvedAt).toBeGreaterThanOrEqual(continuedAt);
    expect(await answersOnFreshConnections(base, 6)).toEqual(new Set(["200 green"]));
  });

  it("lets requests in flight on the old slot finish in every worker, then reports one drain", async () => {
    const releases: (() => void)[] = [];
    const { router, events, base } = await startRouter({}, (_req, res) => releases.push(() => res.end("blue")));
    // Fresh connections, so the two slow requests land on both workers.
    const clients = [new Agent(), new Agent()];
    const slow = clients.map((client) => request(`${base}/`, { dispatcher: client }).then(async (response) => `${response.statusCode} ${await response.body.text()}`));
    const deadline = Date.now() + 5_000;
    while (releases.length < 2 && Date.now() < deadline) await sleep(10);
    expect(releases).toHaveLength(2);

    await router.switchTo("green");
    expect(await answersOnFreshConnections(base, 4)).toEqual(new Set(["200 green"]));
    await sleep(100);
    expect(events.filter((event) => event.type === "drained")).toEqual([]);
    for (const release of releases) release();
    expect(await Promise.all(slow)).toEqual(["200 blue", "200 blue"]);
    while (!events.some((event) => event.type === "drained") && Date.now() < deadline) await sleep(10);
    expect(events.filter((event) => event.type === "drained")).toEqual([{ type: "drained", slot: "blue", remaining: 0, timedOut: false }]);
    await Promise.all(clients.map((client) => client.destroy()));
  });

  it("fails a switch that a worker does not confirm in time, naming that worker", async () => {
    const { router } = await startRouter({ workerAckTimeoutMs: 300 });
    const [first] = (await router.workers()) ?? [];
    const pid = first?.pid as number;
    process.kill(pid, "SIGSTOP");
    stopped.push(pid);

    const error = await router.switchTo("green" as Slot).then(
      () => undefined,
      (thrown: unknown) => thrown as { code?: string; message?: string },
    );
    expect(error?.code).toBe("FLIP_E_ROUTER");
    expect(error?.message).toContain(`pid ${pid}`);
    expect(error?.message).toContain("did not confirm the switch to green");
  });
});
