// Per-slot traffic counters of the proxy: what the monitor judges a new version by. Cumulative since
// the proxy started; a monitor window is the difference of two snapshots. Preview traffic is never
// recorded here, so people poking at the idle slot cannot sway a verdict.
import type { Clock } from "../core/clock.js";
import { LatencyHistogram } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot, TrafficStats } from "../routers/router.js";

/** How one request through the proxy ended. */
export interface ExchangeOutcome {
  /** The status the client got (or was getting): 499 when the client went away first. */
  status: number;
  /** An upstream 5xx, a proxy-made 502/504, or a response cut short after its headers left. */
  failed: boolean;
  /** From the moment the proxy received the request to the end of the response. */
  latencyMs: number;
}

export class SlotTraffic {
  requests = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();

  record(outcome: ExchangeOutcome): void {
    this.requests += 1;
    if (outcome.failed) this.errors += 1;
    this.latency.record(outcome.latencyMs);
  }
}

export class ProxyTraffic implements TrafficStats {
  private readonly slots: Record<Slot, SlotTraffic> = { blue: new SlotTraffic(), green: new SlotTraffic() };

  constructor(
    private readonly clock: Clock,
    /** In-flight counts live with the requests themselves (the drain needs them too). */
    private readonly inFlight: (slot: Slot) => number,
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
}
