// The rows of the store as the rest of Flip sees them.
import type { DeploymentKind, Outcome, Phase } from "../core/phases.js";
import type { RuleResult } from "../core/rules.js";
import type { Slot, SlotState } from "../core/slots.js";

export interface SlotRecord {
  slot: Slot;
  version: string | undefined;
  state: SlotState;
  updatedAt: number;
}

export interface DeploymentRecord {
  id: string;
  kind: DeploymentKind;
  version: string;
  /** The slot that gets the version / the traffic. */
  slot: Slot;
  /** The slot that was live when it started (undefined on a first deploy). */
  fromSlot: Slot | undefined;
  previousVersion: string | undefined;
  phase: Phase;
  outcome: Outcome;
  reason: string | undefined;
  actor: string;
  force: boolean;
  startedAt: number;
  finishedAt: number | undefined;
}

export interface PhaseRecord {
  deploymentId: string;
  phase: Phase;
  startedAt: number;
  finishedAt: number | undefined;
  detail: string | undefined;
}

/** One judged (or skipped) monitor window. */
export interface SampleRecord {
  deploymentId: string;
  at: number;
  slot: Slot;
  requests: number;
  errors: number;
  judged: boolean;
  healthy: boolean;
  results: RuleResult[];
  note: string | undefined;
}

/** The append-only audit log: who did what, when. */
export interface EventRecord {
  id: number;
  at: number;
  actor: string;
  kind: string;
  deploymentId: string | undefined;
  message: string;
  data: unknown;
}
