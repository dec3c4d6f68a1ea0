import { Agent, request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.js";
import { MemoryDriverState } from "../core/state.js";
import { silentLogger } from "../logging.js";
import { PrometheusExporter } from "../metrics/prometheus-exporter.js";
import { parseExposition, valueOf } from "../metrics/testing/exposition.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../proxy/testing/upstream-server.js";
import { BuiltinRouter } from "../routers/builtin/builtin-router.js";
import { builtinRouterSchema } from "../routers/builtin/config.js";
import { registerMetricsRoute } from "./metrics-route.js";
import { startApiServer, type ApiServer } from "./server.js";
import { EngineDouble } from "./testing/engine-double.js";

describe("GET /metrics", () => {
  const closing: { close(): Promise<void> }[] = [];
  const client = new Agent();

  afterEach(async () => {
    await closeAll(closing);
  });
  afterAll(() => client.close());

  async function startRouter(upstream: TestUpstream): Promise<BuiltinRouter> {
    const config = builtinRouterSchema.parse({ kind: "builtin", listen: "127.0.0.1:0" });
    const router = new BuiltinRouter(config, { app: "hello", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() });
    closing.push(router);
    await router.setTargets("blue", [upstream.endpoint("blue")]);
    await router.start();
    await router.switchTo("blue");
    return router;
  }

  async function startApi(router: BuiltinRouter, token?: string): Promise<ApiServer> {
    const exporter = new PrometheusExporter({
      app: "hello",
      traffic: router.traffic,
      versionOf: (slot) => (slot === "blue" ? "v1" : undefined),
      liveSlot: () => router.live(),
      deploymentOutcomes: () => ({ succeeded: 1 }),
      logger: silentLogger,
    });
    const api = await startApiServer({
      engine: new EngineDouble(),
      listen: "127.0.0.1:0",
      token,
      logger: silentLogger,
      extraRoutes: (app) => registerMetricsRoute(app, exporter),
    });
    closing.push(api);
    return api;
  }

  it("serves the proxy's counters in the Prometheus text format, without a token", async () => {
    const upstream = await startTextUpstream("blue");
    closing.push(upstream);
    const router = await startRouter(upstream);
    const api = await startApi(router, "secret");
    const proxy = `http://${router.listenAddresses().listen}`;
    for (let i = 0; i < 3; i++) {
      const response = await request(`${proxy}/`, { dispatcher: client });
      expect(await response.body.text()).toBe("blue");
    }

    const response = await request(`${api.url}/metrics`, { dispatcher: client });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.body.text();
    expect(text).toContain('flip_proxy_requests_total{app="hello",slot="blue",version="v1",class="2xx"} 3');
    const metrics = parseExposition(text);
    expect(valueOf(metrics, "flip_proxy_requests_total", { app: "hello", slot: "green", version: "", class: "2xx" })).toBe(0);
    expect(valueOf(metrics, "flip_proxy_replica_requests_total", { app: "hello", slot: "blue", version: "v1", replica: upstream.url, class: "2xx" })).toBe(3);
    expect(valueOf(metrics, "flip_live_slot", { app: "hello", slot: "blue" })).toBe(1);
    expect(valueOf(metrics, "flip_deployments_total", { app: "hello", outcome: "succeeded" })).toBe(1);
  });
});
