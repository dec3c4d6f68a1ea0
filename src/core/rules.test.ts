import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "./histogram.js";
import { describeResult, judgeValues, judgeWindow, parseRule, type Metric, type Rule, type TrafficWindow } from "./rules.js";

function rule(text: string): Rule {
  const parsed = parseRule(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.rule;
}

function windowOf(requests: number, errors: number, latenciesMs: number[], durationMs = 10_000): TrafficWindow {
  const histogram = new LatencyHistogram();
  for (const ms of latenciesMs) histogram.record(ms);
  return { requests, errors, latencyCounts: histogram.snapshot(), durationMs };
}

describe("parseRule", () => {
  it.each([
    ["errorRate < 5%", { metric: "errorRate", op: "<", threshold: 0.05 }],
    ["errorRate<=0.5%", { metric: "errorRate", op: "<=", threshold: 0.005 }],
    ["errorRate < 0.02", { metric: "errorRate", op: "<", threshold: 0.02 }],
    ["p99 < 800ms", { metric: "p99", op: "<", threshold: 800 }],
    ["p95 <= 1.5s", { metric: "p95", op: "<=", threshold: 1_500 }],
    ["  p50 < 20ms  ", { metric: "p50", op: "<", threshold: 20 }],
    ["requestRate > 1/s", { metric: "requestRate", op: ">", threshold: 1 }],
    ["requestRate >= 10", { metric: "requestRate", op: ">=", threshold: 10 }],
  ])("reads %j", (text, expected) => {
    expect(parseRule(text)).toEqual({ ok: true, rule: { text: text.trim(), ...expected } });
  });

  it.each([
    ["errorRate 5%", 'cannot read rule "errorRate 5%": expected "<metric> <op> <value>", e.g. "errorRate < 5%" or "p99 < 800ms"'],
    ["", 'cannot read rule "": expected "<metric> <op> <value>", e.g. "errorRate < 5%" or "p99 < 800ms"'],
    ["p99 == 800ms", 'cannot read rule "p99 == 800ms": expected "<metric> <op> <value>", e.g. "errorRate < 5%" or "p99 < 800ms"'],
    ["p99 < -1ms", 'cannot read rule "p99 < -1ms": expected "<metric> <op> <value>", e.g. "errorRate < 5%" or "p99 < 800ms"'],
    ["latency < 800ms", 'unknown metric "latency" in rule "latency < 800ms": use one of errorRate, p50, p90, p95, p99, requestRate'],
    ["toString < 5", 'unknown metric "toString" in rule "toString < 5": use one of errorRate, p50, p90, p95, p99, requestRate'],
    ["constructor < 1", 'unknown metric "constructor" in rule "constructor < 1": use one of errorRate, p50, p90, p95, p99, requestRate'],
    ["p99 < 800", 'rule "p99 < 800": p99 takes ms or s, not "no unit"'],
    ["p99 < 5%", 'rule "p99 < 5%": p99 takes ms or s, not "%"'],
    ["errorRate < 5ms", 'rule "errorRate < 5ms": errorRate takes %, not "ms"'],
    ["errorRate < 5", 'rule "errorRate < 5": write error rates as a percentage, e.g. "errorRate < 5%"'],
  ])("refuses %j, saying why", (text, error) => {
    expect(parseRule(text)).toEqual({ ok: false, error });
  });
});

describe("judgeWindow", () => {
  const rules = [rule("errorRate < 5%"), rule("p99 < 800ms")];

  it("does not judge a window with fewer than minRequests requests, even a bad one", () => {
    const verdict = judgeWindow(rules, windowOf(19, 19, Array(19).fill(5_000)), 20);
    expect(verdict.judged).toBe(false);
    if (verdict.judged) return;
    expect(verdict.reason).toBe("19 requests in the window, fewer than minRequests (20)");
    expect(verdict.requests).toBe(19);
  });

  it("judges a healthy window healthy", () => {
    const verdict = judgeWindow(rules, windowOf(100, 4, Array(100).fill(120)), 20);
    expect(verdict).toMatchObject({ judged: true, healthy: true, requests: 100, breached: [] });
    expect(verdict.results.map((r) => r.ok)).toEqual([true, true]);
    expect(verdict.results[0]?.value).toBeCloseTo(0.04);
  });

  it("breaches errorRate at the threshold (strictly less is required)", () => {
    const verdict = judgeWindow(rules, windowOf(100, 5, Array(100).fill(120)), 20);
    expect(verdict).toMatchObject({ judged: true, healthy: false });
    if (!verdict.judged) return;
    expect(verdict.breached.map((r) => r.rule)).toEqual(["errorRate < 5%"]);
    expect(describeResult(verdict.breached[0]!)).toBe("errorRate 5.00% breaks errorRate < 5%");
  });

  it("breaches p99 when the slowest 2% take over a second", () => {
    const latencies = [...Array(98).fill(100), 1_200, 1_300];
    const verdict = judgeWindow(rules, windowOf(100, 0, latencies), 20);
    expect(verdict).toMatchObject({ judged: true, healthy: false });
    if (!verdict.judged) return;
    expect(verdict.breached.map((r) => r.metric)).toEqual(["p99"]);
    const p99 = verdict.breached[0]?.value as number;
    expect(p99).toBeGreaterThan(1_000);
    expect(p99).toBeLessThan(1_450);
    expect(describeResult(verdict.breached[0]!)).toMatch(/^p99 1\d{3}ms breaks p99 < 800ms$/);
  });

  it("holds p99 when only 1 in 200 requests is slow", () => {
    const latencies = [...Array(199).fill(100), 5_000];
    expect(judgeWindow(rules, windowOf(200, 0, latencies), 20)).toMatchObject({ judged: true, healthy: true });
  });

  it("judges requestRate over the window's duration", () => {
    const verdict = judgeWindow([rule("requestRate > 5/s")], windowOf(40, 0, [], 10_000), 0);
    expect(verdict).toMatchObject({ judged: true, healthy: false });
    expect(verdict.results[0]?.value).toBe(4);
  });

  it("does not breach a rule that has nothing to measure", () => {
    const verdict = judgeWindow(rules, windowOf(0, 0, []), 0);
    expect(verdict).toMatchObject({ judged: true, healthy: true });
    expect(verdict.results.map((r) => r.value)).toEqual([undefined, undefined]);
  });
});

describe("judgeValues", () => {
  const rules = [rule("errorRate < 5%"), rule("p99 < 800ms")];
  const values = (given: Partial<Record<Metric, number>>) => (metric: Metric) => given[metric];

  it("judges values measured elsewhere against the same rules", () => {
    const verdict = judgeValues(rules, values({ errorRate: 0.5, p99: 120 }), 40, 20);
    expect(verdict).toMatchObject({ judged: true, healthy: false, requests: 40 });
    if (!verdict.judged) return;
    expect(verdict.breached.map(describeResult)).toEqual(["errorRate 50.0% breaks errorRate < 5%"]);
  });

  it("skips a window with too few requests, and judges every window when requests are unknown", () => {
    expect(judgeValues(rules, values({ errorRate: 0.5 }), 3, 20)).toMatchObject({ judged: false, reason: "3 requests in the window, fewer than minRequests (20)" });
    expect(judgeValues(rules, values({ errorRate: 0.5 }), undefined, 20)).toMatchObject({ judged: true, healthy: false, requests: 0 });
  });

  it("a metric without a value breaks nothing; an infinite latency does", () => {
    expect(judgeValues(rules, values({}), undefined, 0)).toMatchObject({ judged: true, healthy: true });
    expect(judgeValues(rules, values({ p99: Number.POSITIVE_INFINITY }), undefined, 0)).toMatchObject({ judged: true, healthy: false });
  });
});
