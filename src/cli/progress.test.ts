import { describe, expect, it } from "vitest";
import { EventDeduplicator } from "../api/sse.js";
import type { StreamEvent } from "../api/sse.js";
import type { DeploymentSummary } from "../engine/views.js";
import { createColors, noColors } from "./output.js";
import { checkLines, describeStart, ProgressView, sampleLine } from "./progress.js";

const T0 = 1_700_000_000_000;

function summary(overrides: Partial<DeploymentSummary> = {}): DeploymentSummary {
  return {
    id: "d-0007",
    kind: "deploy",
    version: "v2",
    slot: "green",
    fromSlot: "blue",
    phase: "succeeded",
    outcome: "succeeded",
    reason: "traffic on green; 3 windows judged healthy",
    actor: "cli:alice",
    startedAt: new Date(T0).toISOString(),
    finishedAt: new Date(T0 + 632_000).toISOString(),
    durationMs: 632_000,
    ...overrides,
  };
}

const phase = (name: string, at: number, detail?: string): StreamEvent =>
  ({ type: "phase", deploymentId: "d-0007", phase: name, at, ...(detail ? { detail } : {}) }) as StreamEvent;

describe("ProgressView", () => {
  it("prints a line per phase with how long the previous one took, and the outcome with the last", () => {
    const view = new ProgressView(noColors);
    const lines = [
      phase("queued", T0),
      phase("deploying", T0 + 5, "v2 to green"),
      phase("checking", T0 + 2_105),
      phase("monitoring", T0 + 32_000),
      { type: "finished", deploymentId: "d-0007", outcome: "succeeded", reason: "traffic on green", deployment: summary({ reason: "traffic on green" }) } as StreamEvent,
    ].flatMap((event) => view.lines(event));
    expect(lines).toEqual([
      "▸ queued",
      "▸ deploying  v2 to green  (queued took 5ms)",
      "▸ checking  (deploying took 2.1s)",
      "▸ monitoring  (checking took 30s)",
      "✓ succeeded: traffic on green (d-0007 after 10m32s; monitoring took 10m)",
    ]);
  });

  it("prints nothing for a replayed terminal phase, but times the last phase by it", () => {
    const view = new ProgressView(noColors);
    view.lines(phase("checking", T0));
    expect(view.lines(phase("aborted", T0 + 1_500, "check failed"))).toEqual([]);
    const [line] = view.lines({ type: "finished", deploymentId: "d-0007", outcome: "aborted", reason: "check health failed", deployment: summary({ outcome: "aborted", reason: "check health failed", durationMs: 1_600 }) });
    expect(line).toBe("✗ aborted: check health failed (d-0007 after 1.6s; checking took 1.5s)");
  });

  it("says where traffic is when the engine gave no reason", () => {
    const outcome = (deployment: DeploymentSummary) => new ProgressView(noColors).lines({ type: "finished", deploymentId: deployment.id, outcome: deployment.outcome, reason: undefined, deployment })[0];
    expect(outcome(summary({ reason: undefined }))).toContain("✓ succeeded — v2 is live on green");
    expect(outcome(summary({ outcome: "aborted", reason: undefined }))).toContain("✗ aborted — traffic was not touched");
    expect(outcome(summary({ outcome: "rolled-back", reason: undefined }))).toContain("↺ rolled back — traffic is back on blue");
    expect(outcome(summary({ outcome: "failed", reason: "platform error" }))).toContain("✗ failed: platform error");
  });

  it("prints log events dimmed and indented", () => {
    expect(new ProgressView(noColors).lines({ type: "log", deploymentId: "d", at: T0, message: "traffic already on green" })).toEqual(["  · traffic already on green"]);
  });
});

describe("check lines", () => {
  it("shows a passed check on one line, with the replica when the message does not name it", () => {
    expect(checkLines({ name: "health", kind: "http", ok: true, message: "200 in 12ms", replica: 1, attempts: 1, durationMs: 12, at: T0 }, noColors)).toEqual(["  ✓ health  replica 1  200 in 12ms"]);
    expect(checkLines({ name: "health", kind: "http", ok: true, message: "GET /health on green replica 1 → 200", replica: 1, attempts: 2, durationMs: 12, at: T0 }, noColors)).toEqual([
      "  ✓ health  GET /health on green replica 1 → 200  (2 attempts)",
    ]);
  });

  it("shows the last lines of a failed check's output, indented", () => {
    const output = Array.from({ length: 14 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const lines = checkLines({ name: "smoke", kind: "command", ok: false, message: "exit code 1", output, attempts: 1, durationMs: 40, at: T0 }, noColors);
    expect(lines[0]).toBe("  ✗ smoke  exit code 1");
    expect(lines.slice(1)).toEqual(Array.from({ length: 10 }, (_, i) => `      line ${i + 5}`));
  });
});

describe("sample lines", () => {
  const results = [
    { rule: "errorRate < 5%", metric: "errorRate" as const, value: 0.004, threshold: 0.05, ok: true },
    { rule: "p99 < 800ms", metric: "p99" as const, value: 12, threshold: 800, ok: true },
  ];

  it("shows each rule's value and bound, the requests and the time left", () => {
    const line = sampleLine({ deploymentId: "d", at: T0, slot: "green", requests: 412, errors: 2, judged: true, healthy: true, results, note: undefined }, 250_000, noColors);
    expect(line).toBe("  monitoring  errorRate 0.40% (< 5%)  p99 12ms (< 800ms)  412 req  4m10s left");
  });

  it("marks a broken rule, says when a window was not judged, and leaves out time left on a replay", () => {
    const broken = sampleLine({ deploymentId: "d", at: T0, slot: "green", requests: 40, errors: 20, judged: true, healthy: false, results: [{ ...results[0]!, value: 0.5, ok: false }], note: undefined }, 0, noColors);
    expect(broken).toContain("errorRate 50.0% (< 5%) ✗");
    const quiet = sampleLine({ deploymentId: "d", at: T0, slot: "green", requests: 3, errors: 0, judged: false, healthy: true, results: [], note: "3 requests in the window, fewer than minRequests (20)" }, undefined, noColors);
    expect(quiet).toBe("  monitoring  3 req  not judged: 3 requests in the window, fewer than minRequests (20)");
  });

  it("colours a broken rule red when colours are on", () => {
    const line = sampleLine({ deploymentId: "d", at: T0, slot: "green", requests: 40, errors: 20, judged: true, healthy: false, results: [{ ...results[0]!, value: 0.5, ok: false }], note: undefined }, 0, createColors(true));
    expect(line).toContain("\u001b[31merrorRate 50.0% (< 5%) ✗\u001b[39m");
  });
});

describe("describeStart", () => {
  it("names what starts and where", () => {
    expect(describeStart(summary({ phase: "queued", outcome: "running" }), noColors)).toBe("Deploying v2 to green, blue is live — deployment d-0007");
    expect(describeStart(summary({ fromSlot: undefined }), noColors)).toBe("Deploying v2 to green, nothing is live yet — deployment d-0007");
    expect(describeStart(summary({ kind: "switch" }), noColors)).toBe("Switching traffic to green (v2) — deployment d-0007");
    expect(describeStart(summary({ kind: "rollback", version: "v1", slot: "blue" }), noColors)).toBe("Rolling back to blue (v1) — deployment d-0007");
  });
});

describe("EventDeduplicator", () => {
  it("skips what a reconnect replays, matching phases by position even when their times differ", () => {
    const seen = new EventDeduplicator();
    const check = { type: "check", deploymentId: "d", result: { name: "health", kind: "http", ok: true, message: "ok", replica: 0, attempts: 1, durationMs: 1, at: T0 + 10 } } as StreamEvent;
    seen.startStream();
    expect([phase("queued", T0), phase("checking", T0 + 9), check].map((e) => seen.accept(e))).toEqual([true, true, true]);
    // Reconnect: the store's phase times differ by a millisecond from the live events'.
    seen.startStream();
    expect([phase("queued", T0 + 1), phase("checking", T0 + 10), check, phase("switching", T0 + 20)].map((e) => seen.accept(e))).toEqual([false, false, false, true]);
  });
});
