// Every monitor source's config section (`monitor.source`), keyed by `kind`. Absent: the router's own
// counters (the built-in proxy). Adding a source = one line here and one in registry.ts.
import { z } from "zod";
import { prometheusSourceSchema } from "./prometheus-source/config.js";

export const metricsSourceConfigSchema = z.discriminatedUnion("kind", [prometheusSourceSchema]);
export type MetricsSourceConfig = z.output<typeof metricsSourceConfigSchema>;
