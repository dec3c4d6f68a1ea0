// Picks where the monitor reads traffic from. Today: the router itself when it sees the traffic
// (the built-in proxy). Later sources (prometheus, http-json, command) are chosen by config here.
import type { FlipConfig } from "../config/schema.js";
import type { Router } from "../routers/router.js";
import { BuiltinMetricsSource } from "./builtin-source.js";
import type { MetricsSource } from "./source.js";

export function createMetricsSource(_config: FlipConfig, router: Router): MetricsSource | undefined {
  return router.traffic ? new BuiltinMetricsSource(router.traffic) : undefined;
}
