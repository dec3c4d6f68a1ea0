import { describe, expect, it } from "vitest";
import type { Slot } from "../../src/core/slots.js";
import { analyseSwitches, type ResponseRecord, type SwitchRecord } from "./switch-analysis.js";

const ok = (startMs: number, endMs: number, slot: Slot): ResponseRecord => ({ startMs, endMs, status: 200, slot });

// Blue is live; the switch to green is sent at 100 and returns at 102; back to blue: 200 → 203.
const switches: SwitchRecord[] = [
  { to: "green", issuedMs: 100, appliedMs: 102 },
  { to: "blue", issuedMs: 200, appliedMs: 203 },
];

describe("analyseSwitches", () => {
  it("finds nothing wrong when every request goes where the last applied switch pointed", () => {
    const result = analyseSwitches([ok(10, 12, "blue"), ok(102, 104, "green"), ok(150, 151, "green"), ok(203, 204, "blue")], switches, "blue");
    expect(result).toMatchObject({ requests: 4, non2xx: 0, violations: 0, longestViolationMs: 0, bySlot: { blue: 2, green: 2 } });
  });

  it("counts an old-slot answer to a request that started after the switch returned, and how late it was", () => {
    const result = analyseSwitches([ok(110, 115, "blue"), ok(120, 130, "blue"), ok(121, 122, "green")], switches, "blue");
    expect(result.violations).toBe(2);
    expect(result.longestViolationMs).toBe(130 - 102);
  });

  it("accepts the next switch's slot for a request still running when that switch was made", () => {
    // Started before the first switch, answered by green only after the switch call was sent.
    const result = analyseSwitches([ok(50, 101, "green"), ok(150, 210, "blue")], switches, "blue");
    expect(result.violations).toBe(0);
    // ...but not an answer that arrived before the call was even sent.
    expect(analyseSwitches([ok(50, 99, "green")], switches, "blue").violations).toBe(1);
  });

  it("accepts either slot for a request that started while the switch call was in progress", () => {
    const result = analyseSwitches([ok(100, 101, "blue"), ok(101, 103, "green"), ok(201, 202, "green")], switches, "blue");
    expect(result.violations).toBe(0);
    expect(result.duringSwitchCall).toBe(3);
  });

  it("measures how long the old slot's requests in flight at a switch took to finish", () => {
    const result = analyseSwitches([ok(90, 108, "blue"), ok(95, 104, "blue"), ok(190, 201, "green"), ok(50, 60, "blue")], switches, "blue");
    expect(result.inFlightAtSwitches).toBe(3);
    expect(result.inFlightFinishMs.sort((a, b) => a - b)).toEqual([0, 6]); // 108 - 102; 201 ended before 203
    expect(result.violations).toBe(0);
  });

  it("counts answers that are not 2xx and answers without a slot", () => {
    const result = analyseSwitches([{ startMs: 1, endMs: 2, status: 502, slot: undefined }, ok(3, 4, "green")], [], "blue");
    expect(result.non2xx).toBe(1);
    expect(result.violations).toBe(1); // green answered while only blue was ever live
  });
});
