// The deploy engine: one implementation of every action (deploy, switch, rollback, abort,
// promote), the flows that run them, and reconcile-on-start. The API, CLI and dashboard ask it;
// it knows drivers only through the Platform, Router and MetricsSource interfaces.
import {
  BadRequestError,
  ContractBlockedError,
  describeError,
  EmptySlotError,
  NoChecksError,
  NoStandbyError,
  NotFoundError,
  NothingRunningError,
  SchemaContractedError,
} from "../core/errors.js";
import { idleSlotFor, otherSlot, type Slot } from "../core/slots.js";
import type { PlatformEvent } from "../platforms/platform.js";
import type { DeploymentRecord, EventRecord } from "../store/records.js";
import { lockedBy, type BeginDeploymentInput } from "../store/store.js";
import type { EngineDeps } from "./deps.js";
import { DeploymentFlows, type Finish } from "./flows.js";
import { checkedAfter, contractBlocker, contractedSchemaRefusal } from "./migrations.js";
import { StandbyScheduler } from "./retire.js";
import { Run, ShutdownRequested } from "./run.js";
import { planSteps } from "./plan.js";
import { Steps } from "./steps.js";
import {
  summarize,
  type ActionOptions,
  type DeploymentDetail,
  type StandbyRetired,
  type DeploymentPlan,
  type DeploymentSummary,
  type EngineApi,
  type FlowEvent,
  type StatusView,
} from "./views.js";
import { EventHub } from "./event-hub.js";
import { readStatus } from "./status.js";

export class Engine implements EngineApi {
  private current: Run | undefined;
  private readonly events: EventHub;
  private readonly emit: (event: FlowEvent) => void;
  private readonly scheduler: StandbyScheduler;
  private readonly flows: DeploymentFlows;

  constructor(private readonly deps: EngineDeps) {
    this.events = new EventHub(deps.logger);
    this.emit = this.events.emit;
    this.scheduler = new StandbyScheduler(deps, {
      noteToRunning: (message) => {
        if (this.current) new Steps(this.deps, this.current, this.emit).log(message);
      },
      afterRetire: () => this.contractAfterRetire(),
    });
    this.flows = new DeploymentFlows(deps, (run, phase, reason) => this.finish(run, phase, reason), this.scheduler);
  }

  // ---- reads -------------------------------------------------------------------------------

  status(): Promise<StatusView> {
    return readStatus(this.deps);
  }

  history(limit = 50): DeploymentSummary[] {
    return this.deps.store.listDeployments({ limit }).map(summarize);
  }

  deployment(id: string): DeploymentDetail {
    const { store } = this.deps;
    const record = store.deployment(id);
    if (!record) throw new NotFoundError(`No deployment with id "${id}".`, "See `flip history` for the ids.");
    return { ...summarize(record), phases: store.phasesOf(id), checks: store.checksOf(id), samples: store.samplesOf(id), logs: this.events.logsOf(id) };
  }

  auditLog(limit = 100): EventRecord[] {
    return this.deps.store.events({ limit });
  }

  subscribe(deploymentId: string, listener: (event: FlowEvent) => void): () => void {
    return this.events.subscribe(deploymentId, listener);
  }

  subscribeAll(listener: (event: FlowEvent) => void): () => void {
    return this.events.subscribeAll(listener);
  }

  // ---- actions -----------------------------------------------------------------------------

  private refuseDeploy(version: string, options: ActionOptions): void {
    if (version.trim() === "") throw new BadRequestError("The version is empty.", "Give the version to deploy, e.g. `flip deploy v2`.");
    if (this.deps.config.checks.length === 0 && !options.force) throw new NoChecksError();
  }

  async deploy(version: string, options: ActionOptions): Promise<DeploymentSummary> {
    this.refuseDeploy(version, options);
    const live = await this.deps.router.live();
    const idle = idleSlotFor(live);
    const record = this.begin({
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
    return this.launch(record, (run, steps) => this.flows.runDeploy(run, steps, record, { gates: { now: options.now ?? false } }));
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
        ...(live && store.slot(live).version ? { previousVersion: store.slot(live).version } : {}),
      }),
    };
  }

  async switchTo(slot: Slot, options: ActionOptions): Promise<DeploymentSummary> {
    const target = this.deps.store.slot(slot);
    const endpoints = await this.deps.platform.endpoints(slot);
    if (!target.version || endpoints.length === 0) throw new EmptySlotError(slot, target.version ? `${target.version} is not running there` : "no version runs there");
    if (this.deps.config.checks.length === 0 && !options.force) throw new NoChecksError();
    const live = await this.deps.router.live();
    const record = this.begin({
      kind: "switch",
      version: target.version,
      slot,
      ...(live ? { fromSlot: live } : {}),
      ...(live ? { previousVersion: this.deps.store.slot(live).version } : {}),
      actor: options.actor,
      force: options.force ?? false,
    });
    return this.launch(record, (run, steps) => this.flows.runSwitch(run, steps, record, !options.force));
  }

  /**
   * Flips back to the standby: instantly when it runs at full size; after scaling it back up and
   * checking it when it was scaled down; through the full deploy flow when it was retired.
   */
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
    this.refuseContractedRollback(target.version, options);
    const kept = target.state === "scaled-down" || target.state === "retired";
    if (!kept && (await platform.endpoints(standby)).length === 0) throw new NoStandbyError(`${standby} (${target.version}) has no running replica`);
    const record = this.begin({
      kind: "rollback",
      version: target.version,
      slot: standby,
      fromSlot: live,
      ...(store.slot(live).version ? { previousVersion: store.slot(live).version } : {}),
      actor: options.actor,
      force: options.force ?? false,
    });
    if (target.state === "retired") {
      const note = `rollback to ${target.version}: standby ${standby} was retired, so this redeploys it through the full flow — not an instant rollback`;
      return this.launch(record, (run, steps) => this.flows.runDeploy(run, steps, record, { gates: false, note }));
    }
    if (target.state === "scaled-down") {
      const replicas = store.standby.latest(standby, target.version)?.replicas ?? 1;
      return this.launch(record, (run, steps) => this.flows.runScaledUpRollback(run, steps, record, replicas));
    }
    return this.launch(record, (run, steps) => this.flows.runRollback(run, steps, record));
  }

  /** After `migrations.contract` ran, a version that never passed its checks against the result is not a safe target. */
  private refuseContractedRollback(version: string, options: ActionOptions): void {
    const { store, logger } = this.deps;
    const contract = store.databaseMigrations.lastContract();
    const refusal = contractedSchemaRefusal(version, contract, contract !== undefined && checkedAfter(store, version, contract));
    if (!refusal) return;
    if (!options.force) {
      throw new SchemaContractedError(
        refusal,
        `Deploy a version that works with the contracted schema, or pass --force to switch to ${version} anyway — at the risk of errors for every request that touches what the contract removed, until the next deploy.`,
      );
    }
    logger.warn({ version }, `forced rollback past a contracted schema: ${refusal}`);
  }

  /**
   * `flip contract`: runs migrations.contract for the live version, as a deployment of its own
   * (under the deploy lock, in the history), once no rollback target runs an older version.
   */
  async contract(options: ActionOptions): Promise<DeploymentSummary> {
    const { store, router, config } = this.deps;
    if (config.migrations?.contract === undefined) {
      throw new BadRequestError("No contract command is configured.", 'Add `migrations: { contract: "<command>" }` to flip.yaml (see docs/configuration.md).');
    }
    const running = store.runningDeployment();
    if (running) throw lockedBy(running);
    const live = await router.live();
    const liveVersion = live ? store.slot(live).version : undefined;
    const standby = otherSlot(live ?? "green");
    const standbyRecord = store.slot(standby);
    const retireAt = store.standby.pending().find((action) => action.slot === standby && action.action === "retire")?.dueAt;
    const blocked = contractBlocker({ liveVersion, standby: { slot: standby, version: standbyRecord.version, state: standbyRecord.state }, retireAt: retireAt === undefined ? undefined : new Date(retireAt).toISOString() });
    if (blocked || !live || liveVersion === undefined) throw new ContractBlockedError(blocked?.message ?? "Nothing is live.", blocked?.hint ?? "Deploy a version first.");
    const previousVersion = standbyRecord.version !== liveVersion ? standbyRecord.version : store.listDeployments().find((d) => d.kind === "deploy" && d.version === liveVersion)?.previousVersion;
    const record = this.begin({ kind: "contract", version: liveVersion, slot: live, ...(previousVersion ? { previousVersion } : {}), actor: options.actor });
    return this.launch(record, (run, steps) => this.flows.runContract(run, steps, record));
  }

  /** `flip retire`: stops the standby now, not at retireAfter; a rollback then redeploys it. */
  async retire(options: ActionOptions): Promise<StandbyRetired> {
    const { store, router } = this.deps;
    const running = store.runningDeployment();
    if (running) throw lockedBy(running);
    const live = await router.live();
    if (!live) throw new BadRequestError("Nothing is live, so there is no standby to retire.", "`flip status` shows both slots.");
    const action = await this.scheduler.retireNow(otherSlot(live), options.actor);
    return { slot: action.slot, version: action.version };
  }

  /** migrations.contractAfterRetire: the standby that ran the previous version is gone, so contract now. */
  private async contractAfterRetire(): Promise<void> {
    if (!this.deps.config.migrations?.contractAfterRetire) return;
    try {
      await this.contract({ actor: "engine" });
    } catch (error) {
      this.deps.store.appendEvent({ actor: "engine", kind: "contract.skipped", message: `the contract after the standby's retirement did not run: ${describeError(error)}` });
      this.deps.logger.warn({ error: describeError(error) }, "contract after retirement did not run");
    }
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
    if (state !== "live" && state !== "standby" && state !== "idle" && state !== "scaled-down") return; // a deploy publishes its slot itself
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
      this.launch(running, (run, steps) => this.flows.resume(run, steps, running, live));
    } else if (live && store.slot(live).state !== "live") {
      new Steps(this.deps, new Run("-"), () => {}).markLive(live);
    }
    // The standby's schedule is in the store: a restart picks it up where it was.
    this.scheduler.arm();
  }

  /** Stops running flows without finishing them: the next start reconciles them. */
  async stop(): Promise<void> {
    await this.scheduler.stop();
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
        await this.scheduler.idle(); // a standby being scaled down or retired right now is left alone until then
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
    // Its old live slot is the live one again (or traffic never moved): nothing of it to retire.
    if (phase !== "succeeded") store.standby.cancelPlannedBy(run.id, `${run.id} ended ${phase}`);
    this.emit({ type: "finished", deploymentId: run.id, outcome: record.outcome, reason: record.reason, deployment: summarize(record) });
    // Actions that came due while this deployment ran (its monitor, say) go now.
    queueMicrotask(() => this.scheduler.arm());
    return phase;
  }

  /**
   * Takes the deploy lock. A switch or rollback targets the standby, which stops being one: its
   * schedule is cancelled. (A deploy cancels it when it starts deploying; a contract moves nothing.)
   */
  private begin(input: BeginDeploymentInput): DeploymentRecord {
    const { store } = this.deps;
    return store.transaction(() => {
      const record = store.beginDeployment(input);
      if (input.kind === "switch" || input.kind === "rollback") store.standby.cancelFor(input.slot, `${record.id} (${input.kind} to ${input.slot})`);
      return record;
    });
  }
}
