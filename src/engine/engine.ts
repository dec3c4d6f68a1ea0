// The deploy engine: one implementation of every action (deploy, switch, rollback, abort,
// promote), the flows that run them, and reconcile-on-start. The API, CLI and dashboard ask it;
// it knows drivers only through the Platform, Router and MetricsSource interfaces.
import { BadRequestError, describeError, EmptySlotError, NoChecksError, NoStandbyError, NotFoundError, NothingRunningError } from "../core/errors.js";
import { isBeforeSwitch } from "../core/phases.js";
import { idleSlotFor, otherSlot, SLOTS, type Slot } from "../core/slots.js";
import type { PlatformEvent } from "../platforms/platform.js";
import type { DeploymentRecord, EventRecord } from "../store/records.js";
import { lockedBy } from "../store/store.js";
import type { EngineDeps } from "./deps.js";
import { SwitchGates, type GateOptions } from "./gates.js";
import { AbortRequested, Run } from "./run.js";
import { planSteps } from "./plan.js";
import { describeFailedChecks, Steps } from "./steps.js";
import {
  summarize,
  type ActionOptions,
  type DeploymentDetail,
  type DeploymentPlan,
  type DeploymentSummary,
  type EngineApi,
  type FlowEvent,
  type SlotView,
  type StatusView,
} from "./views.js";

/** The reason the engine aborts a run when the controller shuts down: the run is left for reconcile. */
class ShutdownRequested extends Error {
  constructor() {
    super("flip serve is shutting down");
  }
}

type Finish = "succeeded" | "aborted" | "rolled-back" | "failed";

export class Engine implements EngineApi {
  private current: Run | undefined;
  private readonly listeners = new Map<string, Set<(event: FlowEvent) => void>>();
  private readonly allListeners = new Set<(event: FlowEvent) => void>();

  constructor(private readonly deps: EngineDeps) {}

  // ---- reads -------------------------------------------------------------------------------

  async status(): Promise<StatusView> {
    const { store, platform, router, config } = this.deps;
    const live = await router.live();
    const slots = {} as Record<Slot, SlotView>;
    for (const slot of SLOTS) {
      const record = store.slot(slot);
      const runtime = await platform.describe(slot);
      slots[slot] = {
        slot,
        version: record.version,
        state: live === slot ? "live" : record.state,
        replicas: runtime.replicas,
        runningReplicas: runtime.runningReplicas,
      };
    }
    const running = store.runningDeployment();
    return {
      app: config.app,
      live,
      slots,
      deployment: running ? summarize(running) : undefined,
      router: { kind: router.kind, ...router.listenAddresses?.() },
      platform: { kind: platform.kind },
    };
  }

  history(limit = 50): DeploymentSummary[] {
    return this.deps.store.listDeployments({ limit }).map(summarize);
  }

  deployment(id: string): DeploymentDetail {
    const { store } = this.deps;
    const record = store.deployment(id);
    if (!record) throw new NotFoundError(`No deployment with id "${id}".`, "See `flip history` for the ids.");
    return { ...summarize(record), phases: store.phasesOf(id), checks: store.checksOf(id), samples: store.samplesOf(id) };
  }

  auditLog(limit = 100): EventRecord[] {
    return this.deps.store.events({ limit });
  }

  subscribe(deploymentId: string, listener: (event: FlowEvent) => void): () => void {
    let set = this.listeners.get(deploymentId);
    if (!set) this.listeners.set(deploymentId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(deploymentId);
    };
  }

  subscribeAll(listener: (event: FlowEvent) => void): () => void {
    this.allListeners.add(listener);
    return () => this.allListeners.delete(listener);
  }

  private emit = (event: FlowEvent): void => {
    for (const listener of [...(this.listeners.get(event.deploymentId) ?? []), ...this.allListeners]) {
      try {
        listener(event);
      } catch (error) {
        this.deps.logger.warn({ error: describeError(error) }, "an event listener failed");
      }
    }
  };

  // ---- actions -----------------------------------------------------------------------------

  private refuseDeploy(version: string, options: ActionOptions): void {
    if (version.trim() === "") throw new BadRequestError("The version is empty.", "Give the version to deploy, e.g. `flip deploy v2`.");
    if (this.deps.config.checks.length === 0 && !options.force) throw new NoChecksError();
  }

  async deploy(version: string, options: ActionOptions): Promise<DeploymentSummary> {
    this.refuseDeploy(version, options);
    const live = await this.deps.router.live();
    const idle = idleSlotFor(live);
    const record = this.deps.store.beginDeployment({
      kind: "deploy",
      version,
      slot: idle,
      ...(live ? { fromSlot: live } : {}),
      ...(live && this.deps.store.slot(live).version ? { previousVersion: this.deps.store.slot(live).version } : {}),
      actor: options.actor,
      force: options.force ?? false,
    });
    if (options.now) {
      this.deps.store.appendEvent({
        actor: options.actor,
        kind: "deployment.window-override",
        deploymentId: record.id,
        message: `${options.actor} deploys ${version} with --now: no waiting for a switch window or a quieter live slot`,
        data: { switchWindows: this.deps.config.switchWindows.map((w) => w.text), maxRequestRate: this.deps.config.maxRequestRate },
      });
    }
    return this.launch(record, (run, steps) => this.runDeploy(run, steps, record, { now: options.now ?? false }));
  }

  async planDeploy(version: string, options: ActionOptions): Promise<DeploymentPlan> {
    const { store, platform, router } = this.deps;
    this.refuseDeploy(version, options);
    const running = store.runningDeployment();
    if (running) throw lockedBy(running);
    const live = await router.live();
    const idle = idleSlotFor(live);
    return {
      version,
      slot: idle,
      fromSlot: live,
      steps: planSteps(this.deps.config, {
        idle,
        live,
        version,
        deploy: await platform.planDeploy(idle, version),
        switchTraffic: await router.planSwitch(idle),
      }),
    };
  }

  async switchTo(slot: Slot, options: ActionOptions): Promise<DeploymentSummary> {
    const target = this.deps.store.slot(slot);
    const endpoints = await this.deps.platform.endpoints(slot);
    if (!target.version || endpoints.length === 0) throw new EmptySlotError(slot, target.version ? `${target.version} is not running there` : "no version runs there");
    if (this.deps.config.checks.length === 0 && !options.force) throw new NoChecksError();
    const live = await this.deps.router.live();
    const record = this.deps.store.beginDeployment({
      kind: "switch",
      version: target.version,
      slot,
      ...(live ? { fromSlot: live } : {}),
      ...(live ? { previousVersion: this.deps.store.slot(live).version } : {}),
      actor: options.actor,
      force: options.force ?? false,
    });
    return this.launch(record, (run, steps) => this.runSwitch(run, steps, record, !options.force));
  }

  async rollback(options: ActionOptions): Promise<DeploymentSummary> {
    const { store, router, platform } = this.deps;
    const running = store.runningDeployment();
    if (running) throw lockedBy(running);
    const live = await router.live();
    if (!live) throw new NoStandbyError("no slot is live yet");
    const standby = otherSlot(live);
    const target = store.slot(standby);
    if (!target.version || target.state === "empty" || target.state === "stopped") throw new NoStandbyError(`${standby} is empty`);
    if (target.state === "failed" && !options.force) {
      throw new NoStandbyError(`${standby} runs ${target.version}, which failed its last deployment (pass --force to switch to it anyway)`);
    }
    if ((await platform.endpoints(standby)).length === 0) throw new NoStandbyError(`${standby} (${target.version}) has no running replica`);
    const record = store.beginDeployment({
      kind: "rollback",
      version: target.version,
      slot: standby,
      fromSlot: live,
      ...(store.slot(live).version ? { previousVersion: store.slot(live).version } : {}),
      actor: options.actor,
      force: options.force ?? false,
    });
    return this.launch(record, (run, steps) => this.runRollback(run, steps, record));
  }

  async abort(options: ActionOptions): Promise<DeploymentSummary> {
    const run = this.current;
    const record = run && this.deps.store.deployment(run.id);
    if (!run || !record || record.outcome !== "running") throw new NothingRunningError("abort");
    this.deps.store.appendEvent({ actor: options.actor, kind: "deployment.abort-requested", deploymentId: run.id, message: `abort requested during ${run.phase}` });
    run.requestAbort(options.actor);
    return summarize(record);
  }

  async promote(options: ActionOptions): Promise<DeploymentSummary> {
    const run = this.current;
    const record = run && this.deps.store.deployment(run.id);
    if (!run || !record || record.outcome !== "running") throw new NothingRunningError("promote");
    if (run.phase === "awaiting-approval") {
      this.deps.store.appendEvent({ actor: options.actor, kind: "deployment.approved", deploymentId: run.id, message: `${options.actor} approved the switch of ${record.version} to ${record.slot}` });
      run.requestApprove(options.actor);
      return summarize(record);
    }
    if (run.phase !== "monitoring") {
      throw new BadRequestError(
        `Deployment ${run.id} is ${run.phase}; promote applies only while it awaits approval or is monitoring.`,
        "Wait until its checks have passed, or use `flip abort`.",
      );
    }
    this.deps.store.appendEvent({ actor: options.actor, kind: "deployment.promoted", deploymentId: run.id, message: "monitor window ended early by promote" });
    run.requestPromote(options.actor);
    return summarize(record);
  }

  /** Waits until the deployment (if the engine runs it) has finished; returns its record. */
  async waitFor(id: string): Promise<DeploymentRecord | undefined> {
    if (this.current?.id === id) await this.current.done;
    return this.deps.store.deployment(id);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Keeps the router's view of a slot in service current when a replica restarts or is adopted. */
  onPlatformEvent(event: PlatformEvent): void {
    if (event.type === "log") {
      this.forwardPlatformLog(event.slot, event.message);
      return;
    }
    const state = this.deps.store.slot(event.slot).state;
    if (state !== "live" && state !== "standby" && state !== "idle") return; // a deploy publishes its slot itself
    const steps = new Steps(this.deps, new Run("-"), () => {});
    steps.publishTargets(event.slot).catch((error: unknown) => {
      this.deps.logger.warn({ slot: event.slot, error: describeError(error) }, "could not update the router's targets");
    });
  }

  /** A platform's own words (a deploy script's output, say) belong in the running deployment's log. */
  private forwardPlatformLog(slot: Slot, message: string): void {
    const run = this.current;
    if (!run) {
      this.deps.logger.info({ slot }, message);
      return;
    }
    new Steps(this.deps, run, this.emit).log(message);
  }

  /** Reconciles what the store says with what the router says, after a restart. */
  async start(): Promise<void> {
    const { store, router, logger } = this.deps;
    const live = await router.live();
    const running = store.runningDeployment();
    if (running) {
      logger.warn({ deployment: running.id, phase: running.phase, live }, "reconciling a deployment interrupted by a restart");
      this.launch(running, (run, steps) => this.resume(run, steps, running, live));
    } else if (live && store.slot(live).state !== "live") {
      new Steps(this.deps, new Run("-"), () => {}).markLive(live);
    }
  }

  /** Stops running flows without finishing them: the next start reconciles them. */
  async stop(): Promise<void> {
    const run = this.current;
    if (!run) return;
    run.abortController.abort(new ShutdownRequested());
    await run.done;
  }

  // ---- flows -------------------------------------------------------------------------------

  private launch(record: DeploymentRecord, flow: (run: Run, steps: Steps) => Promise<Finish | undefined>): DeploymentSummary {
    const run = new Run(record.id);
    run.phase = record.phase;
    const steps = new Steps(this.deps, run, this.emit);
    this.current = run;
    run.done = (async () => {
      try {
        await flow(run, steps);
      } catch (error) {
        if (run.signal.reason instanceof ShutdownRequested) return;
        // Unexpected: never leave the lock held. Traffic decisions were made inside the flow.
        this.deps.logger.error({ deployment: run.id, error }, "deployment flow failed unexpectedly");
        this.finish(run, "failed", `unexpected error: ${describeError(error)}`);
      } finally {
        if (this.current === run) this.current = undefined;
      }
    })();
    return summarize(record);
  }

  private finish(run: Run, phase: Finish, reason: string): Finish {
    const store = this.deps.store;
    const existing = store.deployment(run.id);
    if (!existing || existing.outcome !== "running") return phase;
    const record = store.finishDeployment(run.id, phase, reason);
    this.deps.logger.info({ deployment: run.id, outcome: phase, reason }, `deployment ${phase}`);
    this.emit({ type: "finished", deploymentId: run.id, outcome: record.outcome, reason: record.reason, deployment: summarize(record) });
    return phase;
  }

  /** deploying → waiting-ready → checking → (awaiting-approval → awaiting-window) → switching → verifying-switch → monitoring */
  private async runDeploy(run: Run, steps: Steps, record: DeploymentRecord, gateOptions: GateOptions): Promise<Finish | undefined> {
    const { slot: idle, fromSlot: live, version } = record;
    const stayed = `traffic stayed on ${live ?? "nothing"}`;
    try {
      await steps.deployIdleSlot(idle, version);
      await steps.waitForReady(idle);
      let failures = await steps.runSlotChecks(idle, version);
      if (failures.length === 0) {
        const gate = await new SwitchGates(this.deps, run, steps).beforeSwitch(live, gateOptions);
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
      this.throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      await steps.discardIdleSlot(idle);
      return this.finish(run, "aborted", `${abortReason(run, error)}; ${stayed}`);
    }
    return this.switchAndWatch(run, steps, idle, live, record.actor, true);
  }

  /** switching → verifying-switch → (monitoring) → done; rolls back on any failure after the switch. */
  private async switchAndWatch(run: Run, steps: Steps, to: Slot, from: Slot | undefined, actor: string, monitor: boolean): Promise<Finish | undefined> {
    try {
      await steps.switchTraffic(to, from, actor);
      await steps.verifySwitch(to);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.rollBackOrFail(run, steps, to, from, `switch to ${to} failed: ${describeError(error)}`);
    }
    if (!monitor) return this.finish(run, "succeeded", `traffic on ${to}`);
    return this.watchAndDecide(run, steps, to, from);
  }

  private async watchAndDecide(run: Run, steps: Steps, to: Slot, from: Slot | undefined, remainingMs?: number): Promise<Finish | undefined> {
    const verdict = await steps.watchAfterSwitch(to, remainingMs);
    if ("interrupted" in verdict) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      if (verdict.interrupted === "promoted") return this.finish(run, "succeeded", `promoted by ${verdict.actor}; traffic on ${to}`);
      return this.rollBackOrFail(run, steps, to, from, `aborted by ${verdict.actor}`);
    }
    if (verdict.healthy) return this.finish(run, "succeeded", `traffic on ${to}; ${verdict.note}`);
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

  private async runSwitch(run: Run, steps: Steps, record: DeploymentRecord, withChecks: boolean): Promise<Finish | undefined> {
    try {
      await steps.waitForReady(record.slot);
      if (withChecks) {
        const failures = await steps.runSlotChecks(record.slot, record.version);
        if (failures.length > 0) return this.finish(run, "aborted", `${describeFailedChecks(failures)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
      }
      this.throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `${abortReason(run, error)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
    }
    return this.switchAndWatch(run, steps, record.slot, record.fromSlot, record.actor, false);
  }

  /** Rollback needs no version: it flips to the standby once it answers its readiness probe. */
  private async runRollback(run: Run, steps: Steps, record: DeploymentRecord): Promise<Finish | undefined> {
    try {
      await steps.waitForReady(record.slot);
      this.throwIfAborted(run);
    } catch (error) {
      if (run.signal.reason instanceof ShutdownRequested) return undefined;
      return this.finish(run, "aborted", `standby ${record.slot} is not ready: ${abortReason(run, error)}; traffic stayed on ${record.fromSlot ?? "nothing"}`);
    }
    return this.switchAndWatch(run, steps, record.slot, record.fromSlot, record.actor, false);
  }

  /** After a restart: finish what the store says was happening, so traffic is on a checked slot. */
  private async resume(run: Run, steps: Steps, record: DeploymentRecord, live: Slot | undefined): Promise<Finish | undefined> {
    const { slot: target, fromSlot: previous, phase } = record;
    const switched = live === target && (phase === "switching" || !isBeforeSwitch(phase));
    if (phase === "rolling-back" && previous) {
      await steps.rollBack(previous, target, record.reason ?? "rollback interrupted by a restart", "engine");
      return this.finish(run, "rolled-back", `${record.reason ?? "rolled back"}; completed after a restart of flip serve`);
    }
    if (!switched) {
      if (record.kind === "deploy") await steps.discardIdleSlot(target);
      return this.finish(run, "aborted", `flip serve stopped during ${phase}; traffic stayed on ${live ?? "nothing"}`);
    }
    if (record.kind !== "deploy") {
      steps.markLive(target);
      return this.finish(run, "succeeded", `traffic on ${target} (completed before a restart of flip serve)`);
    }
    steps.markLive(target);
    steps.log(`resuming after a restart of flip serve: ${target} is live and passed its checks`);
    const monitoringStart = this.deps.store.phasesOf(record.id).find((p) => p.phase === "monitoring")?.startedAt;
    const elapsed = monitoringStart === undefined ? 0 : this.deps.clock.now() - monitoringStart;
    const remainingMs = Math.max(this.deps.config.monitor.interval, this.deps.config.monitor.duration - elapsed);
    return this.watchAndDecide(run, steps, target, previous, remainingMs);
  }

  private throwIfAborted(run: Run): void {
    if (run.signal.aborted) throw run.signal.reason;
  }
}

function abortReason(run: Run, error: unknown): string {
  if (run.abortedBy) return `aborted by ${run.abortedBy}`;
  if (error instanceof AbortRequested) return error.message;
  return describeError(error);
}
