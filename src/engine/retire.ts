// The cheap standby (`retire:`): after a switch, the old live slot is scaled down to
// standbyReplicas after scaleDownAfter, and stopped after retireAfter. The schedule lives in the
// store (written when traffic moves), so a restarted `flip serve` re-arms it from there; the timer
// runs on the injected clock. An action never runs while a deployment does: the deployment that
// planned it may still be monitoring, and cutting a monitor short is the trap this avoids. It runs
// as soon as that deployment ends well, and is cancelled when it does not.
import { formatDuration } from "../core/duration.js";
import { BadRequestError, describeError, PlatformError } from "../core/errors.js";
import type { Slot } from "../core/slots.js";
import type { StandbyAction, StandbyActionKind } from "../store/standby.js";
import type { EngineDeps } from "./deps.js";

export interface SchedulerHooks {
  /** A line in the running deployment's log (e.g. "the scale-down waits for the monitor"). */
  noteToRunning(message: string): void;
  /** After a standby was retired (the migrations' contract may follow). */
  afterRetire(action: StandbyAction): Promise<void>;
}

/** Why an action no longer applies to its slot, or undefined when it still does. Pure. */
export function staleReason(action: StandbyAction, slot: { version: string | undefined; state: string }, live: Slot | undefined, planner: { outcome: string } | undefined): string | undefined {
  if (planner && planner.outcome !== "succeeded" && planner.outcome !== "running") return `${action.deploymentId} ended ${planner.outcome}`;
  if (live === action.slot) return `${action.slot} is live again`;
  if (slot.version !== action.version) return `${action.slot} runs ${slot.version ?? "nothing"} now, not ${action.version}`;
  const allowed = action.action === "scale-down" ? ["standby"] : ["standby", "scaled-down"];
  if (!allowed.includes(slot.state)) return `${action.slot} is ${slot.state}, not a standby to ${action.action === "scale-down" ? "scale down" : "retire"}`;
  return undefined;
}

export class StandbyScheduler {
  private timer: AbortController | undefined;
  private working: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: EngineDeps,
    private readonly hooks: SchedulerHooks,
  ) {}

  /** Writes the schedule of the slot that just became the standby (before the monitor starts). */
  async plan(deploymentId: string, standby: Slot, switchedAt: number): Promise<void> {
    const retire = this.deps.config.retire;
    const { store, platform } = this.deps;
    const version = store.slot(standby).version;
    if (!retire || !version) return;
    const actions: { action: StandbyActionKind; dueAt: number }[] = [];
    if (retire.scaleDownAfter !== undefined) actions.push({ action: "scale-down", dueAt: switchedAt + retire.scaleDownAfter });
    if (retire.retireAfter !== undefined) actions.push({ action: "retire", dueAt: switchedAt + retire.retireAfter });
    if (actions.length === 0) return;
    const { replicas } = await platform.describe(standby);
    store.standby.cancelFor(standby, `replaced by the schedule of ${deploymentId}`);
    store.standby.plan({ slot: standby, version, deploymentId, replicas, actions });
    this.arm();
  }

  /** (Re)starts the timer for the earliest pending action. Called on start and whenever things change. */
  arm(): void {
    this.timer?.abort();
    if (this.stopped) return;
    const next = this.deps.store.standby.pending()[0];
    if (!next) return;
    const timer = new AbortController();
    this.timer = timer;
    this.deps.clock.sleep(Math.max(0, next.dueAt - this.deps.clock.now()), timer.signal).then(
      () => {
        if (this.timer === timer) this.runDue();
      },
      () => undefined, // re-armed or stopped
    );
  }

  /** Resolves once no action is being carried out (a deployment waits for this before it acts). */
  async idle(): Promise<void> {
    while (this.working) await this.working;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.abort();
    await this.idle();
  }

  /**
   * `flip retire`: stops the standby now instead of at retireAfter (the caller holds no deployment
   * running). Recorded as a standby action like a scheduled one, so a later rollback knows how many
   * replicas to redeploy; the slot's pending actions are cancelled. Resolves once it is stopped.
   */
  async retireNow(slot: Slot, actor: string): Promise<StandbyAction> {
    await this.idle();
    const { store, platform } = this.deps;
    const record = store.slot(slot);
    if ((record.state !== "standby" && record.state !== "scaled-down") || record.version === undefined) {
      throw new BadRequestError(`There is no standby to retire: ${slot} is ${record.state}${record.version ? ` (${record.version})` : ""}.`, "`flip status` shows both slots; only a slot kept for a rollback (standby or scaled down) can be retired.");
    }
    const earlier = store.standby.latest(slot, record.version);
    // A scaled-down standby's full size is what it had when it became the standby.
    const replicas = earlier?.replicas ?? (await platform.describe(slot)).replicas;
    const deploymentId = earlier?.deploymentId ?? store.listDeployments({ limit: 1 })[0]?.id ?? "-";
    store.standby.cancelFor(slot, `retired now by ${actor}`);
    const [action] = store.standby.plan({ slot, version: record.version, deploymentId, replicas, actions: [{ action: "retire", dueAt: this.deps.clock.now() }] });
    if (!action) throw new Error("the standby store planned no action");
    const work = this.retire(action, actor);
    this.working = work;
    try {
      await work;
    } finally {
      this.working = undefined;
      this.arm();
    }
    const done = store.standby.history(20).find((entry) => entry.id === action.id);
    if (done?.outcome !== "done") {
      throw new PlatformError(`Could not retire standby ${slot} (${record.version}): ${done?.note ?? "unknown failure"}.`, "It is still the standby; see the serve log, then try `flip retire` again.");
    }
    return done;
  }

  /** Carries out every action that is due, unless a deployment is running (then its end re-arms). */
  runDue(): void {
    if (this.working || this.stopped) return;
    const { store, clock, logger } = this.deps;
    const due = store.standby.pending().filter((action) => action.dueAt <= clock.now());
    if (due.length === 0) return this.arm();
    const running = store.runningDeployment();
    if (running) {
      const message = `standby ${due[0]?.slot}: the ${due.map((a) => a.action).join(" and ")} due now waits until ${running.id} (${running.phase}) has ended`;
      logger.info({ deployment: running.id }, message);
      this.hooks.noteToRunning(message);
      return;
    }
    this.working = (async () => {
      try {
        for (const action of due) await this.carryOut(action);
      } catch (error) {
        logger.error({ error: describeError(error) }, "the standby schedule failed unexpectedly");
      } finally {
        this.working = undefined;
      }
      this.arm();
    })();
  }

  private async carryOut(action: StandbyAction): Promise<void> {
    const { store, router } = this.deps;
    const stale = staleReason(action, store.slot(action.slot), await router.live(), store.deployment(action.deploymentId));
    if (stale) {
      store.standby.complete(action.id, "cancelled", stale);
      this.deps.logger.info({ slot: action.slot, action: action.action }, `standby ${action.action} cancelled: ${stale}`);
      return;
    }
    if (action.action === "scale-down") await this.scaleDown(action);
    else await this.retire(action);
  }

  /** Persist (slot scaled-down), then act; a failure puts the slot back as a full standby. */
  private async scaleDown(action: StandbyAction): Promise<void> {
    const { store, platform, router, config } = this.deps;
    const target = config.retire?.standbyReplicas ?? 1;
    const { slot, version } = action;
    const { replicas } = await platform.describe(slot);
    store.updateSlot(slot, { state: "scaled-down" });
    try {
      if (replicas > target) await platform.scale(slot, target);
      await router.setTargets(slot, await platform.endpoints(slot));
    } catch (error) {
      store.updateSlot(slot, { state: "standby" });
      store.standby.complete(action.id, "failed", describeError(error));
      this.audit("standby.scale-down-failed", action, `could not scale standby ${slot} (${version}) down to ${target}: ${describeError(error)}; it keeps running at full size`);
      return;
    }
    store.standby.complete(action.id, "done", `${replicas} → ${target} replicas`);
    const after = formatDuration(config.retire?.scaleDownAfter ?? 0);
    this.audit("standby.scaled-down", action, `standby ${slot} (${version}) scaled down from ${replicas} to ${target} replica${target === 1 ? "" : "s"}, ${after} after the switch of ${action.deploymentId}; a rollback scales it back up and checks it first`);
  }

  /** Persist (slot retired), take it out of the router, stop it. Its version stays on record. */
  private async retire(action: StandbyAction, actor = "engine"): Promise<void> {
    const { store, platform, router } = this.deps;
    const { slot, version } = action;
    const before = store.slot(slot).state;
    store.updateSlot(slot, { state: "retired" });
    try {
      await router.setTargets(slot, []);
      await platform.stop(slot);
    } catch (error) {
      store.updateSlot(slot, { state: before });
      store.standby.complete(action.id, "failed", describeError(error));
      this.audit("standby.retire-failed", action, `could not retire standby ${slot} (${version}): ${describeError(error)}`, actor);
      return;
    }
    store.standby.complete(action.id, "done", "stopped");
    this.audit("standby.retired", action, `standby ${slot} (${version}) retired (stopped)${actor === "engine" ? "" : ` by ${actor}`}; a rollback to ${version} now redeploys it through the full flow, which is not instant`, actor);
    await this.hooks.afterRetire(action);
  }

  private audit(kind: string, action: StandbyAction, message: string, actor = "engine"): void {
    this.deps.store.appendEvent({ actor, kind, message, deploymentId: action.deploymentId, data: { slot: action.slot, version: action.version, plannedBy: action.deploymentId, action: action.action } });
    this.deps.logger.info({ slot: action.slot }, message);
  }
}
