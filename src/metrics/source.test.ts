import { describe, expect, it } from "vitest";
import { LatencyHistogram, quantileMs } from "../core/histogram.js";
import type { TrafficSnapshot } from "../routers/router.js";
import { windowBetween } from "./source.js";

function snapshot(at: number, requests: number, errors: number, latenciesMs: number[]): TrafficSnapshot {
  const histogram = new LatencyHistogram();
  for (const ms of latenciesMs) histogram.record(ms);
  return { at, requests, errors, inFlight: 0, latencyCounts: histogram.snapshot() };
}

describe("windowBetween", () => {
  it("is the difference of two cumulative reads", () => {
    const earlier = snapshot(1_000, 100, 2, Array(100).fill(10));
    const later = snapshot(11_000, 150, 7, [...Array(100).fill(10), ...Array(50).fill(400)]);
    const window = windowBetween(earlier, later);
    expect(window).toMatchObject({ requests: 50, errors: 5, durationMs: 10_000 });
    expect(window.latencyCounts.reduce((sum, c) => sum + c, 0)).toBe(50);
    // Only the window's requests count: all of them took 400ms, none 10ms.
    expect(quantileMs(window.latencyCounts, 0.5)).toBeGreaterThan(360);
  });

  it("is empty, not negative, when nothing happened", () => {
    const read = snapshot(5_000, 10, 1, Array(10).fill(3));
    const window = windowBetween(read, { ...read, at: 6_000 });
    expect(window).toMatchObject({ requests: 0, errors: 0, durationMs: 1_000 });
    expect(window.latencyCounts.every((c) => c === 0)).toBe(true);
  });

  it("treats a counter reset (the proxy restarted) as the later read being the whole window", () => {
    const earlier = snapshot(1_000, 1_000, 50, Array(1_000).fill(10));
    const later = snapshot(11_000, 30, 3, Array(30).fill(20));
    const window = windowBetween(earlier, later);
    expect(window).toMatchObject({ requests: 30, errors: 3, durationMs: 10_000 });
    expect(window.latencyCounts).toEqual(later.latencyCounts);
    expect(window.latencyCounts.every((c) => c >= 0)).toBe(true);
  });

  it("notices a reset seen only in the histogram", () => {
    const earlier = snapshot(0, 10, 0, Array(10).fill(5));
    // Same totals, but the buckets went down: the histogram was reset and refilled.
    const later = snapshot(1_000, 10, 0, Array(10).fill(500));
    const window = windowBetween(earlier, later);
    expect(window.latencyCounts).toEqual(later.latencyCounts);
    expect(window.latencyCounts.every((c) => c >= 0)).toBe(true);
  });

  it("never reports a negative duration", () => {
    const read = snapshot(5_000, 1, 0, [1]);
    expect(windowBetween(read, { ...read, at: 4_000 }).durationMs).toBe(0);
  });
});
