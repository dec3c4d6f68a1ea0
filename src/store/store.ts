// The store: Flip's memory in one SQLite file (state.db by default). Slots, deployments with their
// phases, check results and monitor samples, the append-only audit log, driver state — and the
// deploy lock: at most one deployment is running, held by a transaction and by a unique index.
import { randomInt } from "node:crypto";
import type Database from "better-sqlite3";
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { BadRequestError, LockedError, NotFoundError, StoreError } from "../core/errors.js";
import type { DeploymentKind, Outcome, Phase } from "../core/phases.js";
import { isTerminal, outcomeOf, PHASES } from "../core/phases.js";
import type { Slot, SlotState } from "../core/slots.js";
import type { DriverState } from "../core/state.js";
import type { CheckResult } from "../checks/types.js";
import { prepareDriverStateStatements, SqliteDriverState, type DriverStateStatements } from "./driver-state.js";
import { openDatabase } from "./open.js";
import type { DeploymentRecord, EventRecord, PhaseRecord, SampleRecord, SlotRecord } from "./records.js";
import { bit, toCheckResult, toDeploymentRecord, toEventRecord, toJsonColumn, toPhaseRecord, toSampleRecord, toSlotRecord } from "./rows.js";
import { DatabaseMigrations } from "./database-migrations.js";
import { StandbySchedule } from "./standby.js";
import { prepareStatements, type Statements } from "./statements.js";

export interface StoreOptions {
  clock?: Clock;
}

export interface BeginDeploymentInput {
  kind: DeploymentKind;
  version: string;
  slot: Slot;
  fromSlot?: Slot;
  previousVersion?: string;
  actor: string;
  force?: boolean;
}

export type FinishPhase = "succeeded" | "aborted" | "rolled-back" | "failed";

export interface AppendEventInput {
  actor: string;
  kind: string;
  message: string;
  deploymentId?: string;
  data?: unknown;
}

const DEFAULT_DEPLOYMENT_LIMIT = 50;
const DEFAULT_EVENT_LIMIT = 100;
const ID_SUFFIX_LENGTH = 4;

/**
 * Deployment ids read like d-0007-k3f9: the file's sequence number (zero-padded to 4 digits, so ids
 * sort as text up to d-9999; lists sort by the number itself) and 4 random base-36 characters, so
 * ids from two state files — or from one deleted and started afresh — do not collide in logs and
 * webhooks.
 */
export function formatDeploymentId(seq: number, suffix: string): string {
  return `d-${String(seq).padStart(4, "0")}-${suffix}`;
}

function randomIdSuffix(): string {
  return randomInt(36 ** ID_SUFFIX_LENGTH).toString(36).padStart(ID_SUFFIX_LENGTH, "0");
}

/** "deploy v2 to green" */
export function describeDeployment(deployment: Pick<DeploymentRecord, "kind" | "version" | "slot">): string {
  return `${deployment.kind} ${deployment.version} to ${deployment.slot}`;
}

/** The refusal that names the running deployment (the deploy lock). */
export function lockedBy(running: DeploymentRecord): LockedError {
  return new LockedError(running.id, `${describeDeployment(running)}, phase ${running.phase}`);
}

function sqliteCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function limitOf(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new BadRequestError(`limit must be a whole number of at least 1, got ${limit}.`, "Leave it out for the default.");
  }
  return limit;
}

export class Store {
  readonly path: string;
  readonly schemaVersion: number;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly statements: Statements;
  private readonly driverStatements: DriverStateStatements;
  /** When the standby slot is scaled down and retired (retire: in flip.yaml). */
  readonly standby: StandbySchedule;
  /** The app's expand and contract commands that ran, for which version (migrations: in flip.yaml). */
  readonly databaseMigrations: DatabaseMigrations;

  /** Creates the folder, opens the file, sets WAL + busy_timeout + foreign_keys, runs pending migrations. */
  static open(path: string, options: StoreOptions = {}): Store {
    const clock = options.clock ?? systemClock;
    const { db, schemaVersion } = openDatabase(path, () => clock.now());
    try {
      return new Store(db, path, schemaVersion, clock);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private constructor(db: Database.Database, path: string, schemaVersion: number, clock: Clock) {
    this.db = db;
    this.path = path;
    this.schemaVersion = schemaVersion;
    this.clock = clock;
    this.statements = prepareStatements(db);
    this.driverStatements = prepareDriverStateStatements(db);
    this.standby = new StandbySchedule(db, clock);
    this.databaseMigrations = new DatabaseMigrations(db, clock);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Runs fn in one IMMEDIATE transaction, so several store calls land together or not at all
   * (e.g. finishing a deployment and marking both slots). Store calls inside nest as savepoints.
   * fn must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ── slots ──────────────────────────────────────────────────────────────────────────────────

  slot(slot: Slot): SlotRecord {
    const row = this.statements.slot.get(slot);
    if (row === undefined) throw this.missingSlot(slot);
    return toSlotRecord(row);
  }

  slots(): Record<Slot, SlotRecord> {
    // One statement, so both rows come from the same snapshot even while another process writes.
    const bySlot = new Map(this.statements.allSlots.all().map((row) => [row.slot, toSlotRecord(row)]));
    const pick = (slot: Slot): SlotRecord => {
      const record = bySlot.get(slot);
      if (record === undefined) throw this.missingSlot(slot);
      return record;
    };
    return { blue: pick("blue"), green: pick("green") };
  }

  /** version: a string sets it, null clears it, absent keeps it. state: absent keeps it. */
  updateSlot(slot: Slot, patch: { version?: string | null; state?: SlotState }): SlotRecord {
    const row = this.statements.updateSlot.get({
      slot,
      setVersion: bit(patch.version !== undefined),
      version: patch.version ?? null,
      state: patch.state ?? null,
      now: this.clock.now(),
    });
    if (row === undefined) throw this.missingSlot(slot);
    return toSlotRecord(row);
  }

  // ── deployments ────────────────────────────────────────────────────────────────────────────

  /** Takes the deploy lock: refuses with LockedError while another deployment is running. */
  beginDeployment(input: BeginDeploymentInput): DeploymentRecord {
    try {
      return this.transaction(() => {
        const running = this.runningDeployment();
        if (running !== undefined) throw lockedBy(running);
        const now = this.clock.now();
        const seq = this.statements.nextDeploymentSeq.get()!.seq;
        const id = formatDeploymentId(seq, randomIdSuffix());
        const row = this.statements.insertDeployment.get({
          seq,
          id,
          kind: input.kind,
          version: input.version,
          slot: input.slot,
          fromSlot: input.fromSlot ?? null,
          previousVersion: input.previousVersion ?? null,
          phase: "queued",
          actor: input.actor,
          force: bit(input.force ?? false),
          now,
        })!;
        this.statements.insertPhase.run({ deploymentId: id, phase: "queued", startedAt: now, finishedAt: null, detail: null });
        const deployment = toDeploymentRecord(row);
        this.appendEvent({
          actor: input.actor,
          kind: "deployment.started",
          deploymentId: id,
          message: `${input.actor} started ${id}: ${describeDeployment(deployment)}${deployment.force ? " (forced)" : ""}`,
          data: { kind: input.kind, version: input.version, slot: input.slot, fromSlot: input.fromSlot, previousVersion: input.previousVersion, force: deployment.force },
        });
        return deployment;
      });
    } catch (error) {
      // The unique index caught a writer that slipped past the check (it should not, under IMMEDIATE).
      if (sqliteCode(error) === "SQLITE_CONSTRAINT_UNIQUE") {
        const running = this.runningDeployment();
        if (running !== undefined) throw lockedBy(running);
      }
      throw error;
    }
  }

  /** Closes the open phase row and opens one for `phase`. Terminal phases go through finishDeployment. */
  enterPhase(id: string, phase: Phase, detail?: string): DeploymentRecord {
    if (!PHASES.includes(phase)) throw new StoreError(`Unknown phase "${phase}" for deployment ${id}.`, `Use one of: ${PHASES.join(", ")}.`);
    if (isTerminal(phase)) {
      throw new StoreError(`enterPhase cannot move ${id} to the terminal phase "${phase}".`, "Use finishDeployment, which also releases the deploy lock.");
    }
    return this.transaction(() => {
      this.requireRunning(id, `enter phase ${phase}`);
      const now = this.clock.now();
      this.statements.closeOpenPhase.run(now, id);
      this.statements.insertPhase.run({ deploymentId: id, phase, startedAt: now, finishedAt: null, detail: detail ?? null });
      return toDeploymentRecord(this.statements.setDeploymentPhase.get(phase, id)!);
    });
  }

  /**
   * Ends a running deployment and so releases the deploy lock. The terminal phase also gets a phase
   * row of its own (started and finished at once, detail = reason), so phasesOf() reads as the whole
   * timeline. Without a reason, one set earlier with setReason is kept.
   */
  finishDeployment(id: string, phase: FinishPhase, reason?: string): DeploymentRecord {
    if (!isTerminal(phase)) {
      throw new StoreError(`finishDeployment needs a terminal phase (succeeded, aborted, rolled-back, failed), got "${phase}" for ${id}.`, "Use enterPhase for phases on the way.");
    }
    return this.transaction(() => {
      this.requireRunning(id, `finish as ${phase}`);
      const now = this.clock.now();
      this.statements.closeOpenPhase.run(now, id);
      this.statements.insertPhase.run({ deploymentId: id, phase, startedAt: now, finishedAt: now, detail: reason ?? null });
      const outcome = outcomeOf(phase);
      const deployment = toDeploymentRecord(this.statements.finishDeployment.get({ id, phase, outcome, reason: reason ?? null, now })!);
      this.appendEvent({
        actor: deployment.actor,
        kind: `deployment.${outcome}`,
        deploymentId: id,
        message: `${id} (${describeDeployment(deployment)}) ${outcome}${deployment.reason === undefined ? "" : `: ${deployment.reason}`}`,
        data: { outcome, reason: deployment.reason, durationMs: now - deployment.startedAt },
      });
      return deployment;
    });
  }

  /** Records why a deployment is where it is (e.g. which check failed) without changing its phase. */
  setReason(id: string, reason: string): void {
    const { changes } = this.statements.setReason.run(reason, id);
    if (changes === 0) throw this.unknownDeployment(id);
  }

  deployment(id: string): DeploymentRecord | undefined {
    const row = this.statements.deployment.get(id);
    return row === undefined ? undefined : toDeploymentRecord(row);
  }

  /** The deployment holding the deploy lock, if any. */
  runningDeployment(): DeploymentRecord | undefined {
    const row = this.statements.runningDeployment.get();
    return row === undefined ? undefined : toDeploymentRecord(row);
  }

  /** How many deployments have each outcome (for /metrics); outcomes never reached are absent. */
  deploymentOutcomes(): Partial<Record<Outcome, number>> {
    const counts: Partial<Record<Outcome, number>> = {};
    for (const row of this.statements.countDeploymentsByOutcome.all()) counts[row.outcome as Outcome] = row.count;
    return counts;
  }

  /** Newest first; 50 unless told. */
  listDeployments(options: { limit?: number } = {}): DeploymentRecord[] {
    return this.statements.listDeployments.all(limitOf(options.limit, DEFAULT_DEPLOYMENT_LIMIT)).map(toDeploymentRecord);
  }

  /** In the order they were entered; the last one is open while the deployment runs. */
  phasesOf(id: string): PhaseRecord[] {
    return this.statements.phasesOf.all(id).map(toPhaseRecord);
  }

  recordCheck(id: string, result: CheckResult): void {
    this.insertFor(id, () =>
      this.statements.insertCheck.run({
        deploymentId: id,
        name: result.name,
        kind: result.kind,
        ok: bit(result.ok),
        message: result.message,
        output: result.output ?? null,
        replica: result.replica ?? null,
        attempts: result.attempts,
        durationMs: result.durationMs,
        at: result.at,
      }),
    );
  }

  /** In the order they were recorded. */
  checksOf(id: string): CheckResult[] {
    return this.statements.checksOf.all(id).map(toCheckResult);
  }

  recordSample(sample: SampleRecord): void {
    this.insertFor(sample.deploymentId, () =>
      this.statements.insertSample.run({
        deploymentId: sample.deploymentId,
        at: sample.at,
        slot: sample.slot,
        requests: sample.requests,
        errors: sample.errors,
        judged: bit(sample.judged),
        healthy: bit(sample.healthy),
        results: toJsonColumn(sample.results, `the rule results of a sample for ${sample.deploymentId}`) ?? "[]",
        note: sample.note ?? null,
      }),
    );
  }

  /** In the order they were recorded. */
  samplesOf(id: string): SampleRecord[] {
    return this.statements.samplesOf.all(id).map(toSampleRecord);
  }

  // ── the audit log ──────────────────────────────────────────────────────────────────────────

  /** Appends to the audit log, stamped with the clock. Events are never changed or deleted. */
  appendEvent(input: AppendEventInput): EventRecord {
    const data = toJsonColumn(input.data, `the data of event ${input.kind}`);
    const insert = () =>
      this.statements.insertEvent.get({
        at: this.clock.now(),
        actor: input.actor,
        kind: input.kind,
        deploymentId: input.deploymentId ?? null,
        message: input.message,
        data,
      })!;
    const row = input.deploymentId === undefined ? insert() : this.insertFor(input.deploymentId, insert);
    return toEventRecord(row);
  }

  /** Newest first; 100 unless told; only one deployment's events with deploymentId. */
  events(options: { limit?: number; deploymentId?: string } = {}): EventRecord[] {
    const limit = limitOf(options.limit, DEFAULT_EVENT_LIMIT);
    const rows = options.deploymentId === undefined ? this.statements.events.all(limit) : this.statements.eventsOf.all(options.deploymentId, limit);
    return rows.map(toEventRecord);
  }

  // ── driver state ───────────────────────────────────────────────────────────────────────────

  /** A persisted key-value space for one driver (e.g. "platform.process", "router.builtin"). */
  driverState(namespace: string): DriverState {
    if (namespace === "") throw new StoreError("A driver state namespace cannot be empty.", 'Name it after the driver, e.g. "platform.process".');
    return new SqliteDriverState(namespace, this.driverStatements, this.clock);
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────

  private requireRunning(id: string, doing: string): DeploymentRecord {
    const deployment = this.deployment(id);
    if (deployment === undefined) throw this.unknownDeployment(id);
    if (deployment.outcome !== "running") {
      throw new StoreError(
        `Deployment ${id} already finished (${deployment.outcome}), so it cannot ${doing}.`,
        "Start a new deployment instead; a finished one is history.",
      );
    }
    return deployment;
  }

  /** Runs an insert that references a deployment, turning a foreign-key failure into NotFoundError. */
  private insertFor<T>(id: string, insert: () => T): T {
    try {
      return insert();
    } catch (error) {
      if (sqliteCode(error) === "SQLITE_CONSTRAINT_FOREIGNKEY") throw this.unknownDeployment(id);
      throw error;
    }
  }

  private unknownDeployment(id: string): NotFoundError {
    return new NotFoundError(`No deployment ${id} in ${this.path}.`, "See `flip history` for the deployment ids.");
  }

  private missingSlot(slot: string): StoreError {
    return new StoreError(`The row for slot ${slot} is missing from ${this.path}.`, "The file was edited by hand or is damaged; restore it from a backup or move it away.");
  }
}
