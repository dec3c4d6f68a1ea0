import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import type { TrafficSnapshot, TrafficStats } from "../routers/router.js";
import { BuiltinMetricsSource } from "./builtin-source.js";
import { windowBetween } from "./source.js";

/** A stand-in for the proxy's counters: the source is a pure adapter, so a plain object will do. */
class FakeStats implements TrafficStats {
  now = 0;
  readonly counters: Record<Slot, { requests: number; errors: number; histogram: LatencyHistogram }> = {
    blue: { requests: 0, errors: 0, histogram: new LatencyHistogram() },
    green: { requests: 0, errors: 0, histogram: new LatencyHistogram() },
  };

  serve(slot: Slot, latencyMs: number, status: number): void {
    const counter = this.counters[slot];
    counter.requests += 1;
    if (status >= 500) counter.errors += 1;
    counter.histogram.record(latencyMs);
  }

  snapshot(slot: Slot): TrafficSnapshot {
    const counter = this.counters[slot];
    // Hands out its live array on purpose: the source must copy it.
    return { at: this.now, requests: counter.requests, errors: counter.errors, inFlight: 0, latencyCounts: counter.histogram.counts as unknown as number[] };
  }
}

describe("BuiltinMetricsSource", () => {
  it("reads the router's counters per slot", async () => {
    const stats = new FakeStats();
    const source = new BuiltinMetricsSource(stats);
    expect(source.name).toBe("builtin");
    stats.serve("green", 12, 200);
    stats.serve("green", 15, 503);
    stats.serve("blue", 3, 200);
    stats.now = 42;
    const green = await source.read("green");
    expect(green).toMatchObject({ at: 42, requests: 2, errors: 1, inFlight: 0 });
    expect(green.latencyCounts.reduce((sum, c) => sum + c, 0)).toBe(2);
    expect((await source.read("blue")).requests).toBe(1);
  });

  it("gives windows that do not change as the proxy keeps counting", async () => {
    const stats = new FakeStats();
    const source = new BuiltinMetricsSource(stats);
    const first = await source.read("blue");
    for (let i = 0; i < 20; i++) stats.serve("blue", 8, i < 5 ? 500 : 200);
    stats.now = 10_000;
    const second = await source.read("blue");
    stats.serve("blue", 8, 500);
    const window = windowBetween(first, second);
    expect(window).toMatchObject({ requests: 20, errors: 5, durationMs: 10_000 });
    expect(window.latencyCounts.reduce((sum, c) => sum + c, 0)).toBe(20);
    expect(first.latencyCounts.every((c) => c === 0)).toBe(true);
  });
});
