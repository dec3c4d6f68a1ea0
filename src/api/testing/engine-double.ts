// An honest stand-in for the engine, for API and CLI tests: it keeps deployments in memory the way
// the store would, records every call, and emits the events a test drives (storing them first,
// like the real engine). It runs no flow of its own.
import type { CheckResult } from "../../checks/types.js";
import type { Outcome, Phase } from "../../core/phases.js";
import type { Slot } from "../../core/slots.js";
import { LockedError, NotFoundError, NothingRunningError } from "../../core/errors.js";
import type { ActionOptions, DeploymentDetail, DeploymentPlan, DeploymentSummary, EngineApi, FlowEvent, StandbyRetired, StatusView } from "../../engine/views.js";
import type { EventRecord, SampleRecord } from "../../store/records.js";

export interface RecordedCall {
  method: string;
  args: unknown[];
}

export class EngineDouble implements EngineApi {
  readonly calls: RecordedCall[] = [];
  readonly deployments = new Map<string, DeploymentDetail>();
  readonly audit: EventRecord[] = [];
  /** Thrown by the next action (deploy, switchTo, ...) instead of doing it. */
  failNextAction: Error | undefined;
  /** Runs inside deployment(id), before it answers: lets a test emit "between" subscribe and read. */
  onDeploymentRead: ((id: string) => void) | undefined;
  now = 1_700_000_000_000;
  live: Slot | undefined = "blue";
  private readonly listeners = new Map<string, Set<(event: FlowEvent) => void>>();
  private readonly allListeners = new Set<(event: FlowEvent) => void>();
  private nextId = 1;

  get listenerCount(): number {
    let count = this.allListeners.size;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }

  async status(): Promise<StatusView> {
    this.calls.push({ method: "status", args: [] });
    const running = [...this.deployments.values()].find((d) => d.outcome === "running");
    return {
      app: "hello",
      live: this.live,
      slots: {
        blue: { slot: "blue", version: "v1", state: this.live === "blue" ? "live" : "standby", replicas: 2, runningReplicas: 2 },
        green: { slot: "green", version: undefined, state: "empty", replicas: 0, runningReplicas: 0 },
      },
      deployment: running ? summaryOf(running) : undefined,
      router: { kind: "builtin", listen: "127.0.0.1:8080" },
      platform: { kind: "process" },
    };
  }

  history(limit?: number): DeploymentSummary[] {
    this.calls.push({ method: "history", args: [limit] });
    return [...this.deployments.values()].reverse().slice(0, limit ?? 50).map(summaryOf);
  }

  deployment(id: string): DeploymentDetail {
    this.calls.push({ method: "deployment", args: [id] });
    this.onDeploymentRead?.(id);
    const detail = this.deployments.get(id);
    if (!detail) throw new NotFoundError(`No deployment with id "${id}".`, "See `flip history` for the ids.");
    return structuredClone(detail);
  }

  auditLog(limit?: number): EventRecord[] {
    this.calls.push({ method: "auditLog", args: [limit] });
    return this.audit.slice(0, limit ?? 100);
  }

  async planDeploy(version: string, options: ActionOptions): Promise<DeploymentPlan> {
    this.calls.push({ method: "planDeploy", args: [version, options] });
    const error = this.failNextAction;
    this.failNextAction = undefined;
    if (error) throw error;
    const slot = this.live === "blue" ? "green" : "blue";
    return { version, slot, fromSlot: this.live, steps: [{ phase: "deploying", changes: [`run ${version} in ${slot}`] }] };
  }

  async deploy(version: string, options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "deploy", args: [version, options] });
    return summaryOf(this.begin("deploy", version, this.live === "blue" ? "green" : "blue", options));
  }

  async switchTo(slot: Slot, options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "switchTo", args: [slot, options] });
    return summaryOf(this.begin("switch", "v1", slot, options));
  }

  async rollback(options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "rollback", args: [options] });
    return summaryOf(this.begin("rollback", "v1", this.live === "blue" ? "green" : "blue", options));
  }

  async contract(options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "contract", args: [options] });
    return summaryOf(this.begin("contract", "v1", this.live ?? "blue", options));
  }

  async retire(options: ActionOptions): Promise<StandbyRetired> {
    this.calls.push({ method: "retire", args: [options] });
    const error = this.failNextAction;
    this.failNextAction = undefined;
    if (error) throw error;
    const slot = this.live === "blue" ? "green" : "blue";
    return { slot, version: "v1" };
  }

  async abort(options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "abort", args: [options] });
    return summaryOf(this.requireRunning("abort"));
  }

  async promote(options: ActionOptions): Promise<DeploymentSummary> {
    this.calls.push({ method: "promote", args: [options] });
    return summaryOf(this.requireRunning("promote"));
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

  // ---- what a test drives -----------------------------------------------------------------

  /** Stores a new phase (closing the previous one) and emits it. */
  enterPhase(id: string, phase: Phase, detail?: string): void {
    const deployment = this.get(id);
    const at = this.tick();
    const open = deployment.phases.at(-1);
    if (open && open.finishedAt === undefined) open.finishedAt = at;
    deployment.phases.push({ deploymentId: id, phase, startedAt: at, finishedAt: undefined, detail });
    deployment.phase = phase;
    this.emit({ type: "phase", deploymentId: id, phase, at, ...(detail === undefined ? {} : { detail }) });
  }

  recordCheck(id: string, result: Omit<CheckResult, "at">): CheckResult {
    const stored: CheckResult = { ...result, at: this.tick() };
    this.get(id).checks.push(stored);
    this.emit({ type: "check", deploymentId: id, result: stored });
    return stored;
  }

  recordSample(id: string, sample: Omit<SampleRecord, "deploymentId" | "at">, remainingMs: number): void {
    const stored: SampleRecord = { ...sample, deploymentId: id, at: this.tick() };
    this.get(id).samples.push(stored);
    this.emit({ type: "sample", deploymentId: id, sample: stored, remainingMs });
  }

  finish(id: string, outcome: Exclude<Outcome, "running">, reason: string): void {
    const deployment = this.get(id);
    const at = this.tick();
    const open = deployment.phases.at(-1);
    if (open && open.finishedAt === undefined) open.finishedAt = at;
    deployment.phases.push({ deploymentId: id, phase: outcome, startedAt: at, finishedAt: at, detail: reason });
    Object.assign(deployment, { phase: outcome, outcome, reason, finishedAt: new Date(at).toISOString(), durationMs: at - Date.parse(deployment.startedAt) });
    this.emit({ type: "finished", deploymentId: id, outcome, reason, deployment: summaryOf(deployment) });
  }

  /** Emits without storing: what a listener sees if the engine emitted before writing. */
  emit(event: FlowEvent): void {
    for (const listener of [...(this.listeners.get(event.deploymentId) ?? []), ...this.allListeners]) listener(event);
  }

  private begin(kind: DeploymentDetail["kind"], version: string, slot: Slot, options: ActionOptions): DeploymentDetail {
    if (this.failNextAction) {
      const error = this.failNextAction;
      this.failNextAction = undefined;
      throw error;
    }
    const running = [...this.deployments.values()].find((d) => d.outcome === "running");
    if (running) throw new LockedError(running.id, `${running.kind} ${running.version} to ${running.slot}, phase ${running.phase}`);
    const id = `d-${this.nextId++}`;
    const at = this.tick();
    const detail: DeploymentDetail = {
      id,
      kind,
      version,
      slot,
      fromSlot: this.live,
      phase: "queued",
      outcome: "running",
      reason: undefined,
      actor: options.actor,
      startedAt: new Date(at).toISOString(),
      finishedAt: undefined,
      durationMs: undefined,
      phases: [{ deploymentId: id, phase: "queued", startedAt: at, finishedAt: undefined, detail: undefined }],
      checks: [],
      samples: [],
    };
    this.deployments.set(id, detail);
    return detail;
  }

  private requireRunning(what: string): DeploymentDetail {
    if (this.failNextAction) {
      const error = this.failNextAction;
      this.failNextAction = undefined;
      throw error;
    }
    const running = [...this.deployments.values()].find((d) => d.outcome === "running");
    if (!running) throw new NothingRunningError(what);
    return running;
  }

  private get(id: string): DeploymentDetail {
    const deployment = this.deployments.get(id);
    if (!deployment) throw new Error(`test bug: no deployment ${id}`);
    return deployment;
  }

  private tick(): number {
    this.now += 1000;
    return this.now;
  }
}

function summaryOf(detail: DeploymentDetail): DeploymentSummary {
  const { phases: _phases, checks: _checks, samples: _samples, ...summary } = detail;
  return { ...summary };
}
