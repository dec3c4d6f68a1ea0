// The app's database migrations that Flip ran (table database_migrations, schema 3): each expand
// and contract command, for which version, from which deployment, and how it ended. The engine
// asks it whether the schema was contracted after a version last passed its checks.
import type Database from "better-sqlite3";
import type { Clock } from "../core/clock.js";

export type MigrationKind = "expand" | "contract";

export interface DatabaseMigration {
  id: number;
  deploymentId: string;
  kind: MigrationKind;
  version: string;
  previousVersion: string | undefined;
  /** As run (templated). */
  command: string;
  startedAt: number;
  /** Undefined while it runs — or when flip serve stopped before it ended. */
  finishedAt: number | undefined;
  ok: boolean | undefined;
  message: string | undefined;
  /** The last lines it printed. */
  output: string | undefined;
}

interface Row {
  id: number;
  deployment_id: string;
  kind: string;
  version: string;
  previous_version: string | null;
  command: string;
  started_at: number;
  finished_at: number | null;
  ok: number | null;
  message: string | null;
  output: string | null;
}

function toMigration(row: Row): DatabaseMigration {
  return {
    id: row.id,
    deploymentId: row.deployment_id,
    kind: row.kind as MigrationKind,
    version: row.version,
    previousVersion: row.previous_version ?? undefined,
    command: row.command,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? undefined,
    ok: row.ok === null ? undefined : row.ok === 1,
    message: row.message ?? undefined,
    output: row.output ?? undefined,
  };
}

export class DatabaseMigrations {
  private readonly statements;

  constructor(
    db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.statements = {
      insert: db.prepare<{ deploymentId: string; kind: string; version: string; previousVersion: string | null; command: string; now: number }, Row>(
        `INSERT INTO database_migrations (deployment_id, kind, version, previous_version, command, started_at)
         VALUES (@deploymentId, @kind, @version, @previousVersion, @command, @now) RETURNING *`,
      ),
      finish: db.prepare<{ id: number; ok: number; message: string; output: string | null; now: number }>(
        "UPDATE database_migrations SET finished_at = @now, ok = @ok, message = @message, output = @output WHERE id = @id AND finished_at IS NULL",
      ),
      finishOpenOf: db.prepare<{ deploymentId: string; message: string; now: number }>(
        "UPDATE database_migrations SET finished_at = @now, ok = 0, message = @message WHERE deployment_id = @deploymentId AND finished_at IS NULL",
      ),
      lastContract: db.prepare<[], Row>("SELECT * FROM database_migrations WHERE kind = 'contract' AND ok = 1 ORDER BY finished_at DESC, id DESC LIMIT 1"),
      all: db.prepare<[number], Row>("SELECT * FROM database_migrations ORDER BY id DESC LIMIT ?"),
    };
  }

  /** Written before the command runs. */
  begin(input: { deploymentId: string; kind: MigrationKind; version: string; previousVersion: string | undefined; command: string }): DatabaseMigration {
    return toMigration(this.statements.insert.get({ ...input, previousVersion: input.previousVersion ?? null, now: this.clock.now() })!);
  }

  finish(id: number, outcome: { ok: boolean; message: string; output?: string }): void {
    this.statements.finish.run({ id, ok: outcome.ok ? 1 : 0, message: outcome.message, output: outcome.output ?? null, now: this.clock.now() });
  }

  /** A deployment interrupted by a restart: its command's end is unknown, so it did not succeed. */
  finishInterrupted(deploymentId: string, message: string): void {
    this.statements.finishOpenOf.run({ deploymentId, message, now: this.clock.now() });
  }

  /** The most recent contract that succeeded. */
  lastContract(): DatabaseMigration | undefined {
    const row = this.statements.lastContract.get();
    return row === undefined ? undefined : toMigration(row);
  }

  /** Newest first. */
  list(limit = 50): DatabaseMigration[] {
    return this.statements.all.all(limit).map(toMigration);
  }
}
