// DriverState backed by the driver_state table: one namespace per driver ("platform.process",
// "router.builtin"), JSON values. Each set() commits on its own, so what a driver notes (a PID, the
// live slot) is on disk the moment set() returns and survives a kill -9 right after.
import type Database from "better-sqlite3";
import type { Clock } from "../core/clock.js";
import type { DriverState } from "../core/state.js";
import { toJsonColumn } from "./rows.js";

/** Prepared once by the Store and shared by every namespace. */
export interface DriverStateStatements {
  get: Database.Statement<[string, string], { value: string }>;
  set: Database.Statement<[{ namespace: string; key: string; value: string; now: number }]>;
  delete: Database.Statement<[string, string]>;
}

export function prepareDriverStateStatements(db: Database.Database): DriverStateStatements {
  return {
    get: db.prepare<[string, string], { value: string }>("SELECT value FROM driver_state WHERE namespace = ? AND key = ?"),
    set: db.prepare<[{ namespace: string; key: string; value: string; now: number }]>(
      `INSERT INTO driver_state (namespace, key, value, updated_at) VALUES (@namespace, @key, @value, @now)
       ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    ),
    delete: db.prepare<[string, string]>("DELETE FROM driver_state WHERE namespace = ? AND key = ?"),
  };
}

export class SqliteDriverState implements DriverState {
  constructor(
    private readonly namespace: string,
    private readonly statements: DriverStateStatements,
    private readonly clock: Clock,
  ) {}

  get<T>(key: string): T | undefined {
    const row = this.statements.get.get(this.namespace, key);
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  /** Setting undefined deletes the key, as JSON has no way to hold it (MemoryDriverState agrees). */
  set(key: string, value: unknown): void {
    const json = toJsonColumn(value, `driver state ${this.namespace}/${key}`);
    if (json === null) {
      this.delete(key);
      return;
    }
    this.statements.set.run({ namespace: this.namespace, key, value: json, now: this.clock.now() });
  }

  delete(key: string): void {
    this.statements.delete.run(this.namespace, key);
  }
}
