// Where the monitor reads a slot's traffic from. A source hands out cumulative counters; the
// monitor's windows are the differences between two reads, so a source keeps no window state.
import { subtractCounts } from "../core/histogram.js";
import type { TrafficWindow } from "../core/rules.js";
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot } from "../routers/router.js";

export interface MetricsSource {
  readonly name: string;
  /** Cumulative counters for the slot now; windows are differences of two reads. */
  read(slot: Slot): Promise<TrafficSnapshot>;
}

/**
 * The traffic between two reads of the same slot. When any counter went down, the counters were
 * reset in between (the proxy restarted): everything in `later` happened inside the window, so it
 * is the whole window. Never negative.
 */
export function windowBetween(earlier: TrafficSnapshot, later: TrafficSnapshot): TrafficWindow {
  const durationMs = Math.max(0, later.at - earlier.at);
  if (wasReset(earlier, later)) {
    return { requests: later.requests, errors: later.errors, latencyCounts: [...later.latencyCounts], durationMs };
  }
  return {
    requests: later.requests - earlier.requests,
    errors: later.errors - earlier.errors,
    latencyCounts: subtractCounts(later.latencyCounts, earlier.latencyCounts),
    durationMs,
  };
}

function wasReset(earlier: TrafficSnapshot, later: TrafficSnapshot): boolean {
  if (later.requests < earlier.requests || later.errors < earlier.errors) return true;
  // A shorter histogram cannot be subtracted bucket by bucket: start over from `later`.
  if (later.latencyCounts.length < earlier.latencyCounts.length) return true;
  return later.latencyCounts.some((count, i) => count < (earlier.latencyCounts[i] ?? 0));
}
