// The in-memory log lines a late watcher replays: kept per deployment, bounded both ways.
import { describe, expect, it } from "vitest";
import { RecentLogs } from "./recent-logs.js";

describe("RecentLogs", () => {
  it("keeps each deployment's lines in order, and a copy goes out", () => {
    const logs = new RecentLogs();
    logs.add("d-1", { at: 1, message: "one" });
    logs.add("d-2", { at: 2, message: "other" });
    logs.add("d-1", { at: 3, message: "two" });
    const lines = logs.of("d-1");
    expect(lines).toEqual([{ at: 1, message: "one" }, { at: 3, message: "two" }]);
    lines.pop();
    expect(logs.of("d-1")).toHaveLength(2);
    expect(logs.of("d-unknown")).toEqual([]);
  });

  it("keeps the last 1000 lines of a deployment and the last 5 deployments", () => {
    const logs = new RecentLogs();
    for (let i = 0; i < 1005; i++) logs.add("d-1", { at: i, message: `line ${i}` });
    expect(logs.of("d-1")).toHaveLength(1000);
    expect(logs.of("d-1")[0]).toEqual({ at: 5, message: "line 5" });
    for (let n = 2; n <= 6; n++) logs.add(`d-${n}`, { at: n, message: "x" });
    expect(logs.of("d-1")).toEqual([]);
    expect(logs.of("d-2")).toHaveLength(1);
    expect(logs.of("d-6")).toHaveLength(1);
  });
});
