// The last minutes of traffic per slot, one point a second, for the dashboard's charts. A sampler
// reads the router's cumulative counters every step and keeps the differences (request rate, error
// rate, p99) in a bounded buffer, beside the moments traffic switched. Memory only: a restart of
// `flip serve` starts a new history. The engine knows nothing of it; the controller feeds it.
import type { Clock } from "../core/clock.js";
import { quantileMs, subtractCounts } from "../core/histogram.js";
import { SLOTS, type Slot } from "../core/slots.js";
import type { RouterEvent, TrafficSnapshot } from "../routers/router.js";

/** Cumulative counters per slot: the built-in proxy's (at once) or a proxy's own (HAProxy's stats, an access log: a promise). */
export interface TrafficReader {
  snapshot(slot: Slot): TrafficSnapshot | Promise<TrafficSnapshot>;
}

export const HISTORY_STEP_MS = 1_000;
export const HISTORY_SECONDS = 15 * 60;

/** One slot's values, one entry per point; null where the step had no request to measure. */
export interface SlotSeries {
  /** Requests per second. */
  requestRate: number[];
  /** Fraction of the step's requests that failed (5xx or upstream error), 0..1. */
  errorRate: (number | null)[];
  p99Ms: (number | null)[];
}

/** A moment traffic moved, as the router reported it. */
export interface SwitchMark {
  at: number;
  from: Slot | undefined;
  to: Slot;
  /** The version the slot ran when traffic moved to it, if known. */
  version: string | undefined;
}

/** What GET /api/traffic answers: columns, as chart libraries take them. */
export interface TrafficSeries {
  /** False when the router does not see traffic: then every column is empty. */
  available: boolean;
  /** The server's clock when it answered: lets a page on another machine line its clock up. */
  now: number;
  stepMs: number;
  /** The end of each step, in ms since the epoch, oldest first. */
  times: number[];
  slots: Record<Slot, SlotSeries>;
  switches: SwitchMark[];
}

export interface TrafficSeriesQuery {
  /** How far back, from the newest point. */
  seconds: number;
  /** Only points after this time (ms since the epoch): lets a client fetch just what is new. */
  since?: number | undefined;
}

export interface TrafficHistoryOptions {
  clock: Clock;
  /** The router's counters, read lazily: the router is built after the history. Undefined = no traffic capability. */
  stats: () => TrafficReader | undefined;
  /** The version a slot runs now, to label switch marks. */
  versionOf?: (slot: Slot) => string | undefined;
  stepMs?: number;
  keepSeconds?: number;
}

type PointValues = { requestRate: number; errorRate: number | null; p99Ms: number | null };
interface Point {
  at: number;
  slots: Record<Slot, PointValues>;
}

export class TrafficHistory {
  private readonly points: Point[] = [];
  private readonly switches: SwitchMark[] = [];
  private previous: Record<Slot, TrafficSnapshot> | undefined;
  private running: AbortController | undefined;
  /** A read of asynchronous counters still under way: the next step skips rather than overlaps it. */
  private reading = false;
  private readonly stepMs: number;
  private readonly keepMs: number;

  constructor(private readonly options: TrafficHistoryOptions) {
    this.stepMs = options.stepMs ?? HISTORY_STEP_MS;
    this.keepMs = (options.keepSeconds ?? HISTORY_SECONDS) * 1000;
  }

  get available(): boolean {
    return this.options.stats() !== undefined;
  }

  /** Samples every step until stop(). Does nothing for a router that cannot count traffic. */
  start(): void {
    if (this.running || !this.available) return;
    const running = new AbortController();
    this.running = running;
    void this.sample(); // never rejects: a failed read is a gap
    void (async () => {
      while (!running.signal.aborted) {
        try {
          await this.options.clock.sleep(this.stepMs, running.signal);
        } catch {
          return; // stopped
        }
        await this.sample();
      }
    })();
  }

  stop(): void {
    this.running?.abort();
    this.running = undefined;
  }

  /**
   * Reads both slots' counters and records the step since the last read (the first read only sets
   * the baseline). Synchronous counters are recorded at once; a failed asynchronous read (the proxy
   * unreachable for a moment) leaves a gap, not an error.
   */
  sample(): void | Promise<void> {
    const stats = this.options.stats();
    if (!stats || this.reading) return;
    const now = this.options.clock.now();
    const reads = SLOTS.map((slot) => stats.snapshot(slot));
    if (reads.every((read): read is TrafficSnapshot => !(read instanceof Promise))) return this.record(now, reads);
    this.reading = true;
    return Promise.all(reads)
      .then((snapshots) => this.record(now, snapshots))
      .catch(() => undefined)
      .finally(() => (this.reading = false));
  }

  private record(now: number, snapshots: readonly TrafficSnapshot[]): void {
    const current = Object.fromEntries(SLOTS.map((slot, index) => [slot, snapshots[index] as TrafficSnapshot])) as Record<Slot, TrafficSnapshot>;
    const previous = this.previous;
    this.previous = current;
    if (!previous) return;
    const slots = {} as Record<Slot, PointValues>;
    for (const slot of SLOTS) slots[slot] = stepValues(previous[slot], current[slot]);
    this.points.push({ at: now, slots });
    this.forgetBefore(now - this.keepMs);
  }

  /** Wired to the router's events: a switch becomes a mark on the charts. */
  onRouterEvent(event: RouterEvent): void {
    if (event.type !== "switched") return;
    this.switches.push({ at: event.at, from: event.from, to: event.to, version: this.options.versionOf?.(event.to) });
    this.forgetBefore(this.options.clock.now() - this.keepMs);
  }

  series(query: TrafficSeriesQuery): TrafficSeries {
    const newest = this.points.at(-1)?.at ?? this.options.clock.now();
    const from = Math.max(newest - query.seconds * 1000, query.since ?? -Infinity);
    const points = this.points.filter((point) => point.at > from);
    const slots = {} as Record<Slot, SlotSeries>;
    for (const slot of SLOTS) {
      slots[slot] = {
        requestRate: points.map((point) => point.slots[slot].requestRate),
        errorRate: points.map((point) => point.slots[slot].errorRate),
        p99Ms: points.map((point) => point.slots[slot].p99Ms),
      };
    }
    return {
      available: this.available,
      now: this.options.clock.now(),
      stepMs: this.stepMs,
      times: points.map((point) => point.at),
      slots,
      switches: this.switches.filter((mark) => mark.at > newest - query.seconds * 1000),
    };
  }

  private forgetBefore(cutoff: number): void {
    while (this.points.length > 0 && (this.points[0] as Point).at <= cutoff) this.points.shift();
    while (this.switches.length > 0 && (this.switches[0] as SwitchMark).at <= cutoff) this.switches.shift();
  }
}

/** One step of one slot: differences of two cumulative snapshots. */
export function stepValues(earlier: TrafficSnapshot, later: TrafficSnapshot): PointValues {
  const seconds = Math.max(later.at - earlier.at, 1) / 1000;
  // Counters only grow; a smaller one means they were reset (a new router): count from zero.
  const reset = later.requests < earlier.requests;
  const requests = reset ? later.requests : later.requests - earlier.requests;
  const errors = reset ? later.errors : Math.max(0, later.errors - earlier.errors);
  const latency = reset ? later.latencyCounts : subtractCounts(later.latencyCounts, earlier.latencyCounts);
  return {
    requestRate: round(requests / seconds, 2),
    errorRate: requests > 0 ? round(errors / requests, 4) : null,
    p99Ms: requests > 0 ? round(quantileMs(latency, 0.99) ?? 0, 2) : null,
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
