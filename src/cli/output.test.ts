import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../core/phases.js";
import type { DeploymentSummary, StatusView } from "../engine/views.js";
import { formatHistory } from "./history.js";
import { colorEnabled } from "./io.js";
import { colorOutcome, createColors, formatTable, formatTimestamp, noColors, truncate, visibleWidth } from "./output.js";
import { formatStatus } from "./status.js";
import { serverUrl, urlOfListen } from "./target.js";

describe("colours", () => {
  it("are on for a terminal, off for NO_COLOR, a pipe or a dumb terminal, and on again with FORCE_COLOR", () => {
    expect(colorEnabled({ write: () => true, isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled({ write: () => true, isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(colorEnabled({ write: () => true }, {})).toBe(false);
    expect(colorEnabled({ write: () => true }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled({ write: () => true }, { FORCE_COLOR: "1", NO_COLOR: "1" })).toBe(false);
  });

  it("colour outcomes by meaning, and leave text alone when off", () => {
    const colors = createColors(true);
    expect(colorOutcome("succeeded", colors)).toBe("\u001b[32msucceeded\u001b[39m");
    expect(colorOutcome("aborted", colors)).toBe("\u001b[33maborted\u001b[39m");
    expect(colorOutcome("rolled-back", colors)).toBe("\u001b[35mrolled-back\u001b[39m");
    expect(colorOutcome("failed", colors)).toBe("\u001b[31mfailed\u001b[39m");
    expect(colorOutcome("running", colors)).toBe("\u001b[36mrunning\u001b[39m");
    expect(colorOutcome("rolled-back", noColors)).toBe("rolled-back");
  });
});

describe("tables", () => {
  it("align columns by visible width, ignoring colour codes, with no trailing spaces", () => {
    const colors = createColors(true);
    const lines = formatTable(["A", "B", "C"], [[colors.red("xx"), "y", ""], ["x", "yyyy", "z"]]);
    // eslint-disable-next-line no-control-regex
    expect(lines.map((line) => line.replace(/\u001b\[[0-9;]*m/g, ""))).toEqual(["A   B     C", "xx  y", "x   yyyy  z"]);
    expect(visibleWidth(colors.red("xx"))).toBe(2);
  });

  it("truncates long text with an ellipsis", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 4)).toBe("abc");
  });

  it("prints times in local time", () => {
    const date = new Date(2024, 4, 1, 14, 3, 12);
    expect(formatTimestamp(date.toISOString())).toBe("2024-05-01 14:03:12");
  });
});

const deployment: DeploymentSummary = {
  id: "d-0003-abcd",
  kind: "deploy",
  version: "v3-errors",
  slot: "green",
  fromSlot: "blue",
  phase: "rolled-back",
  outcome: "rolled-back",
  reason: "errorRate 50.0% breaks errorRate < 5%; traffic back on blue",
  actor: "cli:alice",
  startedAt: new Date(2024, 4, 1, 14, 3, 12).toISOString(),
  finishedAt: new Date(2024, 4, 1, 14, 5, 14).toISOString(),
  durationMs: 122_000,
};

describe("history", () => {
  it("is a table of id, kind, version, slot, outcome, reason, start and duration", () => {
    const lines = formatHistory([deployment, { ...deployment, id: "d-0002-efgh", version: "v2", outcome: "succeeded", reason: "ok", durationMs: 800 }], noColors);
    expect(lines[0]).toMatch(/^ID\s+KIND\s+VERSION\s+SLOT\s+OUTCOME\s+REASON\s+STARTED\s+DURATION$/);
    expect(lines[1]).toMatch(/^d-0003-abcd {2}deploy {2}v3-errors {2}green {2}rolled-back {2}errorRate 50\.0% breaks .* {2}2024-05-01 14:03:12 {2}2m2s$/);
    expect(lines[2]).toMatch(/succeeded\s+ok\s+2024-05-01 14:03:12 {2}800ms$/);
  });

  it("says so when there is nothing yet", () => {
    expect(formatHistory([], noColors)).toEqual(["no deployments yet — `flip deploy <version>` starts one"]);
  });
});

describe("status", () => {
  const status: StatusView = {
    app: "hello",
    live: "blue",
    slots: {
      blue: { slot: "blue", version: "v1", state: "live", replicas: 2, runningReplicas: 2 },
      green: { slot: "green", version: "v2", state: "deploying", replicas: 2, runningReplicas: 1 },
    },
    deployment: { ...deployment, version: "v2", phase: "checking", outcome: "running", reason: undefined, finishedAt: undefined, durationMs: undefined },
    router: { kind: "builtin", listen: "127.0.0.1:8080", preview: "127.0.0.1:8081" },
    platform: { kind: "process" },
  };

  it("shows the app, the live slot, both slots and the running deployment", () => {
    const lines = formatStatus(status, noColors, Date.parse(deployment.startedAt) + 12_000);
    expect(lines[0]).toBe("hello  live: blue (v1)  router builtin on 127.0.0.1:8080 (preview 127.0.0.1:8081) · platform process");
    expect(lines.slice(2, 5)).toEqual(["SLOT   VERSION  STATE      REPLICAS", "blue   v1       live       2/2", "green  v2       deploying  1/2"]);
    expect(lines.at(-1)).toBe("running: d-0003-abcd  deploy v2 → green  phase checking  started 12s ago by cli:alice");
  });

  it("says when nothing is live and nothing runs", () => {
    const lines = formatStatus({ ...status, live: undefined, deployment: undefined }, noColors, 0);
    expect(lines[0]).toContain("live: nothing yet");
    expect(lines.at(-1)).toBe("no deployment running");
  });
});

describe("exit codes", () => {
  it("follow the outcome: 0 succeeded, 2 aborted, 3 rolled back, 1 failed", () => {
    expect(["succeeded", "aborted", "rolled-back", "failed"].map((o) => exitCodeFor(o as "failed"))).toEqual([0, 2, 3, 1]);
  });
});

describe("where the CLI connects", () => {
  it("reaches a wildcard listen address on loopback", () => {
    expect(urlOfListen("127.0.0.1:8787")).toBe("http://127.0.0.1:8787");
    expect(urlOfListen("0.0.0.0:9000")).toBe("http://127.0.0.1:9000");
    expect(urlOfListen("[::]:9000")).toBe("http://[::1]:9000");
    expect(urlOfListen("[::1]:9000")).toBe("http://[::1]:9000");
  });

  it("takes --server as a URL or host:port", () => {
    expect(serverUrl("http://flip.internal:8787/")).toBe("http://flip.internal:8787");
    expect(serverUrl("10.0.0.5:8787")).toBe("http://10.0.0.5:8787");
    expect(() => serverUrl("ftp://x")).toThrow(/not an http/);
  });
});
