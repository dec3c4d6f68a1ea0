// What a checked deployment waits for before it may move traffic: a person's approval
// (`approval: manual`), a switch window (`switchWindows`) and a quiet enough live slot
// (`maxRequestRate`). Each wait is a phase in the store, goes through the injected clock, and ends
// early on `flip abort`. The decisions (inside a window? rate too high?) are pure functions.
import type { Clock } from "../core/clock.js";
import { formatDuration } from "../core/duration.js";
import { describeError } from "../core/errors.js";
import { formatRequestRate } from "../core/request-rate.js";
import type { Slot } from "../core/slots.js";
import { formatInZone, nextWindowStart, type SwitchWindow } from "../core/windows.js";
import { windowBetween } from "../metrics/source.js";
import type { EngineDeps } from "./deps.js";
import type { Run } from "./run.js";
import type { Steps } from "./steps.js";

/** Built-in counters: the live slot's rate is the requests between two reads this far apart. */
export const RATE_SAMPLE_MS = 5_000;
/** A source that measures windows itself (Prometheus) is asked about the last minute. */
export const MEASURED_RATE_WINDOW_MS = 60_000;

export type GateOutcome = { go: true; waited: boolean } | { go: false; reason: string };

export interface GateOptions {
  /** `flip deploy --now`: do not wait for a switch window or a quieter live slot. */
  now: boolean;
}

/** True when the configured windows say "not now"; false when none are configured. */
export function outsideWindows(windows: readonly SwitchWindow[], at: number): number | undefined {
  if (windows.length === 0) return undefined;
  const opensAt = nextWindowStart(at, windows);
  return opensAt !== undefined && opensAt > at ? opensAt : undefined;
}

export class SwitchGates {
  constructor(
    private readonly deps: EngineDeps,
    private readonly run: Run,
    private readonly steps: Steps,
  ) {}

  /** awaiting-approval, then awaiting-window (calendar, then traffic), as configured. */
  async beforeSwitch(live: Slot | undefined, options: GateOptions): Promise<GateOutcome> {
    const { config } = this.deps;
    let waited = false;
    if (config.approval === "manual") {
      const approval = await this.awaitApproval();
      if (!approval.go) return approval;
      waited = true;
    }
    if (options.now) {
      if (config.switchWindows.length > 0 || config.maxRequestRate !== undefined) this.steps.log("--now: not waiting for a switch window or a quieter live slot");
      return { go: true, waited };
    }
    const timing = await this.awaitSwitchTime(live);
    if (!timing.go) return timing;
    return { go: true, waited: waited || timing.waited };
  }

  /** Waits for `flip promote` (approve), up to approvalTimeout. */
  private async awaitApproval(): Promise<GateOutcome> {
    const timeoutMs = this.deps.config.approvalTimeout;
    this.steps.enterPhase("awaiting-approval", `checks passed; waiting ${timeoutMs === undefined ? "" : `up to ${formatDuration(timeoutMs)} `}for approval (\`flip promote\`)`);
    const stop = AbortSignal.any([this.run.signal, this.run.approveController.signal]);
    try {
      await waitFor(this.deps.clock, timeoutMs, stop);
    } catch (error) {
      if (this.run.approvedBy === undefined) throw error; // aborted or shutting down
      this.steps.log(`approved by ${this.run.approvedBy}`);
      return { go: true, waited: true };
    }
    return { go: false, reason: `not approved within approvalTimeout (${formatDuration(timeoutMs ?? 0)})` };
  }

  /** Loops until inside a window and the live slot is under maxRequestRate (or that wait times out). */
  private async awaitSwitchTime(live: Slot | undefined): Promise<GateOutcome> {
    const { config, clock } = this.deps;
    let waited = false;
    let rateWaitMs = 0;
    let shown: string | undefined;
    const show = (detail: string) => {
      if (detail !== shown) this.steps.enterPhase("awaiting-window", detail);
      shown = detail;
    };
    for (;;) {
      const now = clock.now();
      const opensAt = outsideWindows(config.switchWindows, now);
      if (opensAt !== undefined) {
        const zone = config.switchWindows[0]?.timeZone ?? "UTC";
        show(`outside the switch windows (${config.switchWindows.map((w) => w.text).join("; ")}); the next opens ${formatInZone(opensAt, zone)}`);
        await clock.sleep(opensAt - now, this.run.signal);
        waited = true;
        continue;
      }
      const max = config.maxRequestRate;
      if (max === undefined) return { go: true, waited };
      if (!live) return { go: true, waited }; // nothing is live: nobody to disturb
      if (shown === undefined) show(`measuring the request rate of live slot ${live} (maxRequestRate ${formatRequestRate(max)})`);
      const rate = await this.measureRate(live);
      if (rate === undefined) {
        this.steps.log(`nothing measures the request rate of ${live} (no metrics source); maxRequestRate cannot apply`);
        return { go: true, waited };
      }
      if (typeof rate === "number" && rate <= max) {
        this.steps.log(`live slot ${live} serves ${formatRequestRate(rate)}, within maxRequestRate ${formatRequestRate(max)}`);
        return { go: true, waited };
      }
      // A rate that cannot be measured right now is not a reason to switch: wait, as for a high one.
      const seen = typeof rate === "number" ? `serves ${formatRequestRate(rate)}, above` : `cannot be measured (${rate.error}), so it may be above`;
      rateWaitMs += RATE_SAMPLE_MS;
      if (rateWaitMs >= config.maxRequestRateTimeout) {
        return { go: false, reason: `live slot ${live} ${seen} maxRequestRate ${formatRequestRate(max)} after waiting ${formatDuration(config.maxRequestRateTimeout)}` };
      }
      show(`live slot ${live} ${typeof rate === "number" ? `serves ${formatRequestRate(rate)}, above` : "cannot be measured, so it may be above"} maxRequestRate ${formatRequestRate(max)}; waiting up to ${formatDuration(config.maxRequestRateTimeout)}`);
      if (this.deps.metrics?.measureWindow) await clock.sleep(RATE_SAMPLE_MS, this.run.signal);
      waited = true;
    }
  }

  /** Requests per second on the live slot now; an error when the source failed; undefined without a source. */
  private async measureRate(live: Slot): Promise<number | { error: string } | undefined> {
    const source = this.deps.metrics;
    if (!source) return undefined;
    const { clock, store } = this.deps;
    try {
      if (source.measureWindow) {
        const measured = await source.measureWindow(live, { version: store.slot(live).version, windowMs: MEASURED_RATE_WINDOW_MS, metrics: ["requestRate"] });
        if (measured.error !== undefined) return { error: measured.error };
        if (measured.values.requestRate !== undefined) return measured.values.requestRate;
        if (measured.requests !== undefined) return measured.requests / (MEASURED_RATE_WINDOW_MS / 1000);
        return { error: `${source.name} gave no requestRate` };
      }
      // The engine's clock times the sample: the router's own timestamps may run on another clock.
      const before = await source.read(live);
      await clock.sleep(RATE_SAMPLE_MS, this.run.signal);
      const after = await source.read(live);
      return windowBetween(before, after).requests / (RATE_SAMPLE_MS / 1000);
    } catch (error) {
      if (this.run.signal.aborted) throw error;
      return { error: describeError(error) };
    }
  }
}

/** Resolves after ms (never, when ms is undefined); rejects with the signal's reason when it aborts. */
export function waitFor(clock: Clock, ms: number | undefined, signal: AbortSignal): Promise<void> {
  if (ms !== undefined) return clock.sleep(ms, signal);
  return new Promise<void>((_resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}
