// The reads the dashboard needs beside the engine's views: per-slot traffic of the last minutes
// (GET /api/traffic) and the monitor's settings (GET /api/monitor), so the page can show rules,
// thresholds and time left before the first window is judged. Both are handed in by the
// controller; the engine knows neither.
import type { Hono } from "hono";
import { z } from "zod";
import type { MonitorConfig } from "../config/schema.js";
import { BadRequestError } from "../core/errors.js";
import { parseRule, type Metric, type Operator } from "../core/rules.js";
import type { TrafficSeries, TrafficSeriesQuery } from "../metrics/traffic-history.js";

/** What serves GET /api/traffic (src/metrics/traffic-history.ts). */
export interface TrafficHistoryReader {
  series(query: TrafficSeriesQuery): TrafficSeries;
}

/** The monitor as configured: the rules the running deployment is judged by. */
export interface MonitorSettings {
  durationMs: number;
  intervalMs: number;
  minRequests: number;
  rules: { text: string; metric: Metric; op: Operator; threshold: number }[];
  /** Where the rules' numbers come from: "builtin" (the proxy's counters) or a monitor.source kind. */
  source: string;
}

export interface DashboardReads {
  traffic: TrafficHistoryReader;
  monitor: MonitorSettings;
}

export const MAX_TRAFFIC_SECONDS = 15 * 60;

const trafficQuery = z.strictObject({
  seconds: z.coerce
    .number({ error: "expected a number of seconds" })
    .int("expected a whole number of seconds")
    .min(1, "expected at least 1 second")
    .max(MAX_TRAFFIC_SECONDS, `expected at most ${MAX_TRAFFIC_SECONDS} seconds`)
    .default(MAX_TRAFFIC_SECONDS),
  since: z.coerce.number({ error: "expected a time in ms since the epoch" }).int("expected a whole number of ms").min(0, "expected a time in ms since the epoch").optional(),
});

export function registerDashboardReads(app: Hono, reads: DashboardReads): void {
  app.get("/api/traffic", (c) => {
    const parsed = trafficQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "query"}: ${issue.message}`);
      throw new BadRequestError(`Invalid query: ${problems.join("; ")}.`, `Pass ?seconds=N (1 to ${MAX_TRAFFIC_SECONDS}) and optionally ?since=<ms since the epoch>.`);
    }
    return c.json(reads.traffic.series(parsed.data));
  });
  app.get("/api/monitor", (c) => c.json(reads.monitor));
}

/** The settings as the page shows them, from flip.yaml's monitor section (rules were validated on load). */
export function monitorSettingsOf(monitor: MonitorConfig): MonitorSettings {
  const rules = monitor.rules.flatMap((text) => {
    const parsed = parseRule(text);
    return parsed.ok ? [parsed.rule] : [];
  });
  return { durationMs: monitor.duration, intervalMs: monitor.interval, minRequests: monitor.minRequests, rules, source: monitor.source?.kind ?? "builtin" };
}
