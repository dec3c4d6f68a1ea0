// The store's schema, as an ordered list of migrations. Migration N turns schema N-1 into schema N;
// PRAGMA user_version records how far a file has come. Never edit a released migration: append one.
import type Database from "better-sqlite3";
import { StoreError } from "../core/errors.js";

export interface MigrationContext {
  /** The clock's time when the migration runs, for rows a migration seeds. */
  now: number;
}

export interface Migration {
  /** The schema version this migration produces: 1, 2, 3, ... in array order. */
  version: number;
  description: string;
  up(db: Database.Database, context: MigrationContext): void;
}

/**
 * Written into the file header (PRAGMA application_id) by the first migration, so a SQLite file
 * that belongs to some other program is recognised as such instead of being migrated. "FLIP" in ASCII.
 */
export const FLIP_APPLICATION_ID = 0x464c4950;

// Design notes for schema 1:
// - kind, phase and slot state are not CHECK-constrained: their word lists grow with features, and
//   SQLite can only change a CHECK by rebuilding the table. The TypeScript types guard them.
// - slot names and the running/finished pairing are constrained: they are what the lock relies on.
// - deployments_one_running is the deploy lock in the schema itself: even a writer that skipped the
//   check in beginDeployment cannot create a second running deployment.
// - events refuse UPDATE and DELETE (append-only audit log); a later migration may relax that for
//   retention.
const schema1: Migration = {
  version: 1,
  description: "slots, deployments (with the deploy lock), phases, check results, samples, events, driver state",
  up(db, { now }) {
    db.exec(`
      CREATE TABLE slots (
        slot        TEXT PRIMARY KEY CHECK (slot IN ('blue', 'green')),
        version     TEXT,
        state       TEXT NOT NULL DEFAULT 'empty',
        updated_at  INTEGER NOT NULL
      );

      CREATE TABLE deployments (
        seq              INTEGER PRIMARY KEY,
        id               TEXT NOT NULL UNIQUE,
        kind             TEXT NOT NULL,
        version          TEXT NOT NULL,
        slot             TEXT NOT NULL CHECK (slot IN ('blue', 'green')),
        from_slot        TEXT CHECK (from_slot IN ('blue', 'green')),
        previous_version TEXT,
        phase            TEXT NOT NULL,
        outcome          TEXT NOT NULL,
        reason           TEXT,
        actor            TEXT NOT NULL,
        force            INTEGER NOT NULL DEFAULT 0 CHECK (force IN (0, 1)),
        started_at       INTEGER NOT NULL,
        finished_at      INTEGER,
        CHECK ((outcome = 'running') = (finished_at IS NULL))
      );
      CREATE UNIQUE INDEX deployments_one_running ON deployments (outcome) WHERE outcome = 'running';

      CREATE TABLE phases (
        id            INTEGER PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        phase         TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        finished_at   INTEGER,
        detail        TEXT
      );
      CREATE INDEX phases_by_deployment ON phases (deployment_id, id);
      CREATE UNIQUE INDEX phases_one_open ON phases (deployment_id) WHERE finished_at IS NULL;

      CREATE TABLE check_results (
        id            INTEGER PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        name          TEXT NOT NULL,
        kind          TEXT NOT NULL,
        ok            INTEGER NOT NULL CHECK (ok IN (0, 1)),
        message       TEXT NOT NULL,
        output        TEXT,
        replica       INTEGER,
        attempts      INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        at            INTEGER NOT NULL
      );
      CREATE INDEX check_results_by_deployment ON check_results (deployment_id, id);

      CREATE TABLE samples (
        id            INTEGER PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        at            INTEGER NOT NULL,
        slot          TEXT NOT NULL CHECK (slot IN ('blue', 'green')),
        requests      INTEGER NOT NULL,
        errors        INTEGER NOT NULL,
        judged        INTEGER NOT NULL CHECK (judged IN (0, 1)),
        healthy       INTEGER NOT NULL CHECK (healthy IN (0, 1)),
        results       TEXT NOT NULL,
        note          TEXT
      );
      CREATE INDEX samples_by_deployment ON samples (deployment_id, id);

      CREATE TABLE events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        at            INTEGER NOT NULL,
        actor         TEXT NOT NULL,
        kind          TEXT NOT NULL,
        deployment_id TEXT REFERENCES deployments (id),
        message       TEXT NOT NULL,
        data          TEXT
      );
      CREATE INDEX events_by_deployment ON events (deployment_id, id);
      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

      CREATE TABLE driver_state (
        namespace   TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (namespace, key)
      ) WITHOUT ROWID;
    `);
    const seedSlot = db.prepare("INSERT INTO slots (slot, version, state, updated_at) VALUES (?, NULL, 'empty', ?)");
    seedSlot.run("blue", now);
    seedSlot.run("green", now);
    db.pragma(`application_id = ${FLIP_APPLICATION_ID}`);
  },
};

// Schema 2: the cheap standby's schedule (retire.scaleDownAfter / retire.retireAfter). One row per
// planned action on a standby slot; it stays pending until done, cancelled or failed, and records
// what happened. Rows are kept as history; the partial index serves the scheduler's one question.
const schema2: Migration = {
  version: 2,
  description: "standby_actions: when a standby slot is scaled down and retired",
  up(db) {
    db.exec(`
      CREATE TABLE standby_actions (
        id            INTEGER PRIMARY KEY,
        slot          TEXT NOT NULL CHECK (slot IN ('blue', 'green')),
        action        TEXT NOT NULL,
        version       TEXT NOT NULL,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        due_at        INTEGER NOT NULL,
        replicas      INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        done_at       INTEGER,
        outcome       TEXT,
        note          TEXT,
        CHECK ((done_at IS NULL) = (outcome IS NULL))
      );
      CREATE INDEX standby_actions_pending ON standby_actions (due_at, id) WHERE done_at IS NULL;
    `);
  },
};

// Schema 3: the app's database migrations that Flip ran (migrations.expand / migrations.contract),
// for which version. A row is written when the command starts (finished_at NULL while it runs, or
// forever if flip serve died meanwhile), so "did the contract for v2 run?" has a recorded answer.
const schema3: Migration = {
  version: 3,
  description: "database_migrations: the expand and contract commands run for each version",
  up(db) {
    db.exec(`
      CREATE TABLE database_migrations (
        id               INTEGER PRIMARY KEY,
        deployment_id    TEXT NOT NULL REFERENCES deployments (id),
        kind             TEXT NOT NULL CHECK (kind IN ('expand', 'contract')),
        version          TEXT NOT NULL,
        previous_version TEXT,
        command          TEXT NOT NULL,
        started_at       INTEGER NOT NULL,
        finished_at      INTEGER,
        ok               INTEGER CHECK (ok IN (0, 1)),
        message          TEXT,
        output           TEXT,
        CHECK ((finished_at IS NULL) = (ok IS NULL))
      );
      CREATE INDEX database_migrations_by_version ON database_migrations (version, kind, id);
    `);
  },
};

export const MIGRATIONS: readonly Migration[] = [schema1, schema2, schema3];

/** The schema version this build of Flip writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function userVersion(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

export function newerSchemaError(path: string, fileVersion: number, knownVersion = SCHEMA_VERSION): StoreError {
  return new StoreError(
    `${path} was written by a newer Flip (schema ${fileVersion}, this Flip knows ${knownVersion}): upgrade Flip or point \`state:\` elsewhere.`,
    "Install the Flip version that wrote this file (or a later one), or set `state:` in flip.yaml to a different file.",
  );
}

/**
 * Brings the file up to the last of `migrations`, one IMMEDIATE transaction per migration, and
 * returns the version it ends at. A migration that throws leaves the file at the version before it.
 * Each transaction re-reads user_version under the write lock, so two processes opening a fresh
 * file at once do not both apply the same migration.
 */
export function migrate(db: Database.Database, path: string, context: MigrationContext, migrations: readonly Migration[] = MIGRATIONS): number {
  const known = migrations.length;
  const found = userVersion(db);
  if (found > known) throw newerSchemaError(path, found, known);
  for (const [index, migration] of migrations.entries()) {
    if (migration.version !== index + 1) throw new Error(`Migration ${index + 1} is numbered ${migration.version}; migrations must be numbered 1, 2, 3, ... in order.`);
    if (migration.version <= found) continue;
    db.transaction(() => {
      const current = userVersion(db);
      if (current > known) throw newerSchemaError(path, current, known);
      if (current >= migration.version) return; // another process got here first
      migration.up(db, context);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return userVersion(db);
}
