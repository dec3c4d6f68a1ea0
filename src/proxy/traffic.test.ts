import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { BUCKET_BOUNDS_MS, bucketIndex } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import { coarseBucketIndex, DURATION_BOUNDS_MS, ProxyTraffic, ReplicaTraffic, statusClassIndex, type ExchangeOutcome } from "./traffic.js";

function outcome(status: number, latencyMs: number, extra: Partial<ExchangeOutcome> = {}): ExchangeOutcome {
  return { status, failed: status >= 500, latencyMs, upstreamError: undefined, ...extra };
}

/** The obvious way: the first bound at or above ms. */
function linearCoarseIndex(ms: number): number {
  const index = DURATION_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? DURATION_BOUNDS_MS.length : index;
}

describe("traffic counters", () => {
  it("puts every duration in the same coarse bucket as a plain scan would, bounds and their neighbours included", () => {
    const samples = [0, 0.01, 0.05, 0.3, 123_456, 1e9];
    for (const bound of [...DURATION_BOUNDS_MS, ...BUCKET_BOUNDS_MS]) samples.push(bound, bound * (1 - 1e-7), bound * (1 + 1e-7), bound * 1.05);
    for (let ms = 0.001; ms < 200_000; ms *= 1.013) samples.push(ms);
    for (const ms of samples) {
      expect(coarseBucketIndex(bucketIndex(ms), ms), `${ms} ms`).toBe(linearCoarseIndex(ms));
    }
  });

  it("classes statuses by first digit, with 499 apart and nonsense as 5xx", () => {
    const classOf = (status: number) => ["1xx", "2xx", "3xx", "4xx", "5xx", "499"][statusClassIndex(status)];
    expect([101, 200, 204, 302, 404, 498, 499, 500, 504].map(classOf)).toEqual(["1xx", "2xx", "2xx", "3xx", "4xx", "4xx", "499", "5xx", "5xx"]);
    expect([0, 99, 600].map(classOf)).toEqual(["5xx", "5xx", "5xx"]);
  });

  it("counts a request once for its slot and once for its replica, and keeps the monitor's snapshot", () => {
    const replicas: Record<Slot, { url: string; traffic: ReplicaTraffic }[]> = {
      blue: [
        { url: "http://a", traffic: new ReplicaTraffic() },
        { url: "http://b", traffic: new ReplicaTraffic() },
      ],
      green: [],
    };
    const traffic = new ProxyTraffic(new ManualClock(5), () => 7, (slot) => replicas[slot]);
    const [a, b] = replicas.blue.map((replica) => replica.traffic) as [ReplicaTraffic, ReplicaTraffic];
    const blue = traffic.of("blue");
    for (const replica of [a, a, b, b]) replica.begin();
    blue.record(outcome(200, 0.7), a);
    blue.record(outcome(499, 3), a);
    blue.record(outcome(502, 20, { upstreamError: "connect" }), b);
    blue.record(outcome(503, 0)); // no replica to send it to
    b.begin();

    expect(traffic.snapshot("blue")).toMatchObject({ at: 5, requests: 4, errors: 2, inFlight: 7 });
    expect(traffic.snapshot("blue").latencyCounts.reduce((sum, n) => sum + n, 0)).toBe(4);

    const counts = traffic.counts("blue");
    expect(counts).toMatchObject({
      requests: 4,
      inFlight: 7,
      responses: { "1xx": 0, "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 2, "499": 1 },
      upstreamErrors: { connect: 1, timeout: 0, reset: 0, other: 0 },
    });
    expect(counts.duration.sumSeconds).toBeCloseTo(0.0237, 9);
    // 0 ms and 0.7 ms, 3 ms, 20 ms: buckets ≤0.5, ≤1, ≤5, ≤25.
    expect(counts.duration.counts.slice(0, 6)).toEqual([1, 1, 0, 1, 0, 1]);
    expect(counts.replicas).toHaveLength(2);
    expect(counts.replicas[0]).toMatchObject({ replica: "http://a", requests: 2, inFlight: 0, responses: { "2xx": 1, "499": 1 } });
    expect(counts.replicas[1]).toMatchObject({ replica: "http://b", requests: 1, inFlight: 2, upstreamErrors: { connect: 1 } });
    expect(traffic.counts("green")).toMatchObject({ requests: 0, replicas: [] });
  });
});
