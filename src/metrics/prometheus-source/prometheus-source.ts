// The monitor's source for apps whose traffic Flip does not see itself (Kubernetes, a load balancer,
// DNS): each window, one PromQL instant query per metric the rules name, templated with the slot,
// the version and the window's length, asked of the user's Prometheus. Answers are turned into the
// units rules use (latencies: seconds → ms). Failures are recorded windows, not exceptions.
import type { Clock } from "../../core/clock.js";
import { UnsupportedError } from "../../core/errors.js";
import type { Metric } from "../../core/rules.js";
import type { Slot } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";
import type { TrafficSnapshot } from "../../routers/router.js";
import type { MeasuredWindow, MetricsSource, WindowRequest } from "../source.js";
import type { PrometheusQueries, PrometheusSourceConfig } from "./config.js";
import { instantQuery } from "./prometheus-api.js";

type QueryName = keyof PrometheusQueries;

/** Prometheus measures latency in seconds; rules hold milliseconds. */
const TO_RULE_UNITS: Record<QueryName, number> = { errorRate: 1, p50: 1000, p90: 1000, p95: 1000, p99: 1000, requestRate: 1, requests: 1 };

export class PrometheusSource implements MetricsSource {
  readonly name = "prometheus";
  readonly consecutiveErrorLimit: number;

  constructor(
    private readonly config: PrometheusSourceConfig,
    private readonly app: string,
    private readonly clock: Clock,
  ) {
    this.consecutiveErrorLimit = config.consecutiveErrorLimit;
  }

  /** Prometheus answers questions about windows; it has no counters since Flip started to hand out. */
  read(): Promise<TrafficSnapshot> {
    return Promise.reject(new UnsupportedError("cumulative counters (the monitor asks it for each window instead)", "The prometheus monitor source"));
  }

  /** The exact PromQL sent for a metric (undefined when no query is configured for it). */
  queryFor(name: QueryName, slot: Slot, window: Pick<WindowRequest, "version" | "windowMs">): string | undefined {
    const template = this.config.queries[name];
    if (template === undefined) return undefined;
    const vars = { slot, app: this.app, window: promqlDuration(window.windowMs), ...(window.version === undefined ? {} : { version: promqlStringSafe(window.version) }) };
    return renderTemplate(template, vars);
  }

  async measureWindow(slot: Slot, window: WindowRequest): Promise<MeasuredWindow> {
    const names: QueryName[] = [...window.metrics, ...(this.config.queries.requests === undefined ? [] : ["requests" as const])];
    const asked = await Promise.all(
      names.map(async (name) => {
        const query = this.queryFor(name, slot, window);
        if (query === undefined) return { name, answer: { ok: false as const, error: `no query for ${name} in monitor.source.queries` } };
        return { name, answer: await instantQuery(this.config.url, query, { timeoutMs: this.config.timeout, headers: this.config.headers }) };
      }),
    );
    const at = this.clock.now();
    const errors = asked.flatMap(({ name, answer }) => (answer.ok ? [] : [`${name}: ${answer.error}`]));
    if (errors.length > 0) return { at, requests: undefined, values: {}, error: errors.join("; ") };
    const values: Partial<Record<Metric, number>> = {};
    let requests: number | undefined;
    for (const { name, answer } of asked) {
      if (!answer.ok || answer.value === undefined) continue;
      const value = answer.value * TO_RULE_UNITS[name];
      if (name === "requests") requests = Math.round(value);
      else values[name] = value;
    }
    // No sample at all for `requests` means no traffic was recorded in the window: zero, not unknown.
    if (this.config.queries.requests !== undefined && requests === undefined) requests = 0;
    return { at, requests, values };
  }
}

/** A PromQL duration for {window}: 30000 → "30s", 1500 → "1500ms". */
export function promqlDuration(ms: number): string {
  const whole = Math.max(1, Math.round(ms));
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** {version} lands inside a double-quoted label value: keep a quote or backslash in it from ending it. */
function promqlStringSafe(value: string): string {
  return value.replace(/[\\"]/g, (char) => `\\${char}`);
}
