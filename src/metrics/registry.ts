// Picks where the monitor reads traffic from: `monitor.source` when the config names one (prometheus),
// else the router itself when it sees the traffic (the built-in proxy) or can count it (HAProxy's
// stats: requests and errors, no latency), else none (monitoring skipped).
import { systemClock, type Clock } from "../core/clock.js";
import type { FlipConfig } from "../config/schema.js";
import type { Router } from "../routers/router.js";
import { BuiltinMetricsSource } from "./builtin-source.js";
import { PrometheusSource } from "./prometheus-source/prometheus-source.js";
import type { MetricsSource } from "./source.js";

export function createMetricsSource(config: FlipConfig, router: Router, clock: Clock = systemClock): MetricsSource | undefined {
  const configured = config.monitor.source;
  if (configured?.kind === "prometheus") return new PrometheusSource(configured, config.app, clock);
  if (router.traffic) return new BuiltinMetricsSource(router.traffic);
  const readTraffic = router.readTraffic?.bind(router);
  return readTraffic ? { name: router.kind, read: readTraffic } : undefined;
}
