import { describe, expect, it } from "vitest";
import { BUCKET_BOUNDS_MS, LatencyHistogram, bucketIndex, quantileMs, subtractCounts } from "./histogram.js";

/** The exact q-quantile of a sorted sample, for comparison. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

function histogramOf(values: number[]): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const value of values) histogram.record(value);
  return histogram;
}

/** A small deterministic generator, so the distributions are the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("LatencyHistogram quantiles", () => {
  const next = random(42);
  const distributions: Record<string, number[]> = {
    "uniform 1..1000ms": Array.from({ length: 10_000 }, (_, i) => 1 + (i * 999) / 9_999),
    "exponential, mean 50ms": Array.from({ length: 10_000 }, () => -50 * Math.log(1 - next())),
    "bimodal 5ms / 800ms (2%)": Array.from({ length: 10_000 }, (_, i) => (i % 50 === 0 ? 800 + next() * 50 : 5 + next())),
    "sub-millisecond": Array.from({ length: 1_000 }, () => 0.1 + next() * 0.4),
  };

  for (const [name, values] of Object.entries(distributions)) {
    it(`estimates p50, p90, p99 of ${name} within 10%`, () => {
      const sorted = [...values].sort((a, b) => a - b);
      const counts = histogramOf(values).snapshot();
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = exactQuantile(sorted, q);
        const estimate = quantileMs(counts, q) as number;
        expect(Math.abs(estimate - exact) / exact, `q=${q}: estimate ${estimate} vs exact ${exact}`).toBeLessThan(0.1);
      }
    });
  }

  it("counts every observation once, including the very small and the very large", () => {
    const histogram = histogramOf([0, -1, 0.01, 3, 10_000, 500_000]);
    expect(histogram.total).toBe(6);
    expect(histogram.snapshot().reduce((sum, c) => sum + c, 0)).toBe(6);
    expect(histogram.counts[0]).toBe(3);
    expect(histogram.counts[BUCKET_BOUNDS_MS.length]).toBe(1);
  });

  it("puts a value in the bucket whose bounds hold it", () => {
    for (const ms of [0.07, 1, 12.3, 999, 45_000]) {
      const index = bucketIndex(ms);
      expect(ms).toBeLessThanOrEqual((BUCKET_BOUNDS_MS[index] as number) * (1 + 1e-9));
      expect(ms).toBeGreaterThan((BUCKET_BOUNDS_MS[index - 1] as number) * (1 - 1e-9));
    }
  });

  it("has no quantile for an empty window", () => {
    expect(quantileMs(new LatencyHistogram().snapshot(), 0.99)).toBeUndefined();
  });
});

describe("subtractCounts", () => {
  it("leaves only what was recorded between two snapshots", () => {
    const histogram = histogramOf(Array(100).fill(10));
    const earlier = histogram.snapshot();
    for (let i = 0; i < 50; i++) histogram.record(300);
    const window = subtractCounts(histogram.snapshot(), earlier);
    expect(window.reduce((sum, c) => sum + c, 0)).toBe(50);
    expect(window[bucketIndex(10)]).toBe(0);
    expect(window[bucketIndex(300)]).toBe(50);
    const p50 = quantileMs(window, 0.5) as number;
    expect(Math.abs(p50 - 300) / 300).toBeLessThan(0.1);
  });

  it("treats a missing earlier bucket as zero", () => {
    expect(subtractCounts([3, 2, 1], [1])).toEqual([2, 2, 1]);
  });
});
