// The monitor's source when the router is the built-in proxy: it sees every request, so its own
// per-slot counters are the metrics. A pure adapter over the router's TrafficStats.
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot, TrafficStats } from "../routers/router.js";
import type { MetricsSource } from "./source.js";

export class BuiltinMetricsSource implements MetricsSource {
  readonly name = "builtin";

  constructor(private readonly stats: TrafficStats) {}

  read(slot: Slot): Promise<TrafficSnapshot> {
    const snapshot = this.stats.snapshot(slot);
    // A copy: a window must not change because the proxy kept counting into a shared array.
    return Promise.resolve({ ...snapshot, latencyCounts: [...snapshot.latencyCounts] });
  }
}
