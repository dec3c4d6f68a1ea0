import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { BUCKET_BOUNDS_MS, bucketIndex } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot, TrafficStats } from "../routers/router.js";
import { stepValues, TrafficHistory } from "./traffic-history.js";

/** Cumulative counters a test moves by hand, read through the router's TrafficStats shape. */
class FakeStats implements TrafficStats {
  readonly counters: Record<Slot, { requests: number; errors: number; latency: number[] }> = {
    blue: { requests: 0, errors: 0, latency: new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0) },
    green: { requests: 0, errors: 0, latency: new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0) },
  };
  constructor(private readonly clock: ManualClock) {}

  record(slot: Slot, count: number, latencyMs: number, errors = 0): void {
    const counter = this.counters[slot];
    counter.requests += count;
    counter.errors += errors;
    counter.latency[bucketIndex(latencyMs)]! += count;
  }

  snapshot(slot: Slot): TrafficSnapshot {
    const counter = this.counters[slot];
    return { at: this.clock.now(), requests: counter.requests, errors: counter.errors, inFlight: 0, latencyCounts: [...counter.latency] };
  }
}

function setup(options: { keepSeconds?: number } = {}) {
  const clock = new ManualClock();
  const stats = new FakeStats(clock);
  const history = new TrafficHistory({ clock, stats: () => stats, versionOf: (slot) => (slot === "green" ? "v2" : "v1"), ...options });
  return { clock, stats, history };
}

describe("TrafficHistory", () => {
  it("records per-second rates, error rates and p99 from the differences of cumulative counters", async () => {
    const { clock, stats, history } = setup();
    history.start(); // baseline
    stats.record("blue", 50, 10);
    stats.record("blue", 10, 200, 5); // the slowest 10 of 60 requests, half of them failing
    await clock.advance(1000);
    stats.record("blue", 20, 10);
    await clock.advance(1000);
    history.stop();

    const series = history.series({ seconds: 900 });
    expect(series.available).toBe(true);
    expect(series.times).toEqual([clock.now() - 1000, clock.now()]);
    expect(series.slots.blue.requestRate).toEqual([60, 20]);
    expect(series.slots.blue.errorRate).toEqual([0.0833, 0]);
    expect(series.slots.blue.p99Ms[0]).toBeGreaterThan(180);
    expect(series.slots.blue.p99Ms[1]).toBeLessThan(11);
    // A slot without requests has a rate of 0 and no error rate or latency to speak of.
    expect(series.slots.green).toEqual({ requestRate: [0, 0], errorRate: [null, null], p99Ms: [null, null] });
  });

  it("keeps only the last minutes, and answers only what is newer than `since`", async () => {
    const { clock, stats, history } = setup({ keepSeconds: 5 });
    history.start();
    for (let second = 0; second < 8; second++) {
      stats.record("green", 1, 1);
      await clock.advance(1000);
    }
    history.stop();
    const all = history.series({ seconds: 900 });
    expect(all.times).toHaveLength(5);
    expect(all.times.at(-1)).toBe(clock.now());

    const recent = history.series({ seconds: 900, since: clock.now() - 2000 });
    expect(recent.times).toEqual([clock.now() - 1000, clock.now()]);
    expect(recent.slots.green.requestRate).toEqual([1, 1]);
    expect(history.series({ seconds: 3 }).times).toHaveLength(3);
  });

  it("stops sampling when stopped", async () => {
    const { clock, history } = setup();
    history.start();
    await clock.advance(2000);
    history.stop();
    await clock.advance(5000);
    expect(history.series({ seconds: 900 }).times).toHaveLength(2);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("marks the moments traffic switched, with the version it moved to", async () => {
    const { clock, history } = setup({ keepSeconds: 10 });
    history.onRouterEvent({ type: "switched", from: undefined, to: "blue", at: clock.now() });
    history.onRouterEvent({ type: "drained", slot: "blue", remaining: 0, timedOut: false });
    await clock.advance(20_000);
    history.onRouterEvent({ type: "switched", from: "blue", to: "green", at: clock.now() });
    expect(history.series({ seconds: 900 }).switches).toEqual([{ at: clock.now(), from: "blue", to: "green", version: "v2" }]);
  });

  it("is empty and says so when the router does not see traffic", () => {
    const clock = new ManualClock();
    const history = new TrafficHistory({ clock, stats: () => undefined });
    history.start();
    expect(clock.pendingSleeps).toBe(0);
    const series = history.series({ seconds: 900 });
    expect(series).toMatchObject({ available: false, times: [], slots: { blue: { requestRate: [] }, green: { requestRate: [] } } });
  });

  it("samples counters read asynchronously (HAProxy's stats, an access log); a failed read leaves a gap", async () => {
    const clock = new ManualClock();
    const stats = new FakeStats(clock);
    let failNext = false;
    const reader = {
      snapshot: async (slot: Slot) => {
        await Promise.resolve();
        if (failNext) throw new Error("runtime API unreachable");
        return stats.snapshot(slot);
      },
    };
    const history = new TrafficHistory({ clock, stats: () => reader });
    /** Lets a read in progress finish (its promise chain takes a few turns). */
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    history.start();
    await settle();
    stats.record("green", 5, 2, 1);
    await clock.advance(1000);
    await settle();
    failNext = true;
    stats.record("green", 5, 2);
    await clock.advance(1000);
    await settle();
    failNext = false;
    stats.record("green", 5, 2);
    await clock.advance(1000);
    await settle();
    history.stop();
    const series = history.series({ seconds: 900 });
    expect(series.times).toEqual([clock.now() - 2000, clock.now()]);
    // The step after the gap spans it: 10 requests over the two seconds since the last good read.
    expect(series.slots.green.requestRate).toEqual([5, 5]);
    expect(series.slots.green.errorRate).toEqual([0.2, 0]);
  });

  it("counts from zero when the counters went backwards (a new router)", () => {
    const at = 0;
    const counts = new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0);
    const later = { at: at + 1000, requests: 3, errors: 1, inFlight: 0, latencyCounts: counts };
    expect(stepValues({ at, requests: 100, errors: 10, inFlight: 0, latencyCounts: counts }, later)).toMatchObject({ requestRate: 3, errorRate: 0.3333 });
  });
});
