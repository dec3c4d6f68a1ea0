// Switch windows ("Mon-Fri 02:00-05:00 Europe/Berlin"): when a deployment may move traffic.
// Pure: the zone arithmetic goes through Intl.DateTimeFormat (the zone database Node ships), so a
// window follows the wall clock of its zone across daylight-saving changes.

export interface SwitchWindow {
  /** As written in flip.yaml, for messages. */
  text: string;
  /** Weekdays on which the window opens: 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** Minutes after local midnight; the window is [start, end). end <= start crosses midnight. */
  startMinute: number;
  endMinute: number;
  /** An IANA zone such as Europe/Berlin; UTC when the text names none. */
  timeZone: string;
}

export type ParsedWindow = { ok: true; window: SwitchWindow } | { ok: false; error: string };

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FULL_DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const WINDOW = /^\s*(\S+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+(\S+))?\s*$/;
const EXAMPLE = 'e.g. "Mon-Fri 02:00-05:00 Europe/Berlin" or "Sat,Sun 22:00-06:00 UTC"';
const MINUTES_PER_DAY = 24 * 60;
const DAY_MS = 86_400_000;
/** How far ahead nextWindowStart looks: every window opens at least once a week. */
const HORIZON_DAYS = 8;

export function parseSwitchWindow(text: string): ParsedWindow {
  const match = WINDOW.exec(text);
  if (!match) return { ok: false, error: `cannot read switch window "${text}": expected "<days> <HH:MM>-<HH:MM> [time zone]", ${EXAMPLE}` };
  const [, daysText, startHours, startMinutes, endHours, endMinutes, zone = "UTC"] = match as unknown as [string, string, string, string, string, string, string | undefined];
  const days = parseDays(daysText);
  if (typeof days === "string") return { ok: false, error: `switch window "${text}": ${days}` };
  const startMinute = minuteOf(startHours, startMinutes, false);
  const endMinute = minuteOf(endHours, endMinutes, true);
  if (startMinute === undefined || endMinute === undefined) return { ok: false, error: `switch window "${text}": times run from 00:00 to 24:00 (24:00 only as an end)` };
  if (startMinute === endMinute) return { ok: false, error: `switch window "${text}" starts and ends at the same time; write 00:00-24:00 for a whole day` };
  if (!isTimeZone(zone)) return { ok: false, error: `switch window "${text}": unknown time zone "${zone}"; use an IANA name such as Europe/Berlin, America/New_York or UTC` };
  return { ok: true, window: { text: text.trim(), days, startMinute, endMinute, timeZone: zone } };
}

/** "Mon-Fri", "Sat,Sun", "Fri-Mon" (wraps), "Mon-Wed,Fri", "daily" or "*". */
function parseDays(text: string): number[] | string {
  if (text === "*" || text.toLowerCase() === "daily") return [0, 1, 2, 3, 4, 5, 6];
  const days = new Set<number>();
  for (const part of text.split(",")) {
    const [from, to, ...rest] = part.split("-");
    const first = dayIndex(from);
    const last = to === undefined ? first : dayIndex(to);
    if (first === undefined || last === undefined || rest.length > 0) return `cannot read the days "${text}": use day names Mon Tue Wed Thu Fri Sat Sun, ranges (Mon-Fri) and lists (Sat,Sun)`;
    for (let day = first; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === last) break;
    }
  }
  return [...days].sort((a, b) => a - b);
}

function dayIndex(text: string | undefined): number | undefined {
  const lower = (text ?? "").toLowerCase();
  const index = DAY_NAMES.findIndex((short, day) => lower === short || lower === FULL_DAY_NAMES[day]);
  return index < 0 ? undefined : index;
}

function minuteOf(hoursText: string, minutesText: string, isEnd: boolean): number | undefined {
  const hours = Number(hoursText);
  const minutes = Number(minutesText);
  if (minutes > 59) return undefined;
  const minute = hours * 60 + minutes;
  if (minute > MINUTES_PER_DAY || (minute === MINUTES_PER_DAY && !isEnd)) return undefined;
  return minute;
}

function isTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** True when `at` falls inside any of the windows (no windows: never). */
export function isInsideWindow(at: number | Date, windows: readonly SwitchWindow[]): boolean {
  const instant = typeof at === "number" ? at : at.getTime();
  return windows.some((window) => insideOne(window, wallTime(instant, window.timeZone)));
}

/**
 * The first instant at or after `at` that is inside a window: `at` itself when it already is.
 * Undefined only for an empty list. The window opens at the wall-clock time of its zone, so on the
 * night clocks go forward a 02:00 window opens at 03:00, and on the night they go back a window
 * can open twice.
 */
export function nextWindowStart(at: number | Date, windows: readonly SwitchWindow[]): number | undefined {
  const instant = typeof at === "number" ? at : at.getTime();
  if (isInsideWindow(instant, windows)) return instant;
  // Inside-ness can only begin where a window's start time comes round on the wall clock, or
  // where the zone's offset changes (the clock jumps into a window). Try exactly those instants.
  const candidates: number[] = [];
  for (const zone of new Set(windows.map((window) => window.timeZone))) candidates.push(...offsetChanges(instant, instant + HORIZON_DAYS * DAY_MS, zone));
  for (const window of windows) candidates.push(...startsOf(window, instant));
  const opening = candidates.filter((candidate) => candidate >= instant && isInsideWindow(candidate, windows)).sort((a, b) => a - b);
  return opening[0];
}

/** "2026-03-02 02:00 Europe/Berlin" — how a message names an instant in a window's zone. */
export function formatInZone(at: number, timeZone: string): string {
  const wall = wallTime(at, timeZone);
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${wall.year}-${pad(wall.month)}-${pad(wall.day)} ${pad(Math.floor(wall.minuteOfDay / 60))}:${pad(wall.minuteOfDay % 60)} ${timeZone}`;
}

function insideOne(window: SwitchWindow, wall: WallTime): boolean {
  const { days, startMinute, endMinute } = window;
  const minute = wall.minuteOfDay;
  if (startMinute < endMinute) return days.includes(wall.weekday) && minute >= startMinute && minute < endMinute;
  // Crosses midnight: the evening part belongs to the listed day, the morning part to the day after.
  return (days.includes(wall.weekday) && minute >= startMinute) || (days.includes((wall.weekday + 6) % 7) && minute < endMinute);
}

/** The instants at which the window's start time comes round, from the day before `from` on. */
function startsOf(window: SwitchWindow, from: number): number[] {
  const wall = wallTime(from, window.timeZone);
  const starts: number[] = [];
  for (let offset = -1; offset <= HORIZON_DAYS; offset++) {
    const date = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + offset));
    if (!window.days.includes(date.getUTCDay())) continue;
    starts.push(...instantsOfWallTime(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), window.startMinute, window.timeZone));
  }
  return starts;
}

/** The 0 (in a spring-forward gap), 1 or 2 (in a fall-back overlap) instants showing that wall time. */
function instantsOfWallTime(year: number, month: number, day: number, minuteOfDay: number, zone: string): number[] {
  const naive = Date.UTC(year, month - 1, day, 0, minuteOfDay);
  const offsets = new Set([offsetAt(naive - DAY_MS, zone), offsetAt(naive, zone), offsetAt(naive + DAY_MS, zone)]);
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = naive - offset;
    const wall = wallTime(candidate, zone);
    if (wall.year === year && wall.month === month && wall.day === day && wall.minuteOfDay === minuteOfDay) found.add(candidate);
  }
  return [...found];
}

/** The first instant of each new offset of the zone in (from, to]. Offsets change on whole seconds. */
function offsetChanges(from: number, to: number, zone: string): number[] {
  const changes: number[] = [];
  const stepMs = 3_600_000;
  for (let lo = from; lo < to; lo += stepMs) {
    const hi = Math.min(to, lo + stepMs);
    if (offsetAt(lo, zone) === offsetAt(hi, zone)) continue;
    let before = Math.floor(lo / 1000);
    let after = Math.ceil(hi / 1000);
    while (after - before > 1) {
      const middle = Math.floor((before + after) / 2);
      if (offsetAt(middle * 1000, zone) === offsetAt(lo, zone)) before = middle;
      else after = middle;
    }
    changes.push(after * 1000);
  }
  return changes;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  minuteOfDay: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

function wallTime(instant: number, zone: string): WallTime {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(instant)) parts[part.type] = part.value;
  const hour = Number(parts.hour) % 24;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: DAY_NAMES.indexOf((parts.weekday ?? "").toLowerCase()),
    minuteOfDay: hour * 60 + Number(parts.minute),
    second: Number(parts.second),
  };
}

/** Wall clock minus UTC, in ms, at that instant. */
function offsetAt(instant: number, zone: string): number {
  const wall = wallTime(instant, zone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, 0, wall.minuteOfDay, wall.second);
  return wallAsUtc - Math.floor(instant / 1000) * 1000;
}
