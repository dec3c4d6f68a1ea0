// What the engine shows the outside world (API, CLI, dashboard): plain JSON-able views and the
// events of a deployment as it runs. The API serialises these as they are.
import type { CheckResult } from "../checks/types.js";
import type { DeploymentKind, Outcome, Phase } from "../core/phases.js";
import type { RuleResult } from "../core/rules.js";
import type { Slot, SlotState } from "../core/slots.js";
import type { DeploymentRecord, EventRecord, PhaseRecord, SampleRecord } from "../store/records.js";
import type { LogLine } from "./recent-logs.js";

export interface SlotView {
  slot: Slot;
  version: string | undefined;
  state: SlotState;
  replicas: number;
  runningReplicas: number;
  /** A standby's upcoming scale-down and retirement (retire: in flip.yaml), earliest first. */
  scheduled?: { action: "scale-down" | "retire"; at: string }[];
}

export interface StatusView {
  app: string;
  live: Slot | undefined;
  slots: Record<Slot, SlotView>;
  /** The running deployment, if any. */
  deployment: DeploymentSummary | undefined;
  router: { kind: string; listen?: string; preview?: string };
  platform: { kind: string };
}

export interface DeploymentSummary {
  id: string;
  kind: DeploymentKind;
  version: string;
  slot: Slot;
  fromSlot: Slot | undefined;
  phase: Phase;
  outcome: Outcome;
  reason: string | undefined;
  actor: string;
  startedAt: string;
  finishedAt: string | undefined;
  durationMs: number | undefined;
}

export interface DeploymentDetail extends DeploymentSummary {
  phases: PhaseRecord[];
  checks: CheckResult[];
  samples: SampleRecord[];
  /** Log lines this controller still holds in memory (the last few deployments'; see recent-logs.ts). */
  logs?: LogLine[];
}

/** Events of one deployment, in the order they happen. `finished` is always the last one. */
export type FlowEvent =
  | { type: "phase"; deploymentId: string; phase: Phase; at: number; detail?: string }
  | { type: "check"; deploymentId: string; result: CheckResult }
  | { type: "sample"; deploymentId: string; sample: SampleRecord; remainingMs: number }
  | { type: "log"; deploymentId: string; at: number; message: string }
  | { type: "finished"; deploymentId: string; outcome: Outcome; reason: string | undefined; deployment: DeploymentSummary };

/** What `flip retire` stopped: a rollback to `version` now redeploys it through the full flow. */
export interface StandbyRetired {
  slot: Slot;
  version: string;
}

/** What `flip deploy --dry-run` shows: each phase with the exact changes it would make. */
export interface DeploymentPlan {
  version: string;
  slot: Slot;
  fromSlot: Slot | undefined;
  steps: { phase: Phase; changes: string[] }[];
}

export interface ActionOptions {
  /** Who asked (the audit log's "who"): e.g. "cli:alice", "api", "engine". */
  actor: string;
  force?: boolean;
  /** deploy only: switch without waiting for a switch window or a quieter live slot (audited). */
  now?: boolean;
}

/** What the API and CLI can ask the engine. One implementation of each action. */
export interface EngineApi {
  status(): Promise<StatusView>;
  history(limit?: number): DeploymentSummary[];
  deployment(id: string): DeploymentDetail;
  auditLog(limit?: number): EventRecord[];
  /** The changes deploy() would make, making none (refused the same way deploy() would be). */
  planDeploy(version: string, options: ActionOptions): Promise<DeploymentPlan>;
  /** Starts a deployment and returns at once (after it is queued and the lock is held). */
  deploy(version: string, options: ActionOptions): Promise<DeploymentSummary>;
  switchTo(slot: Slot, options: ActionOptions): Promise<DeploymentSummary>;
  rollback(options: ActionOptions): Promise<DeploymentSummary>;
  /**
   * Runs migrations.contract for the live version (a deployment of kind "contract"); refused while a
   * rollback target still runs the previous version.
   */
  contract(options: ActionOptions): Promise<DeploymentSummary>;
  /** Stops the standby now instead of at retire.retireAfter; refused while a deployment runs. */
  retire(options: ActionOptions): Promise<StandbyRetired>;
  /** Stops the running deployment: before the switch → aborted; after → rolled back. */
  abort(options: ActionOptions): Promise<DeploymentSummary>;
  /** Approves a deployment waiting in awaiting-approval; ends a running monitor window early as a success. */
  promote(options: ActionOptions): Promise<DeploymentSummary>;
  /** Subscribe to one deployment's events; returns an unsubscribe function. Past events are NOT replayed. */
  subscribe(deploymentId: string, listener: (event: FlowEvent) => void): () => void;
  /** Subscribe to every deployment's events. */
  subscribeAll(listener: (event: FlowEvent) => void): () => void;
}

export function summarize(record: DeploymentRecord): DeploymentSummary {
  return {
    id: record.id,
    kind: record.kind,
    version: record.version,
    slot: record.slot,
    fromSlot: record.fromSlot,
    phase: record.phase,
    outcome: record.outcome,
    reason: record.reason,
    actor: record.actor,
    startedAt: new Date(record.startedAt).toISOString(),
    finishedAt: record.finishedAt === undefined ? undefined : new Date(record.finishedAt).toISOString(),
    durationMs: record.finishedAt === undefined ? undefined : record.finishedAt - record.startedAt,
  };
}

export type { RuleResult };
