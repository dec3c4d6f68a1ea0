// Where the monitor reads a slot's traffic from. A source hands out cumulative counters; the
// monitor's windows are the differences between two reads, so a source keeps no window state.
// A source over an outside metrics system (Prometheus) instead measures each window when asked.
import { subtractCounts } from "../core/histogram.js";
import type { Metric, TrafficWindow } from "../core/rules.js";
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot } from "../routers/router.js";

export interface MetricsSource {
  readonly name: string;
  /** Cumulative counters for the slot now; windows are differences of two reads. */
  read(slot: Slot): Promise<TrafficSnapshot>;
  /**
   * Present on sources that measure each metric of a window themselves (a PromQL query per metric)
   * instead of handing out counters; the monitor then asks this, and never calls read().
   */
  measureWindow?(slot: Slot, window: WindowRequest): Promise<MeasuredWindow>;
  /** After this many windows in a row that measureWindow could not measure, the monitor gives up (rolls back). */
  readonly consecutiveErrorLimit?: number;
}

/** What the monitor asks a measuring source about one window that just ended. */
export interface WindowRequest {
  /** The version that runs in the slot, for queries that name it. */
  version: string | undefined;
  /** The window's length (monitor.interval). */
  windowMs: number;
  /** The metrics the rules name. */
  metrics: readonly Metric[];
}

/** One window as a measuring source saw it. A provider failure is data (`error`), not an exception. */
export interface MeasuredWindow {
  at: number;
  /** Requests in the window, when the source can count them (minRequests applies only then). */
  requests: number | undefined;
  /** In the units rules use: errorRate a fraction, latencies in ms, requestRate per second. */
  values: Partial<Record<Metric, number>>;
  /** Why the window could not be measured (e.g. Prometheus's own error text); it is then not judged. */
  error?: string;
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
