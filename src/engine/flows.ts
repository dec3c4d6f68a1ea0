// The flows of one deployment, as flat lists of the steps in steps.ts: a deploy, a manual switch,
// a rollback (instant, from a scaled-down standby, or a redeploy of a retired one), and the resume
// after a restart. Each flow ends by calling `finish` with the outcome and a reason a person can read.
import { describeError } from "../core/errors.js";
import { isBeforeSwitch } from "../core/phases.js";
import type { Slot } from "../core/slots.js";
import type { DeploymentRecord } from "../store/records.js";
import type { EngineDeps } from "./deps.js";
import { SwitchGates, type GateOptions } from "./gates.js";
import { runDatabaseMigration } from "./migrations.js";
import type { StandbyScheduler } from "./retire.js";
import { AbortRequested, ShutdownRequested, type Run } from "./run.js";
import { describeFailedChecks, type Steps } from "./steps.js";

export type Finish = "succeeded" | "aborted" | "rolled-back" | "failed";
export type FinishFn = (run: Run, phase: Finish, reason: string) => Finish;

export interface DeployFlowOptions {
  /** The gates before the switch (approval, windows, rate); false skips them (a rollback's redeploy). */
  gates: GateOptions | false;
  /** Said in the deploying phase and the outcome (e.g. why a rollback redeploys). */
  note?: string;
}

export class DeploymentFlows {
  constructor(
    private readonly deps: EngineDeps,
    private readonly finish: FinishFn,
    private readonly scheduler: StandbyScheduler,
  ) {}

  /** (expanding →) deploying → waiting-ready → checking → (awaiting-approval → awaiting-window) → switching → verifying-switch → monitoring */
  async runDeploy(run: Run, steps: Steps, record: DeploymentRecord, options: DeployFlowOptions): Promise<Finish | undefined> {
    const { slot: idle, fromSlot: live, version } = record;
    const stayed = `traffic stayed on ${live ?? "nothing"}`;
    const expanded = await this.expandSchema(run, steps, record);
    if (expanded !== true) return expanded;
    try {
      await steps.deployIdleSlot(idle, version, options.note);
      await steps.waitForReady(idle);
      let failures = await steps.runSlotChecks(idle, version);
      if (failures.length === 0 && options.gates) {
        const gate = await new SwitchGates(this.deps, run, steps).beforeSwitch(live, options.gates);
        if (!gate.go) {
          await steps.discardIdleSlot(idle);
          return this.finish(run, "aborted", `${gate.reason}; ${stayed}`);
        }
        // A slot that waited (hours, maybe) is checked again: what passed then may not pass now.
        if (gate.waited) failures = await steps.runSlotChecks(idle, version, "again, right before the switch");
      }
      if (failures.length > 0) {
        await steps.discardIdleSlot(idle);
        return this.finish(run, "aborted", `${describeFailedChecks(failures)}; ${stayed}`);
      }
      throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      await steps.discardIdleSlot(idle);
      return this.finish(run, "aborted", `${abortReason(run, error)}; ${stayed}`);
    }
    return this.switchAndWatch(run, steps, idle, live, record.actor, true, options.note);
  }

  /**
   * expanding: the schema change both versions can live with, before anything else changes. A
   * failure ends the deployment here, aborted, with the idle slot (the standby) untouched.
   */
  private async expandSchema(run: Run, steps: Steps, record: DeploymentRecord): Promise<true | Finish | undefined> {
    const command = this.deps.config.migrations?.expand;
    if (command === undefined) return true;
    const previousVersion = record.previousVersion ?? (record.fromSlot ? this.deps.store.slot(record.fromSlot).version : undefined);
    const stayed = `nothing else changed; traffic stayed on ${record.fromSlot ?? "nothing"}`;
    try {
      steps.enterPhase("expanding", `for ${record.version}${previousVersion ? ` (from ${previousVersion})` : ""}`);
      const outcome = await runDatabaseMigration(this.deps, run, steps, "expand", record.version, previousVersion);
      if (!outcome.ok) return this.finish(run, "aborted", `${outcome.message}\n${stayed}`);
      throwIfAborted(run);
      return true;
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `${abortReason(run, error)} during expand; ${stayed}`);
    }
  }

  /** contracting: the command that removes what the previous version needed. Moves no traffic. */
  async runContract(run: Run, steps: Steps, record: DeploymentRecord): Promise<Finish | undefined> {
    try {
      steps.enterPhase("contracting", `for ${record.version}${record.previousVersion ? ` (removing what ${record.previousVersion} needed)` : ""}`);
      const outcome = await runDatabaseMigration(this.deps, run, steps, "contract", record.version, record.previousVersion);
      if (!outcome.ok) return this.finish(run, "failed", `${outcome.message}\nthe schema may be partly contracted; traffic is unchanged`);
      const rollback = record.previousVersion ? `; an instant rollback to ${record.previousVersion} is now refused` : "";
      return this.finish(run, "succeeded", `schema contracted for ${record.version}${rollback}`);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "failed", `contract stopped: ${abortReason(run, error)}; the schema may be partly contracted`);
    }
  }

  /** switching → verifying-switch → (monitoring) → done; rolls back on any failure after the switch. */
  private async switchAndWatch(run: Run, steps: Steps, to: Slot, from: Slot | undefined, actor: string, monitor: boolean, note?: string): Promise<Finish | undefined> {
    try {
      await steps.switchTraffic(to, from, actor);
      await steps.verifySwitch(to);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.rollBackOrFail(run, steps, to, from, `switch to ${to} failed: ${describeError(error)}`);
    }
    if (from) await this.planStandby(run, steps, from);
    const noted = note ? `; ${note}` : "";
    if (!monitor) return this.finish(run, "succeeded", `traffic on ${to}${noted}`);
    return this.watchAndDecide(run, steps, to, from, undefined, noted);
  }

  /** The old live slot is the standby now: its scale-down and retirement go in the store before the monitor starts. */
  private async planStandby(run: Run, steps: Steps, standby: Slot): Promise<void> {
    try {
      await this.scheduler.plan(run.id, standby, this.deps.clock.now());
    } catch (error) {
      steps.log(`could not plan the retirement of standby ${standby}: ${describeError(error)}; it keeps running`);
    }
  }

  private async watchAndDecide(run: Run, steps: Steps, to: Slot, from: Slot | undefined, remainingMs?: number, noted = ""): Promise<Finish | undefined> {
    const verdict = await steps.watchAfterSwitch(to, remainingMs);
    if ("interrupted" in verdict) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      if (verdict.interrupted === "promoted") return this.finish(run, "succeeded", `promoted by ${verdict.actor}; traffic on ${to}${noted}`);
      return this.rollBackOrFail(run, steps, to, from, `aborted by ${verdict.actor}`);
    }
    if (verdict.healthy) return this.finish(run, "succeeded", `traffic on ${to}; ${verdict.note}${noted}`);
    return this.rollBackOrFail(run, steps, to, from, verdict.reason);
  }

  private async rollBackOrFail(run: Run, steps: Steps, to: Slot, from: Slot | undefined, reason: string): Promise<Finish> {
    if (!from) return this.finish(run, "failed", `${reason}; no standby to roll back to, traffic stays on ${to}`);
    try {
      await steps.rollBack(from, to, reason, "engine");
      return this.finish(run, "rolled-back", `${reason}; traffic back on ${from}`);
    } catch (error) {
      return this.finish(run, "failed", `${reason}; rollback to ${from} failed: ${describeError(error)}`);
    }
  }

  async runSwitch(run: Run, steps: Steps, record: DeploymentRecord, withChecks: boolean): Promise<Finish | undefined> {
    try {
      await steps.waitForReady(record.slot);
      if (withChecks) {
        const failures = await steps.runSlotChecks(record.slot, record.version);
        if (failures.length > 0) return this.finish(run, "aborted", `${describeFailedChecks(failures)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
      }
      throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `${abortReason(run, error)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
    }
    return this.switchAndWatch(run, steps, record.slot, record.fromSlot, record.actor, false);
  }

  /** Rollback needs no version: it flips to the standby once it answers its readiness probe. */
  async runRollback(run: Run, steps: Steps, record: DeploymentRecord): Promise<Finish | undefined> {
    try {
      await steps.waitForReady(record.slot);
      throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `standby ${record.slot} is not ready: ${abortReason(run, error)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
    }
    return this.switchAndWatch(run, steps, record.slot, record.fromSlot, record.actor, false);
  }

  /**
   * Rollback to a standby that was scaled down: not instant, and it says so. It is scaled back up to
   * the size it had, must become ready and pass the checks, and only then gets the traffic.
   */
  async runScaledUpRollback(run: Run, steps: Steps, record: DeploymentRecord, replicas: number): Promise<Finish | undefined> {
    const { slot, version, fromSlot } = record;
    const stayed = `traffic stayed on ${fromSlot ?? "nothing"}`;
    try {
      const had = await steps.scaleUpStandby(slot, version, replicas);
      await steps.waitForReady(slot);
      const failures = await steps.runSlotChecks(slot, version);
      if (failures.length > 0) {
        await steps.scaleDownAgain(slot, had);
        return this.finish(run, "aborted", `standby ${slot} was scaled back up but ${describeFailedChecks(failures)}; ${stayed}`);
      }
      throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `standby ${slot} could not be brought back: ${abortReason(run, error)}; ${stayed}`);
    }
    const note = `the standby had been scaled down, so it was scaled back up to ${replicas} replica${replicas === 1 ? "" : "s"} and checked before the switch`;
    return this.switchAndWatch(run, steps, slot, fromSlot, record.actor, false, note);
  }

  /** After a restart: finish what the store says was happening, so traffic is on a checked slot. */
  async resume(run: Run, steps: Steps, record: DeploymentRecord, live: Slot | undefined): Promise<Finish | undefined> {
    const { slot: target, fromSlot: previous, phase } = record;
    if (record.kind === "contract") {
      const why = "flip serve stopped while the contract command ran, so it may have run partly";
      this.deps.store.databaseMigrations.finishInterrupted(record.id, why);
      return this.finish(run, "failed", `${why}: check the database, then run \`flip contract\` again`);
    }
    const switched = live === target && (phase === "switching" || !isBeforeSwitch(phase));
    if (phase === "rolling-back" && previous) {
      await steps.rollBack(previous, target, record.reason ?? "rollback interrupted by a restart", "engine");
      return this.finish(run, "rolled-back", `${record.reason ?? "rolled back"}; completed after a restart of flip serve`);
    }
    if (!switched) {
      this.deps.store.databaseMigrations.finishInterrupted(record.id, "flip serve stopped while the command ran");
      // A slot this deployment had started deploying to (a deploy, or a retired standby being
      // redeployed) never got traffic. Interrupted before that (expanding), the standby is left alone.
      if (this.deps.store.slot(target).state === "deploying") await steps.discardIdleSlot(target);
      return this.finish(run, "aborted", `flip serve stopped during ${phase}; traffic stayed on ${live ?? "nothing"}`);
    }
    steps.markLive(target);
    const monitoringStart = this.deps.store.phasesOf(record.id).find((p) => p.phase === "monitoring")?.startedAt;
    if (record.kind !== "deploy" && monitoringStart === undefined) {
      return this.finish(run, "succeeded", `traffic on ${target} (completed before a restart of flip serve)`);
    }
    steps.log(`resuming after a restart of flip serve: ${target} is live and passed its checks`);
    const elapsed = monitoringStart === undefined ? 0 : this.deps.clock.now() - monitoringStart;
    const remainingMs = Math.max(this.deps.config.monitor.interval, this.deps.config.monitor.duration - elapsed);
    return this.watchAndDecide(run, steps, target, previous, remainingMs);
  }
}

function throwIfAborted(run: Run): void {
  if (run.signal.aborted) throw run.signal.reason;
}

function abortReason(run: Run, error: unknown): string {
  if (run.abortedBy) return `aborted by ${run.abortedBy}`;
  if (error instanceof AbortRequested) return error.message;
  return describeError(error);
}
