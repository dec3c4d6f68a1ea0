import { describe, expect, it } from "vitest";
import { formatRequestRate, parseRequestRate } from "./request-rate.js";

describe("parseRequestRate", () => {
  it("reads per second and per minute", () => {
    expect(parseRequestRate("500/s")).toBe(500);
    expect(parseRequestRate(" 2.5 / sec ")).toBe(2.5);
    expect(parseRequestRate("30000/m")).toBe(500);
    expect(parseRequestRate("60/min")).toBe(1);
  });

  it("refuses a number without a unit, and anything else", () => {
    for (const text of ["500", "500/h", "fast", "-1/s", ""]) expect(parseRequestRate(text)).toBeUndefined();
  });

  it("formats a rate for messages", () => {
    expect(formatRequestRate(812.34)).toBe("812/s");
    expect(formatRequestRate(3.25)).toBe("3.3/s");
  });
});
