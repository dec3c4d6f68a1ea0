import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.js";
import type { Slot } from "../core/slots.js";
import { silentLogger } from "../logging.js";
import { ProxyServer } from "../proxy/server.js";
import { closeAll, startUpstream, type TestUpstream } from "../proxy/testing/upstream-server.js";
import type { TrafficSnapshot, TrafficStats } from "../routers/router.js";
import { PrometheusExporter, type PrometheusExporterOptions } from "./prometheus-exporter.js";
import { parseExposition, samplesOf, valueOf } from "./testing/exposition.js";

const VERSIONS: Record<Slot, string> = { blue: "v1", green: "v2" };

function exporterOptions(overrides: Partial<PrometheusExporterOptions> = {}): PrometheusExporterOptions {
  return {
    app: "shop",
    versionOf: (slot) => VERSIONS[slot],
    liveSlot: () => Promise.resolve("blue"),
    deploymentOutcomes: () => ({ succeeded: 3, "rolled-back": 1, running: 1 }),
    logger: silentLogger,
    ...overrides,
  };
}

describe("PrometheusExporter", () => {
  const proxies: ProxyServer[] = [];
  const upstreams: TestUpstream[] = [];
  let client = new Agent();

  afterEach(async () => {
    await closeAll(proxies);
    await closeAll(upstreams);
    await client.destroy();
    client = new Agent();
  });

  /** Answers /200, /404, /500 with that status; /hang never answers; /reset drops the connection. */
  async function statusUpstream(): Promise<TestUpstream> {
    const upstream = await startUpstream((req, res) => {
      if (req.url === "/hang") return;
      if (req.url === "/reset") return void req.socket.destroy();
      res.writeHead(Number(req.url?.slice(1)), { "content-type": "text/plain" });
      res.end("ok");
    });
    upstreams.push(upstream);
    return upstream;
  }

  async function get(base: string, path: string, signal?: AbortSignal): Promise<number | "aborted"> {
    try {
      const response = await request(`${base}${path}`, { dispatcher: client, ...(signal ? { signal } : {}) });
      await response.body.dump();
      return response.statusCode;
    } catch (error) {
      if (signal?.aborted) return "aborted";
      throw error;
    }
  }

  it("shows what really went through the proxy, per slot and per replica, labelled with app, slot and version", async () => {
    const [a, b] = [await statusUpstream(), await statusUpstream()];
    const refused = await startUpstream(() => {});
    await refused.close(); // its port now refuses connections
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 400,
      connectionsPerReplica: 4,
      clock: systemClock,
      logger: silentLogger,
    });
    proxies.push(proxy);
    await proxy.start();
    const base = `http://${proxy.addresses().listen}`;
    proxy.setTargets("blue", [a.endpoint("blue", 0), b.endpoint("blue", 1)]);
    proxy.setTargets("green", [refused.endpoint("green", 0)]);
    proxy.switchTo("blue");

    // Round robin, one at a time: a gets the 1st, 3rd, 5th and 7th request, b the others. The 7th
    // (a GET whose connection broke before any answer) is tried once more on b, and breaks there too.
    expect([await get(base, "/200"), await get(base, "/200"), await get(base, "/404"), await get(base, "/500")]).toEqual([200, 200, 404, 500]);
    const leaving = new AbortController();
    const abandoned = get(base, "/hang", leaving.signal);
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 1);
    leaving.abort();
    expect(await abandoned).toBe("aborted");
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 0);
    expect(await get(base, "/hang")).toBe(504); // after upstreamTimeout
    expect(await get(base, "/reset")).toBe(502);
    proxy.switchTo("green");
    expect(await get(base, "/200")).toBe(502);

    const exporter = new PrometheusExporter(exporterOptions({ traffic: proxy.traffic, liveSlot: () => Promise.resolve(proxy.live) }));
    const text = await exporter.render();
    const metrics = parseExposition(text);
    const blue = { app: "shop", slot: "blue", version: "v1" };
    const green = { app: "shop", slot: "green", version: "v2" };

    const requests = (labels: Record<string, string>, statusClass: string) => valueOf(metrics, "flip_proxy_requests_total", { ...labels, class: statusClass });
    expect(["1xx", "2xx", "3xx", "4xx", "5xx", "499"].map((c) => requests(blue, c))).toEqual([0, 2, 0, 1, 3, 1]);
    expect(["2xx", "5xx"].map((c) => requests(green, c))).toEqual([0, 1]);
    const upstreamErrors = (labels: Record<string, string>, kind: string) => valueOf(metrics, "flip_proxy_upstream_errors_total", { ...labels, kind });
    expect(["connect", "timeout", "reset", "other"].map((kind) => upstreamErrors(blue, kind))).toEqual([0, 1, 1, 0]);
    expect(["connect", "timeout", "reset", "other"].map((kind) => upstreamErrors(green, kind))).toEqual([1, 0, 0, 0]);
    expect(valueOf(metrics, "flip_proxy_in_flight", blue)).toBe(0);

    const replicaA = { ...blue, replica: a.url };
    const replicaB = { ...blue, replica: b.url };
    const replicaRequests = (labels: Record<string, string>, statusClass: string) => valueOf(metrics, "flip_proxy_replica_requests_total", { ...labels, class: statusClass });
    expect(["2xx", "4xx", "5xx", "499"].map((c) => replicaRequests(replicaA, c))).toEqual([1, 1, 0, 1]);
    expect(["2xx", "4xx", "5xx", "499"].map((c) => replicaRequests(replicaB, c))).toEqual([1, 0, 3, 0]);
    const replicaErrors = (labels: Record<string, string>, kind: string) => valueOf(metrics, "flip_proxy_replica_upstream_errors_total", { ...labels, kind });
    expect(["connect", "timeout", "reset", "other"].map((kind) => replicaErrors(replicaA, kind))).toEqual([0, 0, 1, 0]);
    expect(["connect", "timeout", "reset", "other"].map((kind) => replicaErrors(replicaB, kind))).toEqual([0, 1, 1, 0]);
    expect(valueOf(metrics, "flip_proxy_replica_upstream_errors_total", { ...green, replica: refused.url, kind: "connect" })).toBe(1);
    expect(valueOf(metrics, "flip_proxy_replica_in_flight", replicaA)).toBe(0); // the retry took it along
    expect(valueOf(metrics, "flip_proxy_replica_in_flight", replicaB)).toBe(0);

    // The histogram: cumulative buckets ending in +Inf = _count = requests; only the timed-out request took ≥ 0.25 s.
    const duration = "flip_proxy_request_duration_seconds";
    expect(metrics.types.get(duration)).toBe("histogram");
    expect(metrics.types.get("flip_proxy_requests_total")).toBe("counter");
    const buckets = samplesOf(metrics, `${duration}_bucket`, blue);
    expect(buckets.map((sample) => sample.labels.le)).toEqual(["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"]);
    const cumulative = buckets.map((sample) => sample.value);
    expect(cumulative).toEqual([...cumulative].sort((x, y) => x - y));
    expect(valueOf(metrics, `${duration}_bucket`, { ...blue, le: "0.25" })).toBe(6);
    expect(valueOf(metrics, `${duration}_bucket`, { ...blue, le: "+Inf" })).toBe(7);
    expect(valueOf(metrics, `${duration}_count`, blue)).toBe(7);
    expect(valueOf(metrics, `${duration}_sum`, blue)).toBeGreaterThanOrEqual(0.4);
    expect(valueOf(metrics, "flip_proxy_replica_request_duration_seconds_count", replicaA)).toBe(3);

    expect(valueOf(metrics, "flip_live_slot", { app: "shop", slot: "green" })).toBe(1);
    expect(valueOf(metrics, "flip_live_slot", { app: "shop", slot: "blue" })).toBe(0);
    // The monitor's view is unchanged by all this.
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 7, errors: 3, inFlight: 0 });
  });

  it("shows the engine's metrics for a router that sees no traffic, and survives a router that cannot answer", async () => {
    const monitorOnly: TrafficStats = { snapshot: (): TrafficSnapshot => ({ at: 0, requests: 1, errors: 0, inFlight: 0, latencyCounts: [] }) };
    for (const traffic of [undefined, monitorOnly]) {
      const metrics = parseExposition(await new PrometheusExporter(exporterOptions({ traffic })).render());
      expect(metrics.samples.filter((sample) => sample.name.startsWith("flip_proxy"))).toEqual([]);
      expect(valueOf(metrics, "flip_live_slot", { app: "shop", slot: "blue" })).toBe(1);
      expect(["succeeded", "aborted", "rolled-back", "failed"].map((outcome) => valueOf(metrics, "flip_deployments_total", { app: "shop", outcome }))).toEqual([3, 0, 1, 0]);
      expect(valueOf(metrics, "flip_deployment_running", { app: "shop" })).toBe(1);
    }

    const unreachable = new PrometheusExporter(exporterOptions({ liveSlot: () => Promise.reject(new Error("the load balancer is down")) }));
    const metrics = parseExposition(await unreachable.render());
    expect(samplesOf(metrics, "flip_live_slot")).toEqual([]);
    expect(samplesOf(metrics, "flip_deployments_total")).toHaveLength(4);
  });

  it("adds prom-client's process metrics when asked", async () => {
    const metrics = parseExposition(await new PrometheusExporter(exporterOptions({ processMetrics: true })).render());
    expect(samplesOf(metrics, "process_resident_memory_bytes")).toHaveLength(1);
    expect(samplesOf(metrics, "nodejs_eventloop_lag_seconds")).toHaveLength(1);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
