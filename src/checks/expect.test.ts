import { describe, expect, it } from "vitest";
import { describeStatusMatcher, jsonMismatches, renderExpected, statusMatches, valueAtPath } from "./expect.js";

describe("statusMatches", () => {
  it("takes a code, a list, or a class", () => {
    expect(statusMatches(200, 200)).toBe(true);
    expect(statusMatches(201, 200)).toBe(false);
    expect(statusMatches(204, [200, 204])).toBe(true);
    expect(statusMatches(500, [200, 204])).toBe(false);
    expect(statusMatches(299, "2xx")).toBe(true);
    expect(statusMatches(300, "2xx")).toBe(false);
    expect(statusMatches(404, "4xx")).toBe(true);
  });

  it("describes what was expected", () => {
    expect(describeStatusMatcher(200)).toBe("200");
    expect(describeStatusMatcher([200])).toBe("200");
    expect(describeStatusMatcher([200, 201, 204])).toBe("200, 201 or 204");
    expect(describeStatusMatcher("5xx")).toBe("5xx");
  });
});

describe("valueAtPath and jsonMismatches", () => {
  const document = { a: { b: [{ c: 1 }, null] }, "": 0, n: null };

  it("walks objects and arrays by dotted path", () => {
    expect(valueAtPath(document, "a.b.0.c")).toBe(1);
    expect(valueAtPath(document, "a.b.1")).toBeNull();
    expect(valueAtPath(document, "n")).toBeNull();
    expect(jsonMismatches(document, { "a.b.0": { c: 1 }, n: null })).toEqual([]);
  });

  it("treats missing steps, out-of-range indexes and inherited keys as missing", () => {
    expect(jsonMismatches(document, { "a.x": 1, "a.b.2": 1, "a.b.x": 1, "a.b.0.c.d": 1, "a.toString": 1 })).toEqual([
      "a.x: expected 1, got nothing (no such field)",
      "a.b.2: expected 1, got nothing (no such field)",
      "a.b.x: expected 1, got nothing (no such field)",
      "a.b.0.c.d: expected 1, got nothing (no such field)",
      "a.toString: expected 1, got nothing (no such field)",
    ]);
  });

  it("templates strings at any depth and leaves other values alone", () => {
    expect(renderExpected({ v: "{version}", list: ["{slot}", 3], keep: true, unknown: "{nope}" }, { version: "v2", slot: "blue" })).toEqual({
      v: "v2",
      list: ["blue", 3],
      keep: true,
      unknown: "{nope}",
    });
  });
});
