import { describe, expect, it } from "vitest";
import { loadArgs, parseAutocannonJson, parseWrkCount, parseWrkOutput, parseWrkTime } from "./wrk.js";

// Real wrk 4.1 output (Debian), one clean run and one with errors.
const clean = `Running 2s test @ http://127.0.0.1:18181/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.85ms    0.88ms  12.17ms   91.68%
    Req/Sec    42.86k    15.67k   66.71k    55.00%
  Latency Distribution
     50%  824.00us
     75%    0.96ms
     90%    1.45ms
     99%    4.45ms
  170603 requests in 2.01s, 24.40MB read
Requests/sec:  85010.13
Transfer/sec:     12.16MB
`;

const withErrors = `Running 10s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.20ms   1.02s    95.00%
    Req/Sec    15.20k     1.10k   17.00k    70.00%
  Latency Distribution
     50%    1.90ms
     75%    2.30ms
     90%    2.80ms
     99%    1.02s
  302000 requests in 1.00m, 40.10MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  30150.50
Transfer/sec:      4.00MB
`;

describe("wrk output", () => {
  it("reads throughput, the request total and the latency percentiles in milliseconds", () => {
    expect(parseWrkOutput(clean)).toEqual({
      requests: 170603,
      durationSeconds: 2.01,
      requestsPerSecond: 85010.13,
      p50Ms: 0.824,
      p99Ms: 4.45,
      non2xx: 0,
      socketErrors: 0,
    });
  });

  it("adds up the socket errors and reads the non-2xx count and second/minute units", () => {
    const result = parseWrkOutput(withErrors);
    expect(result.socketErrors).toBe(10);
    expect(result.non2xx).toBe(12);
    expect(result.p99Ms).toBe(1020);
    expect(result.durationSeconds).toBe(60);
  });

  it("refuses output without a latency distribution (wrk run without --latency)", () => {
    const noLatency = clean.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, "");
    expect(() => parseWrkOutput(noLatency)).toThrow(/50% latency/);
  });

  it("parses wrk's units and suffixes", () => {
    expect(parseWrkTime("824.00us")).toBeCloseTo(0.824);
    expect(parseWrkTime("2.00s")).toBe(2000);
    expect(parseWrkCount("42.86k")).toBeCloseTo(42860);
    expect(parseWrkCount("1.5M")).toBe(1_500_000);
    expect(() => parseWrkTime("12 parsecs")).toThrow();
  });
});

describe("autocannon output", () => {
  it("takes throughput from the total over the duration, not the per-second average", () => {
    const json = JSON.stringify({
      duration: 10.02,
      latency: { p50: 1, p99: 7, average: 1.2 },
      requests: { total: 200400, average: 19000 },
      non2xx: 3,
      errors: 1,
      timeouts: 2,
    });
    expect(parseAutocannonJson(json)).toEqual({
      requests: 200400,
      durationSeconds: 10.02,
      requestsPerSecond: 20000,
      p50Ms: 1,
      p99Ms: 7,
      non2xx: 3,
      socketErrors: 3,
    });
  });
});

describe("load generator arguments", () => {
  it("asks wrk for the latency distribution", () => {
    const args = loadArgs({ kind: "wrk", path: "wrk" }, { url: "http://127.0.0.1:1/", durationSeconds: 10, connections: 64, threads: 2 });
    expect(args).toEqual(["-t2", "-c64", "-d10s", "--latency", "http://127.0.0.1:1/"]);
  });
});
