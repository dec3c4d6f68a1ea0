// `monitor.source: { kind: prometheus }` — the monitor asks Prometheus for each rule's metric.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

const promql = z.string().min(1);

/** One PromQL query per metric the rules name, templated with {slot} {version} {app} {window}. */
const queriesSchema = z.strictObject({
  /** A fraction 0..1 over the window, e.g. 5xx rate / all rate. */
  errorRate: promql.optional(),
  /** Latency quantiles in seconds (Prometheus's unit), e.g. histogram_quantile(0.99, ...). */
  p50: promql.optional(),
  p90: promql.optional(),
  p95: promql.optional(),
  p99: promql.optional(),
  /** Requests per second over the window. */
  requestRate: promql.optional(),
  /** How many requests the window had; without it, minRequests cannot apply and every window is judged. */
  requests: promql.optional(),
});

export const prometheusSourceSchema = z.strictObject({
  kind: z.literal("prometheus"),
  /** Base URL of the Prometheus HTTP API (a path prefix is kept: http://host/prometheus). */
  url: z.string().refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), { message: "expected an http:// or https:// URL, e.g. http://127.0.0.1:9090" }),
  queries: queriesSchema,
  /** The longest one query may take (sent to Prometheus as its own `timeout` too). */
  timeout: durationOr("10s"),
  /** Windows in a row that Prometheus could not answer before the deployment is rolled back. */
  consecutiveErrorLimit: z.number().int().min(1).default(4),
  /** Request headers, e.g. an Authorization header for a hosted Prometheus. */
  headers: z.record(z.string(), z.string()).optional(),
});

export type PrometheusSourceConfig = z.output<typeof prometheusSourceSchema>;
export type PrometheusQueries = PrometheusSourceConfig["queries"];
