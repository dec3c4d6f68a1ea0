// GET /metrics: the Prometheus exposition, on the control listener. Open like the other reads (the
// control API listens on loopback by default). The API knows only "something that renders text";
// the controller builds it from the router and the store (src/metrics/prometheus-exporter.ts).
import type { Hono } from "hono";

export interface MetricsExposition {
  /** The Content-Type of render()'s text, e.g. the Prometheus text format 0.0.4. */
  readonly contentType: string;
  render(): Promise<string>;
}

export function registerMetricsRoute(app: Hono, metrics: MetricsExposition): void {
  app.get("/metrics", async (c) => c.body(await metrics.render(), 200, { "content-type": metrics.contentType }));
}
