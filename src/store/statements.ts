// Every SQL statement the Store runs, prepared once when the Store opens. Keeping the SQL in one
// place shows at a glance which indexes the reads rely on (see migrations.ts).
import type Database from "better-sqlite3";
import type { CheckRow, DeploymentRow, EventRow, PhaseRow, SampleRow, SlotRow } from "./rows.js";

export interface SlotUpdateParams {
  slot: string;
  setVersion: 0 | 1;
  version: string | null;
  state: string | null;
  now: number;
}

export interface DeploymentInsertParams {
  seq: number;
  id: string;
  kind: string;
  version: string;
  slot: string;
  fromSlot: string | null;
  previousVersion: string | null;
  phase: string;
  actor: string;
  force: 0 | 1;
  now: number;
}

export interface DeploymentFinishParams {
  id: string;
  phase: string;
  outcome: string;
  reason: string | null;
  now: number;
}

export interface PhaseInsertParams {
  deploymentId: string;
  phase: string;
  startedAt: number;
  finishedAt: number | null;
  detail: string | null;
}

export interface CheckInsertParams {
  deploymentId: string;
  name: string;
  kind: string;
  ok: 0 | 1;
  message: string;
  output: string | null;
  replica: number | null;
  attempts: number;
  durationMs: number;
  at: number;
}

export interface SampleInsertParams {
  deploymentId: string;
  at: number;
  slot: string;
  requests: number;
  errors: number;
  judged: 0 | 1;
  healthy: 0 | 1;
  results: string;
  note: string | null;
}

export interface EventInsertParams {
  at: number;
  actor: string;
  kind: string;
  deploymentId: string | null;
  message: string;
  data: string | null;
}

const PHASE_COLUMNS = "deployment_id, phase, started_at, finished_at, detail";
const CHECK_COLUMNS = "name, kind, ok, message, output, replica, attempts, duration_ms, at";
const SAMPLE_COLUMNS = "deployment_id, at, slot, requests, errors, judged, healthy, results, note";

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  return {
    slot: db.prepare<[string], SlotRow>("SELECT * FROM slots WHERE slot = ?"),
    allSlots: db.prepare<[], SlotRow>("SELECT * FROM slots ORDER BY slot"),
    updateSlot: db.prepare<SlotUpdateParams, SlotRow>(
      `UPDATE slots SET version = CASE WHEN @setVersion = 1 THEN @version ELSE version END,
                        state = COALESCE(@state, state), updated_at = @now
       WHERE slot = @slot RETURNING *`,
    ),

    deployment: db.prepare<[string], DeploymentRow>("SELECT * FROM deployments WHERE id = ?"),
    // Served by the partial unique index deployments_one_running.
    runningDeployment: db.prepare<[], DeploymentRow>("SELECT * FROM deployments WHERE outcome = 'running'"),
    listDeployments: db.prepare<[number], DeploymentRow>("SELECT * FROM deployments ORDER BY seq DESC LIMIT ?"),
    countDeploymentsByOutcome: db.prepare<[], { outcome: string; count: number }>("SELECT outcome, count(*) AS count FROM deployments GROUP BY outcome"),
    nextDeploymentSeq: db.prepare<[], { seq: number }>("SELECT coalesce(max(seq), 0) + 1 AS seq FROM deployments"),
    insertDeployment: db.prepare<DeploymentInsertParams, DeploymentRow>(
      `INSERT INTO deployments (seq, id, kind, version, slot, from_slot, previous_version, phase, outcome, actor, force, started_at)
       VALUES (@seq, @id, @kind, @version, @slot, @fromSlot, @previousVersion, @phase, 'running', @actor, @force, @now)
       RETURNING *`,
    ),
    setDeploymentPhase: db.prepare<[string, string], DeploymentRow>("UPDATE deployments SET phase = ? WHERE id = ? RETURNING *"),
    // An earlier setReason survives a finish without a reason. Leaving 'running' releases the lock.
    finishDeployment: db.prepare<DeploymentFinishParams, DeploymentRow>(
      `UPDATE deployments SET phase = @phase, outcome = @outcome, reason = COALESCE(@reason, reason), finished_at = @now
       WHERE id = @id AND outcome = 'running' RETURNING *`,
    ),
    setReason: db.prepare<[string, string]>("UPDATE deployments SET reason = ? WHERE id = ?"),

    insertPhase: db.prepare<PhaseInsertParams>(
      `INSERT INTO phases (${PHASE_COLUMNS}) VALUES (@deploymentId, @phase, @startedAt, @finishedAt, @detail)`,
    ),
    closeOpenPhase: db.prepare<[number, string]>("UPDATE phases SET finished_at = ? WHERE deployment_id = ? AND finished_at IS NULL"),
    phasesOf: db.prepare<[string], PhaseRow>(`SELECT ${PHASE_COLUMNS} FROM phases WHERE deployment_id = ? ORDER BY id`),

    insertCheck: db.prepare<CheckInsertParams>(
      `INSERT INTO check_results (deployment_id, ${CHECK_COLUMNS})
       VALUES (@deploymentId, @name, @kind, @ok, @message, @output, @replica, @attempts, @durationMs, @at)`,
    ),
    checksOf: db.prepare<[string], CheckRow>(`SELECT ${CHECK_COLUMNS} FROM check_results WHERE deployment_id = ? ORDER BY id`),

    insertSample: db.prepare<SampleInsertParams>(
      `INSERT INTO samples (${SAMPLE_COLUMNS})
       VALUES (@deploymentId, @at, @slot, @requests, @errors, @judged, @healthy, @results, @note)`,
    ),
    samplesOf: db.prepare<[string], SampleRow>(`SELECT ${SAMPLE_COLUMNS} FROM samples WHERE deployment_id = ? ORDER BY id`),

    insertEvent: db.prepare<EventInsertParams, EventRow>(
      `INSERT INTO events (at, actor, kind, deployment_id, message, data)
       VALUES (@at, @actor, @kind, @deploymentId, @message, @data) RETURNING *`,
    ),
    // Newest first by id, not by time: two events in the same millisecond keep their order.
    events: db.prepare<[number], EventRow>("SELECT * FROM events ORDER BY id DESC LIMIT ?"),
    eventsOf: db.prepare<[string, number], EventRow>("SELECT * FROM events WHERE deployment_id = ? ORDER BY id DESC LIMIT ?"),
  };
}
