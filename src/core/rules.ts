// Monitor rules ("errorRate < 5%", "p99 < 800ms") and the verdict over one window of traffic.
// Pure functions: the monitor step feeds them observed numbers and acts on the answer.
import { quantileMs } from "./histogram.js";

export type Metric = "errorRate" | "p50" | "p90" | "p95" | "p99" | "requestRate";
export type Operator = "<" | "<=" | ">" | ">=";

export interface Rule {
  text: string;
  metric: Metric;
  op: Operator;
  /** errorRate as a fraction (0.05), latencies in ms, requestRate in requests per second. */
  threshold: number;
}

const METRIC_UNITS: Record<Metric, readonly string[]> = {
  errorRate: ["%", ""],
  p50: ["ms", "s"],
  p90: ["ms", "s"],
  p95: ["ms", "s"],
  p99: ["ms", "s"],
  requestRate: ["/s", ""],
};

const RULE = /^\s*([A-Za-z0-9]+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(%|ms|s|\/s)?\s*$/;

export type ParsedRule = { ok: true; rule: Rule } | { ok: false; error: string };

export function parseRule(text: string): ParsedRule {
  const match = RULE.exec(text);
  if (!match) {
    return { ok: false, error: `cannot read rule "${text}": expected "<metric> <op> <value>", e.g. "errorRate < 5%" or "p99 < 800ms"` };
  }
  const [, metricText, op, numberText, unitText = ""] = match as unknown as [string, string, Operator, string, string | undefined];
  // hasOwn, not `in`: "toString" or "constructor" must be an unknown metric, not a crash.
  if (!Object.hasOwn(METRIC_UNITS, metricText)) {
    return { ok: false, error: `unknown metric "${metricText}" in rule "${text}": use one of ${Object.keys(METRIC_UNITS).join(", ")}` };
  }
  const metric = metricText as Metric;
  const units = METRIC_UNITS[metric];
  if (!units.includes(unitText)) {
    return { ok: false, error: `rule "${text}": ${metric} takes ${units.filter(Boolean).join(" or ")}, not "${unitText || "no unit"}"` };
  }
  const value = Number(numberText);
  let threshold = value;
  if (metric === "errorRate") {
    if (unitText === "" && value > 1) return { ok: false, error: `rule "${text}": write error rates as a percentage, e.g. "errorRate < 5%"` };
    threshold = unitText === "%" ? value / 100 : value;
  } else if (unitText === "s") {
    threshold = value * 1000;
  }
  return { ok: true, rule: { text: text.trim(), metric, op, threshold } };
}

/** Traffic seen on one slot during one monitor window. */
export interface TrafficWindow {
  requests: number;
  errors: number;
  latencyCounts: readonly number[];
  durationMs: number;
}

export function measure(metric: Metric, window: TrafficWindow): number | undefined {
  switch (metric) {
    case "errorRate":
      return window.requests > 0 ? window.errors / window.requests : undefined;
    case "requestRate":
      return window.durationMs > 0 ? (window.requests * 1000) / window.durationMs : undefined;
    case "p50":
      return quantileMs(window.latencyCounts, 0.5);
    case "p90":
      return quantileMs(window.latencyCounts, 0.9);
    case "p95":
      return quantileMs(window.latencyCounts, 0.95);
    case "p99":
      return quantileMs(window.latencyCounts, 0.99);
  }
}

export function holds(op: Operator, value: number, threshold: number): boolean {
  switch (op) {
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
  }
}

export interface RuleResult {
  rule: string;
  metric: Metric;
  value: number | undefined;
  threshold: number;
  ok: boolean;
}

export type Verdict =
  | { judged: false; reason: string; requests: number; results: RuleResult[] }
  | { judged: true; healthy: boolean; requests: number; results: RuleResult[]; breached: RuleResult[] };

/** Judges one window: too few requests → not judged; otherwise every rule must hold. */
export function judgeWindow(rules: readonly Rule[], window: TrafficWindow, minRequests: number): Verdict {
  return judgeValues(rules, (metric) => measure(metric, window), window.requests, minRequests);
}

/**
 * The same verdict from values measured elsewhere (a monitor source that answers each metric itself,
 * such as a PromQL query). `requests` undefined = the source cannot count them: minRequests cannot
 * apply, so the window is judged. A metric without a value (no data) breaks no rule.
 */
export function judgeValues(rules: readonly Rule[], valueOf: (metric: Metric) => number | undefined, requests: number | undefined, minRequests: number): Verdict {
  const results = rules.map((rule): RuleResult => {
    const value = valueOf(rule.metric);
    return { rule: rule.text, metric: rule.metric, value, threshold: rule.threshold, ok: value === undefined || holds(rule.op, value, rule.threshold) };
  });
  const counted = requests ?? 0;
  if (requests !== undefined && requests < minRequests) {
    return { judged: false, reason: `${requests} requests in the window, fewer than minRequests (${minRequests})`, requests: counted, results };
  }
  const breached = results.filter((r) => !r.ok);
  return { judged: true, healthy: breached.length === 0, requests: counted, results, breached };
}

/** "errorRate 12.5% breaks errorRate < 5%" */
export function describeResult(result: RuleResult): string {
  return `${result.metric} ${formatMetric(result.metric, result.value)} ${result.ok ? "meets" : "breaks"} ${result.rule}`;
}

export function formatMetric(metric: Metric, value: number | undefined): string {
  if (value === undefined) return "n/a";
  if (metric === "errorRate") return `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%`;
  if (metric === "requestRate") return `${value.toFixed(1)}/s`;
  return `${value.toFixed(value < 10 ? 1 : 0)}ms`;
}
