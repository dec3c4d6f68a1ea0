// The prometheus source against a real Prometheus (Debian package `prometheus`), started here on
// loopback with a config written here, scraping a small node:http app twice a second. So the PromQL
// Flip sends is PromQL Prometheus really answers, with values that match what the app exposed.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { pickFreePort } from "../../platforms/process/ports.js";
import { prometheusSourceSchema } from "./config.js";
import type { PrometheusSourceConfig } from "./config.js";
import { instantQuery } from "./prometheus-api.js";
import { PrometheusSource } from "./prometheus-source.js";

const PROMETHEUS = "prometheus";

/**
 * The app's counters grow by the same amounts on every scrape (two a second), so rates are exact:
 * blue 20 req/s, no errors; green 10 OK + 10 errors a second (error rate 0.5). green's latency
 * histogram puts half of each batch under 100ms, 90% under 500ms, the rest above.
 */
function appMetrics(scrapes: number): string {
  const series = (labels: string, value: number) => `app_requests_total{${labels}} ${value}`;
  const bucket = (le: string, perScrape: number) => `app_request_duration_seconds_bucket{slot="green",version="v2",le="${le}"} ${perScrape * scrapes}`;
  return [
    "# TYPE app_requests_total counter",
    series('slot="blue",version="v1",code="200"', 10 * scrapes),
    series('slot="blue",version="v1",code="500"', 0),
    series('slot="green",version="v2",code="200"', 5 * scrapes),
    series('slot="green",version="v2",code="500"', 5 * scrapes),
    "# TYPE app_request_duration_seconds histogram",
    bucket("0.1", 5),
    bucket("0.5", 9),
    bucket("+Inf", 10),
    `app_request_duration_seconds_sum{slot="green",version="v2"} ${2 * scrapes}`,
    `app_request_duration_seconds_count{slot="green",version="v2"} ${10 * scrapes}`,
    "",
  ].join("\n");
}

const QUERIES = {
  errorRate: 'sum(rate(app_requests_total{slot="{slot}",version="{version}",code=~"5.."}[{window}])) / sum(rate(app_requests_total{slot="{slot}",version="{version}"}[{window}]))',
  p50: 'histogram_quantile(0.5, sum by (le) (rate(app_request_duration_seconds_bucket{slot="{slot}"}[{window}])))',
  p99: 'histogram_quantile(0.99, sum by (le) (rate(app_request_duration_seconds_bucket{slot="{slot}"}[{window}])))',
  requestRate: 'sum(rate(app_requests_total{slot="{slot}"}[{window}]))',
  requests: 'sum(increase(app_requests_total{slot="{slot}",version="{version}"}[{window}]))',
};

let dir: string;
let app: Server | undefined;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let prometheusLog = "";

function source(overrides: Partial<PrometheusSourceConfig> = {}): PrometheusSource {
  const config = prometheusSourceSchema.parse({ kind: "prometheus", url: prometheusUrl, queries: QUERIES, timeout: "3s", ...overrides });
  return new PrometheusSource(config, "shop", systemClock);
}

async function startApp(): Promise<number> {
  let scrapes = 0;
  app = createServer((req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    scrapes += 1;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(appMetrics(scrapes));
  });
  await new Promise<void>((resolve) => app?.listen(0, "127.0.0.1", resolve));
  return (app.address() as AddressInfo).port;
}

async function startPrometheus(appPort: number): Promise<void> {
  if (spawnSync(PROMETHEUS, ["--version"]).error) {
    throw new Error("The `prometheus` binary is not installed (Debian package `prometheus`). Run `bash scripts/install-debian-packages.sh` (CI does), then run the tests again.");
  }
  const port = await pickFreePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global: { scrape_interval: 500ms, evaluation_interval: 500ms }\nscrape_configs:\n  - job_name: app\n    static_configs: [ { targets: ["127.0.0.1:${appPort}"] } ]\n`,
  );
  const flags = [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`];
  prometheus = spawn(PROMETHEUS, flags, { stdio: ["ignore", "ignore", "pipe"] });
  prometheus.stderr?.on("data", (chunk: Buffer) => (prometheusLog = (prometheusLog + chunk.toString()).slice(-4000)));
  for (let i = 0; i < 100; i++) {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${prometheusLog}`);
    const ready = await request(`${prometheusUrl}/-/ready`).then(
      async (response) => (await response.body.dump(), response.statusCode === 200),
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  throw new Error(`prometheus was not ready after 10s:\n${prometheusLog}`);
}

/** Until every series has at least `count` samples in the last 10s: more than the test's window holds. */
async function waitForScrapes(count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const answer = await instantQuery(prometheusUrl, "min(count_over_time(app_requests_total[10s]))", { timeoutMs: 2_000 });
    if (answer.ok && (answer.value ?? 0) >= count) return;
    await sleep(200);
  }
  throw new Error(`prometheus did not scrape the app ${count} times within 20s:\n${prometheusLog}`);
}

async function stopPrometheus(): Promise<void> {
  const child = prometheus;
  prometheus = undefined;
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid, "SIGTERM");
  const killTimer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(killTimer);
}

// One Prometheus for the file: its service discovery hands the targets to the scrapers only after
// ~5s, so waiting for the first scrapes is most of the time spent here.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "flip-prometheus-"));
  await startPrometheus(await startApp());
  await waitForScrapes(7);
}, 30_000);

// Runs even when beforeAll or a test failed: nothing is left running.
afterAll(async () => {
  await stopPrometheus();
  await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

// Shorter than the data Prometheus holds by then: rate() divides by the whole window.
const WINDOW = { windowMs: 2_000, metrics: ["errorRate", "p50", "p99", "requestRate"] as const };

describe("PrometheusSource against a real Prometheus", () => {
  it("sends the templated queries and reads the values the app exposed, in the rules' units", async () => {
    const green = await source().measureWindow("green", { ...WINDOW, version: "v2" });
    expect(green.error).toBeUndefined();
    expect(green.values.errorRate).toBeCloseTo(0.5, 5);
    expect(green.values.p50).toBeCloseTo(100, 3); // seconds → ms
    expect(green.values.p99).toBeCloseTo(500, 3);
    expect(green.values.requestRate).toBeGreaterThan(16);
    expect(green.values.requestRate).toBeLessThan(24);
    expect(green.requests).toBeGreaterThan(30); // ~20/s over 2s, as Prometheus extrapolates it
    expect(green.requests).toBeLessThan(50);

    const blue = await source().measureWindow("blue", { ...WINDOW, version: "v1" });
    expect(blue.values.errorRate).toBe(0);
    expect(blue.values.p99).toBeUndefined(); // blue has no histogram: no data is no value
  });

  it("a version with no series gives no values and zero requests, not an error", async () => {
    const other = await source().measureWindow("green", { ...WINDOW, version: "v9" });
    expect(other).toMatchObject({ requests: 0, values: {} });
    expect(other.error).toBeUndefined();
  });

  it("records Prometheus's own error text for a query it refuses", async () => {
    const broken = source({ queries: { ...QUERIES, errorRate: 'sum(rate(app_requests_total{slot="{slot}"}[{window}])' } });
    const window = await broken.measureWindow("green", { ...WINDOW, version: "v2" });
    expect(window.error).toMatch(/^errorRate: Prometheus refused the query: bad_data: invalid parameter "query": .*parse error: unclosed left parenthesis/);
    expect(window.values).toEqual({});
  });

  it("refuses an answer of several series: a rule needs one number", async () => {
    const unaggregated = source({ queries: { ...QUERIES, errorRate: 'rate(app_requests_total{slot="{slot}"}[{window}])' } });
    const window = await unaggregated.measureWindow("green", { ...WINDOW, version: "v2" });
    expect(window.error).toMatch(/^errorRate: the query returned 2 series \(.*"code":"(200|500)".*\); a rule needs one number: aggregate it, e.g. sum\(\.\.\.\)$/);
  });

  it("says so when Prometheus cannot be reached", async () => {
    const port = await pickFreePort();
    const down = source({ url: `http://127.0.0.1:${port}` });
    const window = await down.measureWindow("blue", { ...WINDOW, version: "v1" });
    expect(window.error).toContain(`errorRate: cannot reach Prometheus at http://127.0.0.1:${port}/api/v1/query: connection refused`);
  });
});
