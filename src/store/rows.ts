// Rows as SQLite returns them, and their conversion to the records the rest of Flip sees. SQLite
// speaks NULL, 0/1 and JSON text; Flip speaks undefined, booleans and objects. The conversion
// happens here and nowhere else.
import { StoreError } from "../core/errors.js";
import type { DeploymentKind, Outcome, Phase } from "../core/phases.js";
import type { RuleResult } from "../core/rules.js";
import type { Slot, SlotState } from "../core/slots.js";
import type { CheckKind, CheckResult } from "../checks/types.js";
import type { DeploymentRecord, EventRecord, PhaseRecord, SampleRecord, SlotRecord } from "./records.js";

export interface SlotRow {
  slot: string;
  version: string | null;
  state: string;
  updated_at: number;
}

export interface DeploymentRow {
  seq: number;
  id: string;
  kind: string;
  version: string;
  slot: string;
  from_slot: string | null;
  previous_version: string | null;
  phase: string;
  outcome: string;
  reason: string | null;
  actor: string;
  force: number;
  started_at: number;
  finished_at: number | null;
}

export interface PhaseRow {
  deployment_id: string;
  phase: string;
  started_at: number;
  finished_at: number | null;
  detail: string | null;
}

export interface CheckRow {
  name: string;
  kind: string;
  ok: number;
  message: string;
  output: string | null;
  replica: number | null;
  attempts: number;
  duration_ms: number;
  at: number;
}

export interface SampleRow {
  deployment_id: string;
  at: number;
  slot: string;
  requests: number;
  errors: number;
  judged: number;
  healthy: number;
  results: string;
  note: string | null;
}

export interface EventRow {
  id: number;
  at: number;
  actor: string;
  kind: string;
  deployment_id: string | null;
  message: string;
  data: string | null;
}

export function toSlotRecord(row: SlotRow): SlotRecord {
  return { slot: row.slot as Slot, version: row.version ?? undefined, state: row.state as SlotState, updatedAt: row.updated_at };
}

export function toDeploymentRecord(row: DeploymentRow): DeploymentRecord {
  return {
    id: row.id,
    kind: row.kind as DeploymentKind,
    version: row.version,
    slot: row.slot as Slot,
    fromSlot: (row.from_slot ?? undefined) as Slot | undefined,
    previousVersion: row.previous_version ?? undefined,
    phase: row.phase as Phase,
    outcome: row.outcome as Outcome,
    reason: row.reason ?? undefined,
    actor: row.actor,
    force: row.force === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? undefined,
  };
}

export function toPhaseRecord(row: PhaseRow): PhaseRecord {
  return {
    deploymentId: row.deployment_id,
    phase: row.phase as Phase,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? undefined,
    detail: row.detail ?? undefined,
  };
}

export function toCheckResult(row: CheckRow): CheckResult {
  const result: CheckResult = {
    name: row.name,
    kind: row.kind as CheckKind,
    ok: row.ok === 1,
    message: row.message,
    attempts: row.attempts,
    durationMs: row.duration_ms,
    at: row.at,
  };
  // Optional keys stay absent rather than undefined, so JSON output matches what was recorded.
  if (row.output !== null) result.output = row.output;
  if (row.replica !== null) result.replica = row.replica;
  return result;
}

export function toSampleRecord(row: SampleRow): SampleRecord {
  const results = (JSON.parse(row.results) as RuleResult[]).map((result) => ({
    ...result,
    // JSON has no undefined: an unmeasured value was written as null (or left out).
    value: result.value ?? undefined,
  }));
  return {
    deploymentId: row.deployment_id,
    at: row.at,
    slot: row.slot as Slot,
    requests: row.requests,
    errors: row.errors,
    judged: row.judged === 1,
    healthy: row.healthy === 1,
    results,
    note: row.note ?? undefined,
  };
}

export function toEventRecord(row: EventRow): EventRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    kind: row.kind,
    deploymentId: row.deployment_id ?? undefined,
    message: row.message,
    data: row.data === null ? undefined : (JSON.parse(row.data) as unknown),
  };
}

/** JSON text for a column; undefined becomes NULL. Refuses what JSON cannot hold (cycles, BigInt). */
export function toJsonColumn(value: unknown, what: string): string | null {
  if (value === undefined) return null;
  try {
    return JSON.stringify(value) ?? null;
  } catch (error) {
    throw new StoreError(`Cannot store ${what}: it is not JSON-serialisable (${(error as Error).message}).`, "Pass plain data: objects, arrays, strings, numbers, booleans.", { cause: error });
  }
}

export function bit(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}
