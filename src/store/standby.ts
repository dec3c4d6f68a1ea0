// The cheap standby's schedule in the store (table standby_actions, schema 2): when the standby
// slot is scaled down and when it is retired. The schedule is data on disk, so a restarted
// `flip serve` re-arms it; each row ends done, cancelled or failed, with a note saying why.
import type Database from "better-sqlite3";
import type { Clock } from "../core/clock.js";
import type { Slot } from "../core/slots.js";

export type StandbyActionKind = "scale-down" | "retire";
export type StandbyOutcome = "done" | "cancelled" | "failed";

export interface StandbyAction {
  id: number;
  slot: Slot;
  action: StandbyActionKind;
  /** The version the standby ran when this was planned: the action applies only while it still does. */
  version: string;
  /** The deployment whose switch made the slot the standby. */
  deploymentId: string;
  dueAt: number;
  /** How many replicas the slot had when it became the standby (what a rollback scales back up to). */
  replicas: number;
  createdAt: number;
  doneAt: number | undefined;
  outcome: StandbyOutcome | undefined;
  note: string | undefined;
}

export interface PlanStandbyInput {
  slot: Slot;
  version: string;
  deploymentId: string;
  replicas: number;
  actions: { action: StandbyActionKind; dueAt: number }[];
}

interface Row {
  id: number;
  slot: string;
  action: string;
  version: string;
  deployment_id: string;
  due_at: number;
  replicas: number;
  created_at: number;
  done_at: number | null;
  outcome: string | null;
  note: string | null;
}

function toAction(row: Row): StandbyAction {
  return {
    id: row.id,
    slot: row.slot as Slot,
    action: row.action as StandbyActionKind,
    version: row.version,
    deploymentId: row.deployment_id,
    dueAt: row.due_at,
    replicas: row.replicas,
    createdAt: row.created_at,
    doneAt: row.done_at ?? undefined,
    outcome: (row.outcome ?? undefined) as StandbyOutcome | undefined,
    note: row.note ?? undefined,
  };
}

export class StandbySchedule {
  private readonly statements;

  constructor(
    db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.statements = {
      insert: db.prepare<{ slot: string; action: string; version: string; deploymentId: string; dueAt: number; replicas: number; now: number }, Row>(
        `INSERT INTO standby_actions (slot, action, version, deployment_id, due_at, replicas, created_at)
         VALUES (@slot, @action, @version, @deploymentId, @dueAt, @replicas, @now) RETURNING *`,
      ),
      // Served by the partial index standby_actions_pending.
      pending: db.prepare<[], Row>("SELECT * FROM standby_actions WHERE done_at IS NULL ORDER BY due_at, id"),
      complete: db.prepare<{ id: number; outcome: string; note: string | null; now: number }>(
        "UPDATE standby_actions SET done_at = @now, outcome = @outcome, note = @note WHERE id = @id AND done_at IS NULL",
      ),
      cancelSlot: db.prepare<{ slot: string; note: string; now: number }>(
        "UPDATE standby_actions SET done_at = @now, outcome = 'cancelled', note = @note WHERE slot = @slot AND done_at IS NULL",
      ),
      cancelPlannedBy: db.prepare<{ deploymentId: string; note: string; now: number }>(
        "UPDATE standby_actions SET done_at = @now, outcome = 'cancelled', note = @note WHERE deployment_id = @deploymentId AND done_at IS NULL",
      ),
      latest: db.prepare<[string, string], Row>("SELECT * FROM standby_actions WHERE slot = ? AND version = ? ORDER BY id DESC LIMIT 1"),
      history: db.prepare<[number], Row>("SELECT * FROM standby_actions ORDER BY id DESC LIMIT ?"),
    };
  }

  /** Writes the slot's upcoming actions (persisted before anything acts on them). */
  plan(input: PlanStandbyInput): StandbyAction[] {
    const now = this.clock.now();
    return input.actions.map(({ action, dueAt }) =>
      toAction(this.statements.insert.get({ slot: input.slot, action, version: input.version, deploymentId: input.deploymentId, dueAt, replicas: input.replicas, now })!),
    );
  }

  /** Pending actions, the earliest first. */
  pending(): StandbyAction[] {
    return this.statements.pending.all().map(toAction);
  }

  complete(id: number, outcome: StandbyOutcome, note?: string): void {
    this.statements.complete.run({ id, outcome, note: note ?? null, now: this.clock.now() });
  }

  /** Cancels whatever is pending for the slot (it is about to get traffic or a new version). */
  cancelFor(slot: Slot, note: string): number {
    return this.statements.cancelSlot.run({ slot, note, now: this.clock.now() }).changes;
  }

  /** Cancels what one deployment planned (it did not end as a success, so its old slot stays the live one). */
  cancelPlannedBy(deploymentId: string, note: string): number {
    return this.statements.cancelPlannedBy.run({ deploymentId, note, now: this.clock.now() }).changes;
  }

  /** The most recent action planned for this slot while it ran this version. */
  latest(slot: Slot, version: string): StandbyAction | undefined {
    const row = this.statements.latest.get(slot, version);
    return row === undefined ? undefined : toAction(row);
  }

  /** Newest first. */
  history(limit = 50): StandbyAction[] {
    return this.statements.history.all(limit).map(toAction);
  }
}
