// Traffic counters of the proxy, per slot and per replica. Per slot they are what the monitor judges
// a new version by (cumulative since the proxy started; a monitor window is the difference of two
// snapshots); both feed /metrics. Recording runs once per request on the hot path, so it is a few
// increments of plain numbers and preallocated arrays: no lookup by name, no allocation. Preview
// traffic is never recorded here, so people poking at the idle slot cannot sway a verdict.
import type { Clock } from "../core/clock.js";
import { BUCKET_BOUNDS_MS, bucketIndex, LatencyHistogram } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import type { SlotTrafficCounts, StatusClass, TrafficCounts, TrafficSnapshot, TrafficStats, UpstreamErrorKind } from "../routers/router.js";

/** How one request through the proxy ended. */
export interface ExchangeOutcome {
  /** The status the client got (or was getting): 499 when the client went away first. */
  status: number;
  /** An upstream 5xx, a proxy-made 502/504, or a response cut short after its headers left. */
  failed: boolean;
  /** From the moment the proxy received the request to the end of the response. */
  latencyMs: number;
  /** Set when the upstream failed (the proxy answered 502/504 itself, or the answer broke off). */
  upstreamError: UpstreamErrorKind | undefined;
}

const STATUS_CLASSES: readonly StatusClass[] = ["1xx", "2xx", "3xx", "4xx", "5xx", "499"];
const CLIENT_GONE_STATUS = 499;
const CLIENT_GONE_CLASS = STATUS_CLASSES.indexOf("499");
const SERVER_ERROR_CLASS = STATUS_CLASSES.indexOf("5xx");
const UPSTREAM_ERROR_KINDS: readonly UpstreamErrorKind[] = ["connect", "timeout", "reset", "other"];

/** Index into STATUS_CLASSES. A status outside 100..599 is no valid answer, so it counts as 5xx. */
export function statusClassIndex(status: number): number {
  if (status === CLIENT_GONE_STATUS) return CLIENT_GONE_CLASS;
  const digit = Math.trunc(status / 100);
  return digit >= 1 && digit <= 5 ? digit - 1 : SERVER_ERROR_CLASS;
}

/**
 * Bounds of the duration histogram /metrics shows, in ms: the round numbers Prometheus users expect,
 * far coarser than the monitor's log-spaced buckets (core/histogram.ts), whose ~130 buckets per
 * series would be too many to scrape.
 */
export const DURATION_BOUNDS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000];
const DURATION_BOUNDS_SECONDS: readonly number[] = DURATION_BOUNDS_MS.map((ms) => ms / 1000);

/**
 * For each fine bucket of core/histogram.ts, how many coarse bounds lie at or below its lower edge.
 * Fine buckets are 10% wide and coarse bounds at least 2× apart, so at most one coarse bound falls
 * inside a fine bucket and one comparison settles the coarse bucket: the hot path computes the fine
 * index once and gets the coarse one almost for free.
 */
const COARSE_BELOW_FINE: readonly number[] = (() => {
  const table: number[] = [];
  for (let fine = 0; fine <= BUCKET_BOUNDS_MS.length; fine++) {
    const lower = fine === 0 ? 0 : (BUCKET_BOUNDS_MS[fine - 1] as number);
    const upper = BUCKET_BOUNDS_MS[fine] ?? Number.POSITIVE_INFINITY;
    const below = DURATION_BOUNDS_MS.filter((bound) => bound <= lower).length;
    const inside = DURATION_BOUNDS_MS.filter((bound) => bound > lower && bound <= upper).length;
    if (inside > 1) throw new Error(`duration bounds are closer together than one latency bucket (${lower}..${upper} ms)`);
    table.push(below);
  }
  return table;
})();

/** Index into the coarse duration buckets of `ms`, which falls into fine bucket `fine`. */
export function coarseBucketIndex(fine: number, ms: number): number {
  const below = COARSE_BELOW_FINE[fine] as number;
  return below < DURATION_BOUNDS_MS.length && ms > (DURATION_BOUNDS_MS[below] as number) ? below + 1 : below;
}

function recordOf<K extends string>(keys: readonly K[], values: Float64Array): Record<K, number> {
  const record = {} as Record<K, number>;
  keys.forEach((key, i) => {
    record[key] = values[i] ?? 0;
  });
  return record;
}

/** The counters of one slot or one replica, allocated once. */
export class TrafficCounters {
  requests = 0;
  /** What the monitor calls errors: see ExchangeOutcome.failed. */
  errors = 0;
  /** Indexed like STATUS_CLASSES. */
  readonly responses = new Float64Array(STATUS_CLASSES.length);
  /** Indexed like UPSTREAM_ERROR_KINDS. */
  readonly upstreamErrors = new Float64Array(UPSTREAM_ERROR_KINDS.length);
  /** Indexed like DURATION_BOUNDS_MS, plus one bucket above the last bound. */
  readonly durations = new Float64Array(DURATION_BOUNDS_MS.length + 1);
  durationSumMs = 0;

  /** One finished request; the caller works out its status class and duration bucket once for slot and replica. */
  count(outcome: ExchangeOutcome, statusClass: number, durationBucket: number): void {
    this.requests += 1;
    if (outcome.failed) this.errors += 1;
    this.responses[statusClass]! += 1;
    if (outcome.upstreamError !== undefined) this.upstreamErrors[UPSTREAM_ERROR_KINDS.indexOf(outcome.upstreamError)]! += 1;
    this.durations[durationBucket]! += 1;
    this.durationSumMs += outcome.latencyMs;
  }

  /** A copy as plain data (at scrape time, never per request). */
  toCounts(inFlight: number): TrafficCounts {
    return {
      requests: this.requests,
      responses: recordOf(STATUS_CLASSES, this.responses),
      upstreamErrors: recordOf(UPSTREAM_ERROR_KINDS, this.upstreamErrors),
      inFlight,
      duration: { boundsSeconds: DURATION_BOUNDS_SECONDS, counts: Array.from(this.durations), sumSeconds: this.durationSumMs / 1000 },
    };
  }
}

/** One replica's counters; its Upstream owns them, so they live and go with the replica. */
export class ReplicaTraffic extends TrafficCounters {
  inFlight = 0;

  /** A request was handed to this replica; the slot's record() counts it out again. */
  begin(): void {
    this.inFlight += 1;
  }

  /**
   * The request could not reach this replica and went to `next` instead (see ReplicaAttempt): the
   * failure is this replica's, the request and its outcome are `next`'s.
   */
  handOver(next: ReplicaTraffic, kind: UpstreamErrorKind): void {
    this.inFlight -= 1;
    this.upstreamErrors[UPSTREAM_ERROR_KINDS.indexOf(kind)]! += 1;
    next.inFlight += 1;
  }
}

export class SlotTraffic extends TrafficCounters {
  /** The monitor's fine-grained latency buckets (percentiles per window). */
  readonly latency = new LatencyHistogram();

  /** One finished request of this slot, and of the `replica` it ended on (after its begin() or handOver()). */
  record(outcome: ExchangeOutcome, replica?: ReplicaTraffic): void {
    const ms = outcome.latencyMs;
    const fine = bucketIndex(ms);
    const durationBucket = coarseBucketIndex(fine, ms);
    const statusClass = statusClassIndex(outcome.status);
    this.latency.recordBucket(fine);
    this.count(outcome, statusClass, durationBucket);
    if (replica === undefined) return;
    replica.inFlight -= 1;
    replica.count(outcome, statusClass, durationBucket);
  }
}

/** What the proxy tells ProxyTraffic about a slot's replicas: each one's address and counters. */
export interface CountedReplica {
  readonly url: string;
  readonly traffic: ReplicaTraffic;
}

export class ProxyTraffic implements TrafficStats {
  private readonly slots: Record<Slot, SlotTraffic> = { blue: new SlotTraffic(), green: new SlotTraffic() };

  constructor(
    private readonly clock: Clock,
    /** In-flight counts live with the requests themselves (the drain needs them too). */
    private readonly inFlight: (slot: Slot) => number,
    /** The replicas a slot has now. */
    private readonly replicasOf: (slot: Slot) => readonly CountedReplica[] = () => [],
  ) {}

  of(slot: Slot): SlotTraffic {
    return this.slots[slot];
  }

  snapshot(slot: Slot): TrafficSnapshot {
    const traffic = this.slots[slot];
    return {
      at: this.clock.now(),
      requests: traffic.requests,
      errors: traffic.errors,
      inFlight: this.inFlight(slot),
      latencyCounts: traffic.latency.snapshot(),
    };
  }

  counts(slot: Slot): SlotTrafficCounts {
    const replicas = this.replicasOf(slot).map((replica) => ({ replica: replica.url, ...replica.traffic.toCounts(replica.traffic.inFlight) }));
    return { ...this.slots[slot].toCounts(this.inFlight(slot)), replicas };
  }
}
