import { describe, expect, it } from "vitest";
import { silentLogger } from "../logging.js";
import type { TrafficSeries, TrafficSeriesQuery } from "../metrics/traffic-history.js";
import { monitorSettingsOf, registerDashboardReads, type MonitorSettings } from "./dashboard-routes.js";
import { createApiApp } from "./server.js";
import { EngineDouble } from "./testing/engine-double.js";

class RecordingReader {
  readonly queries: TrafficSeriesQuery[] = [];
  series(query: TrafficSeriesQuery): TrafficSeries {
    this.queries.push(query);
    const empty = { requestRate: [], errorRate: [], p99Ms: [] };
    return { available: true, now: 5_000, stepMs: 1000, times: [4_000], slots: { blue: { requestRate: [3], errorRate: [0], p99Ms: [12] }, green: empty }, switches: [] };
  }
}

const monitor: MonitorSettings = monitorSettingsOf({ duration: 60_000, interval: 5_000, minRequests: 20, rules: ["errorRate < 5%", "p99 < 0.8s"] });

function app(options: { token?: string; listenIsLoopback?: boolean } = {}) {
  const reader = new RecordingReader();
  const api = createApiApp({ engine: new EngineDouble(), logger: silentLogger, ...options, extraRoutes: (hono) => registerDashboardReads(hono, { traffic: reader, monitor }) });
  return { api, reader };
}

describe("the dashboard's reads", () => {
  it("answers GET /api/traffic with the history's series, the last 15 minutes unless asked otherwise", async () => {
    const { api, reader } = app();
    const all = await api.request("/api/traffic");
    expect(all.status).toBe(200);
    expect(await all.json()).toMatchObject({ available: true, times: [4000], slots: { blue: { requestRate: [3] } } });
    expect(await (await api.request("/api/traffic?seconds=60&since=3000")).json()).toMatchObject({ available: true });
    expect(reader.queries).toEqual([{ seconds: 900 }, { seconds: 60, since: 3000 }]);
  });

  it.each([["seconds=0"], ["seconds=901"], ["seconds=ten"], ["seconds=1.5"], ["since=-1"], ["limit=3"]])("refuses ?%s with a 400 that says what is accepted", async (query) => {
    const { api, reader } = app();
    const response = await api.request(`/api/traffic?${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string; hint: string } };
    expect(body.error.code).toBe("FLIP_E_BAD_REQUEST");
    expect(body.error.hint).toContain("?seconds=N (1 to 900)");
    expect(reader.queries).toEqual([]);
  });

  it("answers GET /api/monitor with the rules as thresholds in the monitor's units", async () => {
    const response = await app().api.request("/api/monitor");
    expect(await response.json()).toEqual({
      durationMs: 60_000,
      intervalMs: 5_000,
      minRequests: 20,
      source: "builtin",
      rules: [
        { text: "errorRate < 5%", metric: "errorRate", op: "<", threshold: 0.05 },
        { text: "p99 < 0.8s", metric: "p99", op: "<", threshold: 800 },
      ],
    });
  });

  it("is guarded like every other read: open on loopback, token-only beyond it", async () => {
    expect((await app({ token: "s3cret" }).api.request("/api/traffic")).status).toBe(200);
    const exposed = app({ token: "s3cret", listenIsLoopback: false }).api;
    expect((await exposed.request("/api/traffic")).status).toBe(401);
    expect((await exposed.request("/api/monitor")).status).toBe(401);
    expect((await exposed.request("/api/traffic", { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
  });
});
