import { describe, expect, it } from "vitest";
import { formatInZone, isInsideWindow, nextWindowStart, parseSwitchWindow, type SwitchWindow } from "./windows.js";

function window(text: string): SwitchWindow {
  const parsed = parseSwitchWindow(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.window;
}

const at = (iso: string) => Date.parse(iso);

describe("parseSwitchWindow", () => {
  it("reads days, times and a zone", () => {
    expect(window("Mon-Fri 02:00-05:00 Europe/Berlin")).toEqual({
      text: "Mon-Fri 02:00-05:00 Europe/Berlin",
      days: [1, 2, 3, 4, 5],
      startMinute: 120,
      endMinute: 300,
      timeZone: "Europe/Berlin",
    });
    expect(window("Sat,Sun 22:00-06:00").timeZone).toBe("UTC");
    expect(window("Fri-Mon 00:00-24:00 UTC").days).toEqual([0, 1, 5, 6]);
    expect(window("daily 9:30-10:00 America/New_York").days).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(window("Monday,Wed-Thu 01:00-02:00").days).toEqual([1, 3, 4]);
  });

  it("refuses what it cannot read, saying why", () => {
    const error = (text: string) => {
      const parsed = parseSwitchWindow(text);
      return parsed.ok ? "" : parsed.error;
    };
    expect(error("weekdays at night")).toMatch(/expected "<days> <HH:MM>-<HH:MM> \[time zone\]"/);
    expect(error("Funday 02:00-05:00")).toMatch(/day names/);
    expect(error("Mo 02:00-05:00")).toMatch(/day names/);
    expect(error("Mon 25:00-26:00")).toMatch(/00:00 to 24:00/);
    expect(error("Mon 24:00-02:00")).toMatch(/00:00 to 24:00/);
    expect(error("Mon 02:60-03:00")).toMatch(/00:00 to 24:00/);
    expect(error("Mon 02:00-02:00")).toMatch(/same time/);
    expect(error("Mon 02:00-05:00 Mars/Olympus")).toMatch(/unknown time zone "Mars\/Olympus"/);
  });
});

describe("isInsideWindow", () => {
  const berlin = [window("Mon-Fri 02:00-05:00 Europe/Berlin")];

  it("judges the wall clock of the window's zone, end excluded", () => {
    // Wednesday 2026-01-14; Berlin is UTC+1 in winter.
    expect(isInsideWindow(at("2026-01-14T00:59:59Z"), berlin)).toBe(false);
    expect(isInsideWindow(at("2026-01-14T01:00:00Z"), berlin)).toBe(true);
    expect(isInsideWindow(at("2026-01-14T03:59:59Z"), berlin)).toBe(true);
    expect(isInsideWindow(at("2026-01-14T04:00:00Z"), berlin)).toBe(false);
    // In summer (UTC+2) the same wall-clock window is an hour earlier in UTC.
    expect(isInsideWindow(at("2026-07-15T00:30:00Z"), berlin)).toBe(true);
    expect(isInsideWindow(at("2026-07-15T03:30:00Z"), berlin)).toBe(false);
    // Saturday is not a window day.
    expect(isInsideWindow(at("2026-01-17T02:00:00Z"), berlin)).toBe(false);
    expect(isInsideWindow(at("2026-01-14T02:00:00Z"), [])).toBe(false);
  });

  it("gives a window that crosses midnight to the day it starts on", () => {
    const fridayNight = [window("Fri 22:00-02:00 UTC")];
    expect(isInsideWindow(at("2026-01-16T21:59:00Z"), fridayNight)).toBe(false); // Friday
    expect(isInsideWindow(at("2026-01-16T23:00:00Z"), fridayNight)).toBe(true);
    expect(isInsideWindow(at("2026-01-17T01:59:00Z"), fridayNight)).toBe(true); // Saturday morning
    expect(isInsideWindow(at("2026-01-17T02:00:00Z"), fridayNight)).toBe(false);
    expect(isInsideWindow(at("2026-01-16T01:00:00Z"), fridayNight)).toBe(false); // Friday morning: Thursday's night
  });
});

describe("nextWindowStart", () => {
  const berlin = [window("Mon-Fri 02:00-05:00 Europe/Berlin")];

  it("is now when inside, else the next opening — over a weekend too", () => {
    expect(nextWindowStart(at("2026-01-14T02:00:00Z"), berlin)).toBe(at("2026-01-14T02:00:00Z"));
    // Wednesday 10:00 Berlin → Thursday 02:00 Berlin.
    expect(nextWindowStart(at("2026-01-14T09:00:00Z"), berlin)).toBe(at("2026-01-15T01:00:00Z"));
    // Friday 06:00 Berlin → Monday 02:00 Berlin.
    expect(nextWindowStart(at("2026-01-16T05:00:00Z"), berlin)).toBe(at("2026-01-19T01:00:00Z"));
    expect(nextWindowStart(at("2026-01-16T05:00:00Z"), [])).toBeUndefined();
  });

  it("picks the earliest of several windows in different zones", () => {
    const windows = [window("Mon-Fri 02:00-05:00 Europe/Berlin"), window("Wed 20:00-21:00 America/New_York")];
    // Wednesday 2026-01-14 12:00 UTC: New York's 20:00 (UTC-5) is 01:00Z Thursday; Berlin's 02:00 is 01:00Z too.
    expect(nextWindowStart(at("2026-01-14T12:00:00Z"), windows)).toBe(at("2026-01-15T01:00:00Z"));
    const earlier = [window("Wed 19:00-21:00 America/New_York"), ...berlin];
    expect(nextWindowStart(at("2026-01-14T12:00:00Z"), earlier)).toBe(at("2026-01-15T00:00:00Z"));
  });

  it("opens at 03:00 on the night the clocks go forward (02:00 does not exist)", () => {
    // Sunday 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST at 01:00Z.
    const sunday = [window("Sun 02:00-05:00 Europe/Berlin")];
    expect(isInsideWindow(at("2026-03-29T00:59:59Z"), sunday)).toBe(false);
    expect(isInsideWindow(at("2026-03-29T01:00:00Z"), sunday)).toBe(true);
    expect(nextWindowStart(at("2026-03-29T00:30:00Z"), sunday)).toBe(at("2026-03-29T01:00:00Z"));
    expect(formatInZone(at("2026-03-29T01:00:00Z"), "Europe/Berlin")).toBe("2026-03-29 03:00 Europe/Berlin");
    // A window wholly inside the skipped hour does not happen that night: the next one is a week later.
    const skipped = [window("Sun 02:15-02:45 Europe/Berlin")];
    expect(nextWindowStart(at("2026-03-29T00:30:00Z"), skipped)).toBe(at("2026-04-05T00:15:00Z"));
  });

  it("can open twice on the night the clocks go back", () => {
    // Sunday 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET at 01:00Z; 02:xx happens twice.
    const sunday = [window("Sun 02:00-02:30 Europe/Berlin")];
    expect(nextWindowStart(at("2026-10-24T23:00:00Z"), sunday)).toBe(at("2026-10-25T00:00:00Z")); // 02:00 CEST
    expect(isInsideWindow(at("2026-10-25T00:45:00Z"), sunday)).toBe(false); // 02:45 CEST
    expect(nextWindowStart(at("2026-10-25T00:45:00Z"), sunday)).toBe(at("2026-10-25T01:00:00Z")); // 02:00 CET
    expect(isInsideWindow(at("2026-10-25T01:29:00Z"), sunday)).toBe(true);
    expect(nextWindowStart(at("2026-10-25T01:30:00Z"), sunday)).toBe(at("2026-11-01T01:00:00Z"));
  });

  it("follows another zone's daylight-saving date (New York, 2026-03-08)", () => {
    const morning = [window("Sun 01:00-04:00 America/New_York")];
    // 02:00 EST jumps to 03:00 EDT at 07:00Z; the window still opens at 01:00 EST (06:00Z).
    expect(nextWindowStart(at("2026-03-08T00:00:00Z"), morning)).toBe(at("2026-03-08T06:00:00Z"));
    // ... and closes at 04:00 EDT (08:00Z): two real hours long that night.
    expect(isInsideWindow(at("2026-03-08T07:59:00Z"), morning)).toBe(true);
    expect(isInsideWindow(at("2026-03-08T08:00:00Z"), morning)).toBe(false);
  });
});
