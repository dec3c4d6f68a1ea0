import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["24h", 86_400_000],
    ["1h30m", 5_400_000],
    ["2d", 172_800_000],
    ["1.5s", 1_500],
    ["0s", 0],
    [" 30s ", 30_000],
    ["1m30s500ms", 90_500],
  ])("reads %j as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["10", "abc", "", "   ", "s", "30 s", "1h 30m", "1m30", "10mm", "-5s", "5sec"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0ms"],
    [250, "250ms"],
    [1_500, "1.5s"],
    [10_000, "10s"],
    [45_200, "45s"],
    [59_600, "1m"],
    [90_000, "1m30s"],
    [119_700, "2m"],
    [600_000, "10m"],
    [3_599_999, "1h"],
    [5_400_000, "1h30m"],
    [86_400_000, "24h"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("writes what parseDuration reads back", () => {
    for (const text of ["500ms", "10s", "10m", "1h30m", "24h"]) expect(formatDuration(parseDuration(text) as number)).toBe(text);
  });
});
