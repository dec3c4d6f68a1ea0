// `monitor.source: { kind: prometheus }` in flip.yaml: defaults, a query for every metric the rules
// name, and how the queries are templated (no Prometheus needed here; prometheus-source.test.ts has one).
import { describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { parseConfigText } from "../../config/load.js";
import { prometheusSourceSchema } from "./config.js";
import { PrometheusSource, promqlDuration } from "./prometheus-source.js";

const load = (monitor: string) => parseConfigText(`app: shop\nplatform: { kind: command, deploy: "./deploy.sh {slot} {version}", endpoint: "http://shop-{slot}.internal" }\nmonitor: ${monitor}\n`, "/srv/shop/flip.yaml", { env: {} });

describe("monitor.source: prometheus", () => {
  it("reads the source with its defaults", () => {
    const config = load(`{ rules: ["errorRate < 5%"], source: { kind: prometheus, url: "http://127.0.0.1:9090", queries: { errorRate: "sum(x)" } } }`);
    expect(config.monitor.source).toEqual({ kind: "prometheus", url: "http://127.0.0.1:9090", queries: { errorRate: "sum(x)" }, timeout: 10_000, consecutiveErrorLimit: 4 });
  });

  it("needs a query for every metric the rules name, reported at the rule", () => {
    expect(() => load(`{ rules: ["errorRate < 5%", "p99 < 800ms"], source: { kind: prometheus, url: "http://127.0.0.1:9090", queries: { errorRate: "sum(x)" } } }`)).toThrow(
      /monitor\.rules\[1\]: rule "p99 < 800ms" needs a PromQL query for p99: add `p99: "\.\.\."` under monitor\.source\.queries/,
    );
  });

  it("refuses an unknown query name and a URL that is not http", () => {
    expect(() => load(`{ source: { kind: prometheus, url: "http://127.0.0.1:9090", queries: { errorrate: "sum(x)" } } }`)).toThrow(/errorrate/);
    expect(() => load(`{ source: { kind: prometheus, url: "127.0.0.1:9090", queries: { errorRate: "sum(x)" } } }`)).toThrow(/expected an http:\/\/ or https:\/\/ URL/);
  });
});

describe("PrometheusSource templating", () => {
  it("fills {slot}, {version} (escaped for a label value), {app} and {window}", () => {
    const templated = new PrometheusSource(
      prometheusSourceSchema.parse({ kind: "prometheus", url: "http://127.0.0.1:9090", queries: { errorRate: 'x{app="{app}",slot="{slot}",version="{version}"}[{window}]' } }),
      "shop",
      systemClock,
    );
    expect(templated.queryFor("errorRate", "green", { version: 'v2"x', windowMs: 30_000 })).toBe('x{app="shop",slot="green",version="v2\\"x"}[30s]');
    expect(templated.queryFor("p99", "green", { version: "v2", windowMs: 30_000 })).toBeUndefined();
    expect(promqlDuration(1_500)).toBe("1500ms");
    expect(promqlDuration(600_000)).toBe("600s");
  });
});
