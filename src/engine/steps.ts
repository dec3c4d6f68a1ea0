// The steps of the blue-green flow. Each is small, named verb-noun, safe to run again, and
// writes the phase to the store before acting (so a crash at any point can be reconciled).
// Expected outcomes — a failed check, a breached rule — come back as data, not exceptions.
import { runChecks } from "../checks/run-checks.js";
import type { CheckResult } from "../checks/types.js";
import { describeError, EmptySlotError } from "../core/errors.js";
import type { Phase } from "../core/phases.js";
import { describeResult, judgeValues, judgeWindow, parseRule, type Rule, type Verdict } from "../core/rules.js";
import type { Slot } from "../core/slots.js";
import { windowBetween, type MeasuredWindow, type MetricsSource } from "../metrics/source.js";
import type { SampleRecord } from "../store/records.js";
import type { EngineDeps } from "./deps.js";
import type { Run } from "./run.js";
import type { FlowEvent } from "./views.js";

export type Emit = (event: FlowEvent) => void;

/** One monitor window, measured and judged; `giveUp` ends the watch as unhealthy. */
interface WindowOutcome {
  at: number;
  requests: number;
  errors: number;
  verdict: Verdict;
  giveUp?: string;
}
type NextWindow = (windowMs: number) => Promise<WindowOutcome>;

export type MonitorVerdict =
  | { healthy: true; note: string }
  | { healthy: false; reason: string }
  | { interrupted: "aborted" | "promoted"; actor: string };

export class Steps {
  constructor(
    private readonly deps: EngineDeps,
    private readonly run: Run,
    private readonly emit: Emit,
  ) {}

  /** Writes the phase before its action runs (persist, then act). */
  enterPhase(phase: Phase, detail?: string): void {
    this.deps.store.enterPhase(this.run.id, phase, detail);
    this.run.phase = phase;
    this.emit({ type: "phase", deploymentId: this.run.id, phase, at: this.deps.clock.now(), ...(detail ? { detail } : {}) });
    this.deps.logger.info({ deployment: this.run.id, phase, detail }, `phase ${phase}`);
  }

  log(message: string): void {
    this.emit({ type: "log", deploymentId: this.run.id, at: this.deps.clock.now(), message });
    this.deps.logger.info({ deployment: this.run.id }, message);
  }

  async deployIdleSlot(slot: Slot, version: string, note?: string): Promise<void> {
    this.enterPhase("deploying", `${version} to ${slot}${note ? ` (${note})` : ""}`);
    // The slot stops being a standby here (not when the deployment began: a failed expand changes nothing).
    this.deps.store.standby.cancelFor(slot, `${this.run.id} deploys ${version} there`);
    this.deps.store.updateSlot(slot, { version, state: "deploying" });
    await this.deps.router.setTargets(slot, []); // nothing reaches a half-deployed slot, not even the preview
    await this.deps.platform.deploy(slot, version, this.run.signal);
  }

  async waitForReady(slot: Slot): Promise<void> {
    this.enterPhase("waiting-ready", slot);
    await this.deps.platform.waitReady(slot, this.deps.config.readyTimeout, this.run.signal);
    await this.publishTargets(slot);
  }

  /** Tells the router where the slot's replicas are now. */
  async publishTargets(slot: Slot): Promise<void> {
    const endpoints = await this.deps.platform.endpoints(slot);
    await this.deps.router.setTargets(slot, endpoints);
  }

  /** Runs every check against the slot; returns the failures (empty = all passed). */
  async runSlotChecks(slot: Slot, version: string, note?: string): Promise<CheckResult[]> {
    const checks = this.deps.config.checks;
    this.enterPhase("checking", `${checks.length} check${checks.length === 1 ? "" : "s"} against ${slot}${note ? ` ${note}` : ""}`);
    if (checks.length === 0) {
      this.log("no checks configured; switching untested (--force)");
      return [];
    }
    const endpoints = await this.deps.platform.endpoints(slot);
    const first = endpoints[0];
    if (!first) throw new EmptySlotError(slot, "no replica is running there");
    const outcome = await runChecks(checks, { slot, version, url: first.url, endpoints }, {
      signal: this.run.signal,
      clock: this.deps.clock,
      cwd: this.deps.config.dir,
      onResult: (result) => {
        this.deps.store.recordCheck(this.run.id, result);
        this.emit({ type: "check", deploymentId: this.run.id, result });
      },
    });
    return outcome.results.filter((r) => !r.ok);
  }

  /** The one call that moves traffic. A no-op when the router already points there. */
  async switchTraffic(to: Slot, from: Slot | undefined, actor: string): Promise<void> {
    this.enterPhase("switching", `${from ?? "nothing"} → ${to}`);
    if ((await this.deps.router.live()) === to) {
      this.log(`traffic already on ${to}; nothing to switch`);
    } else {
      await this.deps.router.switchTo(to);
      this.deps.store.appendEvent({
        actor,
        kind: "traffic.switched",
        deploymentId: this.run.id,
        message: `traffic switched from ${from ?? "nothing"} to ${to}`,
        data: { from, to },
      });
    }
    this.markLive(to);
  }

  markLive(live: Slot): void {
    const store = this.deps.store;
    store.updateSlot(live, { state: "live" });
    const other = live === "blue" ? "green" : "blue";
    const otherRecord = store.slot(other);
    if (otherRecord.state === "live") store.updateSlot(other, { state: "standby" });
  }

  async verifySwitch(slot: Slot): Promise<void> {
    this.enterPhase("verifying-switch", slot);
    await this.deps.router.verify(slot, this.deps.config.verifyTimeout);
  }

  /**
   * Watches the new live slot for monitor.duration, judging a window every interval.
   * `remainingMs` lets a resumed deployment finish the window it started before a restart.
   */
  async watchAfterSwitch(slot: Slot, remainingMs?: number): Promise<MonitorVerdict> {
    const { monitor } = this.deps.config;
    const durationMs = remainingMs ?? monitor.duration;
    this.enterPhase("monitoring", `${slot} for ${Math.round(durationMs / 1000)}s`);
    const source = this.deps.metrics;
    if (!source) {
      const note = `no metrics source for router ${this.deps.router.kind}; monitoring skipped`;
      this.log(note);
      return { healthy: true, note };
    }
    const rules = monitor.rules.map(toRule);
    const clock = this.deps.clock;
    const endAt = clock.now() + durationMs;
    const nextWindow = source.measureWindow ? this.measuredWindows(source, slot, rules) : await this.counterWindows(source, slot, rules);
    let judgedWindows = 0;
    const stop = AbortSignal.any([this.run.signal, this.run.promoteController.signal]);
    while (clock.now() < endAt) {
      const windowMs = Math.min(monitor.interval, endAt - clock.now());
      try {
        await clock.sleep(windowMs, stop);
      } catch {
        if (this.run.abortedBy) return { interrupted: "aborted", actor: this.run.abortedBy };
        return { interrupted: "promoted", actor: this.run.promotedBy ?? "unknown" };
      }
      const { verdict, giveUp, ...counts } = await nextWindow(windowMs);
      const sample: SampleRecord = {
        deploymentId: this.run.id,
        slot,
        ...counts,
        judged: verdict.judged,
        healthy: verdict.judged ? verdict.healthy : true,
        results: verdict.results,
        note: verdict.judged ? undefined : verdict.reason,
      };
      this.deps.store.recordSample(sample);
      this.emit({ type: "sample", deploymentId: this.run.id, sample, remainingMs: Math.max(0, endAt - clock.now()) });
      if (giveUp) return { healthy: false, reason: giveUp };
      if (verdict.judged) {
        judgedWindows += 1;
        if (!verdict.healthy) return { healthy: false, reason: verdict.breached.map(describeResult).join("; ") };
      }
    }
    const note = judgedWindows === 0 ? "no window had enough requests to judge" : `${judgedWindows} windows judged healthy`;
    return { healthy: true, note };
  }

  /** Windows as differences of two reads of the source's cumulative counters (the built-in proxy). */
  private async counterWindows(source: MetricsSource, slot: Slot, rules: Rule[]): Promise<NextWindow> {
    let previous = await source.read(slot);
    return async () => {
      const current = await source.read(slot);
      const window = windowBetween(previous, current);
      previous = current;
      return { at: current.at, requests: window.requests, errors: window.errors, verdict: judgeWindow(rules, window, this.deps.config.monitor.minRequests) };
    };
  }

  /**
   * Windows the source measures itself (a PromQL query per metric). A source that cannot answer
   * gives a recorded, unjudged window, not a crash; `consecutiveErrorLimit` of them in a row end the
   * watch as unhealthy: a version nobody can watch is not kept (Argo's "error" analysis aborts too).
   */
  private measuredWindows(source: MetricsSource, slot: Slot, rules: Rule[]): NextWindow {
    const { clock, config } = this.deps;
    const version = this.deps.store.slot(slot).version;
    const metrics = [...new Set(rules.map((rule) => rule.metric))];
    const limit = source.consecutiveErrorLimit ?? Number.POSITIVE_INFINITY;
    let failuresInARow = 0;
    return async (windowMs) => {
      const measured = await (source.measureWindow as NonNullable<MetricsSource["measureWindow"]>)(slot, { version, windowMs, metrics }).catch(
        (error: unknown): MeasuredWindow => ({ at: clock.now(), requests: undefined, values: {}, error: describeError(error) }),
      );
      if (measured.error !== undefined) {
        failuresInARow += 1;
        const verdict: Verdict = { judged: false, reason: `${source.name}: ${measured.error}`, requests: 0, results: [] };
        const giveUp = failuresInARow >= limit ? `${source.name} could not measure ${failuresInARow} windows in a row (last: ${measured.error})` : undefined;
        return { at: measured.at, requests: 0, errors: 0, verdict, ...(giveUp ? { giveUp } : {}) };
      }
      failuresInARow = 0;
      const requests = measured.requests ?? 0;
      // Only a rate comes back; the count is derived for the record when both are known.
      const errors = measured.values.errorRate === undefined ? 0 : Math.round(measured.values.errorRate * requests);
      return { at: measured.at, requests, errors, verdict: judgeValues(rules, (metric) => measured.values[metric], measured.requests, config.monitor.minRequests) };
    };
  }

  /** Flips traffic back to the slot that was live before. Rollback is just another flip. */
  async rollBack(to: Slot, from: Slot, reason: string, actor: string): Promise<void> {
    this.enterPhase("rolling-back", reason);
    if ((await this.deps.router.live()) !== to) {
      await this.deps.router.switchTo(to);
      this.deps.store.appendEvent({
        actor,
        kind: "traffic.rolled-back",
        deploymentId: this.run.id,
        message: `traffic switched back from ${from} to ${to}: ${reason}`,
        data: { from, to, reason },
      });
    }
    this.markLive(to);
    this.deps.store.updateSlot(from, { state: "failed" });
    try {
      await this.deps.router.verify(to, this.deps.config.verifyTimeout);
    } catch (error) {
      this.log(`rolled back to ${to}, but the router could not confirm it yet: ${describeError(error)}`);
    }
  }

  /**
   * A rollback to a scaled-down standby: back to the size it had before traffic may return to it.
   * Returns how many replicas it had, so a failed check can put it back as it was.
   */
  async scaleUpStandby(slot: Slot, version: string, replicas: number): Promise<number> {
    const { replicas: had } = await this.deps.platform.describe(slot);
    this.enterPhase(
      "deploying",
      `standby ${slot} (${version}) was scaled down to ${had} replica${had === 1 ? "" : "s"}: scaling it back up to ${replicas}, waiting until it is ready and running the checks before the switch — this rollback is not instant`,
    );
    if (had < replicas) await this.deps.platform.scale(slot, replicas);
    return had;
  }

  /** The scaled-up standby failed its checks: it stays a scaled-down standby, as it was. */
  async scaleDownAgain(slot: Slot, replicas: number): Promise<void> {
    try {
      await this.deps.platform.scale(slot, replicas);
      await this.publishTargets(slot);
    } catch (error) {
      this.log(`could not scale ${slot} back down to ${replicas}: ${describeError(error)}`);
    }
  }

  /** After a failure before the switch: the idle slot never got traffic; stop it, keep its logs. */
  async discardIdleSlot(slot: Slot): Promise<void> {
    await this.deps.router.setTargets(slot, []);
    try {
      await this.deps.platform.stop(slot);
    } catch (error) {
      this.log(`could not stop ${slot}: ${describeError(error)}`);
    }
    this.deps.store.updateSlot(slot, { state: "failed" });
  }
}

function toRule(text: string): Rule {
  const parsed = parseRule(text);
  if (!parsed.ok) throw new Error(parsed.error); // validated with the config; cannot happen
  return parsed.rule;
}

export function describeFailedChecks(failures: CheckResult[]): string {
  const first = failures[0];
  if (!first) return "checks failed";
  const more = failures.length > 1 ? ` (+${failures.length - 1} more)` : "";
  return `check ${first.name} failed: ${first.message}${more}`;
}
