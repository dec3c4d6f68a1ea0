// The builtin router's `health` section: how flip.yaml turns into probes, and what the router shows
// of replica health (events, healthyReplicas) without letting it move the live slot.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { ManualClock } from "../../core/clock.testing.js";
import type { Slot } from "../../core/slots.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { createRouter } from "../registry.js";
import type { RouterEvent } from "../router.js";
import type { BuiltinRouter } from "./builtin-router.js";
import { healthSchema, replicaHealthOptions } from "./health-config.js";

describe("replicaHealthOptions", () => {
  const defaults = healthSchema.parse({});

  it("probes the first http check's path by default, where only a 5xx or no answer fails", () => {
    const { active, passive } = replicaHealthOptions(defaults, "/api/status");
    expect(active).toMatchObject({ path: "/api/status", intervalMs: 5_000, timeoutMs: 2_000, unhealthyAfter: 2, healthyAfter: 1 });
    expect([200, 302, 401, 404, 499].map((status) => active?.isHealthyStatus(status))).toEqual([true, true, true, true, true]);
    expect([500, 503].map((status) => active?.isHealthyStatus(status))).toEqual([false, false]);
    expect(passive).toEqual({ failures: 3, ejectForMs: 10_000 });
  });

  it("wants 2xx or 3xx from a path set under health, which wins over the check's", () => {
    const { active } = replicaHealthOptions(healthSchema.parse({ path: "/healthz", interval: "1s" }), "/api/status");
    expect(active).toMatchObject({ path: "/healthz", intervalMs: 1_000 });
    expect([200, 399, 400, 404, 500].map((status) => active?.isHealthyStatus(status))).toEqual([true, true, false, false, false]);
  });

  it("has no active checks without a path or when disabled, and no passive ejection with failures: 0", () => {
    expect(replicaHealthOptions(defaults, undefined).active).toBeUndefined();
    expect(replicaHealthOptions(healthSchema.parse({ enabled: false, path: "/healthz" }), "/x").active).toBeUndefined();
    expect(replicaHealthOptions(healthSchema.parse({ passive: { failures: 0 } }), "/x").passive).toBeUndefined();
  });

  it("refuses an interval too short to be anything but load, and unknown keys", () => {
    expect(healthSchema.safeParse({ interval: "10ms" }).success).toBe(false);
    expect(healthSchema.safeParse({ intervall: "5s" }).success).toBe(false);
  });
});

describe("BuiltinRouter replica health", () => {
  const cleanups: (() => Promise<void>)[] = [];
  const client = new Agent();

  afterEach(async () => {
    await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
  });
  afterAll(() => client.destroy());

  /** A replica whose /ready answers `status.value`; every other path answers its name. */
  async function startReplica(name: string, status: { value: number }): Promise<{ url: string; port: number; probes: () => number }> {
    let probes = 0;
    const server: Server = createServer((req, res) => {
      if (req.url === "/ready") {
        probes += 1;
        res.writeHead(status.value).end();
      } else res.end(name);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, port, probes: () => probes };
  }

  async function startRouter(clock: ManualClock): Promise<{ router: BuiltinRouter; events: RouterEvent[] }> {
    const config = parseConfigText(
      `app: test
platform: { kind: process, command: "node server.js" }
router: { kind: builtin, listen: "127.0.0.1:0", preview: "127.0.0.1:0", health: { interval: 1s } }
checks:
  - { name: ready, http: { path: /ready } }
  - { name: version, http: { path: /version } }
`,
      "/srv/test/flip.yaml",
      { env: {} },
    );
    const events: RouterEvent[] = [];
    const router = createRouter(config, { app: "test", logger: silentLogger, clock, state: new MemoryDriverState(), onEvent: (event) => events.push(event) }) as BuiltinRouter;
    cleanups.push(() => router.close());
    await router.start();
    return { router, events };
  }

  async function get(url: string): Promise<{ status: number; text: string }> {
    const response = await request(url, { dispatcher: client, signal: AbortSignal.timeout(5_000) });
    return { status: response.statusCode, text: await response.body.text() };
  }

  async function probeRound(clock: ManualClock, loops: number): Promise<void> {
    await clock.advance(1_000);
    await waitFor(() => clock.pendingSleeps === loops);
  }

  it("probes both slots on the first http check's path, ejects the idle slot's failing replicas, and never moves the live slot", async () => {
    const clock = new ManualClock();
    const { router, events } = await startRouter(clock);
    const blueStatus = { value: 200 };
    const greenStatus = { value: 503 };
    const blue = await startReplica("blue", blueStatus);
    const green = await startReplica("green", greenStatus);
    const endpoint = (slot: Slot, replica: { url: string; port: number }) => ({ slot, replica: 0, host: "127.0.0.1", port: replica.port, url: replica.url });
    await router.setTargets("blue", [endpoint("blue", blue)]);
    await router.setTargets("green", [endpoint("green", green)]);
    await router.switchTo("blue");

    await probeRound(clock, 2);
    await probeRound(clock, 2);
    expect([blue.probes(), green.probes()]).toEqual([2, 2]);
    expect([router.healthyReplicas("blue"), router.healthyReplicas("green")]).toEqual([1, 0]);
    expect(events.filter((event) => event.type.startsWith("replica-"))).toEqual([
      { type: "replica-ejected", slot: "green", url: green.url, reason: "the health check failed 2 times in a row (GET /ready answered 503)" },
    ]);
    expect(await router.live()).toBe("blue");
    const { listen, preview } = router.listenAddresses();
    expect(await get(`http://${listen}/`)).toEqual({ status: 200, text: "blue" });
    expect(await get(`http://${preview}/`)).toEqual({ status: 502, text: "the only replica of green is unhealthy\n" });

    // The engine checks a slot before switching to it; the router only refuses a slot with no replicas.
    await router.switchTo("green");
    expect(await get(`http://${listen}/`)).toEqual({ status: 502, text: "the only replica of green is unhealthy\n" });
    expect(router.traffic.snapshot("green")).toMatchObject({ requests: 1, errors: 1 });

    greenStatus.value = 200;
    await probeRound(clock, 2);
    expect(router.healthyReplicas("green")).toBe(1);
    expect(events.at(-1)).toEqual({ type: "replica-restored", slot: "green", url: green.url, reason: "the health check passed once in a row" });
    expect(await get(`http://${listen}/`)).toEqual({ status: 200, text: "green" });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
