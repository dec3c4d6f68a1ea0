import { expect, it } from "vitest";
import type { Slot } from "../../src/core/slots.js";
import { oldSlotTailsMs } from "./old-slot-tail.js";
import type { ResponseRecord, SwitchRecord } from "./switch-analysis.js";

const ok = (startMs: number, slot: Slot): ResponseRecord => ({ startMs, endMs: startMs + 1, status: 200, slot });

it("measures, per switch, how long after the call began new requests still reached the old slot", () => {
  const switches: SwitchRecord[] = [
    { to: "green", issuedMs: 100, appliedMs: 180 },
    { to: "blue", issuedMs: 500, appliedMs: 510 },
  ];
  const responses = [ok(50, "blue"), ok(120, "blue"), ok(215, "blue"), ok(216, "green"), ok(505, "blue"), ok(530, "green"), { startMs: 540, endMs: 541, status: 502, slot: undefined }];
  // 215 - 100 after the first call; after the second, green answered at 530 (30 ms in).
  expect(oldSlotTailsMs(responses, switches)).toEqual([115, 30]);
  expect(oldSlotTailsMs([ok(600, "blue")], switches)).toEqual([0, 0]);
});
