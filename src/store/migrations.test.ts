import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../core/errors.js";
import type { Migration } from "./migrations.js";
import { FLIP_APPLICATION_ID, MIGRATIONS, migrate, SCHEMA_VERSION, userVersion } from "./migrations.js";

const NOW = Date.UTC(2026, 0, 1);

let folder: string;
let file: string;
let db: Database.Database;

beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), "flip-migrations-"));
  file = path.join(folder, "state.db");
  db = new Database(file);
});

afterEach(() => {
  db.close();
  fs.rmSync(folder, { recursive: true, force: true });
});

const addRegion: Migration = {
  version: SCHEMA_VERSION + 1,
  description: "test: a region per slot",
  up(target) {
    target.exec("ALTER TABLE slots ADD COLUMN region TEXT NOT NULL DEFAULT 'eu'");
  },
};

describe("migrations", () => {
  it("are numbered 1, 2, 3, ... in order", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it("take an empty file to the latest schema and mark it as Flip's", () => {
    expect(migrate(db, file, { now: NOW })).toBe(SCHEMA_VERSION);
    expect(userVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.pragma("application_id", { simple: true })).toBe(FLIP_APPLICATION_ID);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(["slots", "deployments", "phases", "check_results", "samples", "events", "driver_state"]));
    expect(migrate(db, file, { now: NOW + 1 })).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) FROM slots").pluck().get()).toBe(2);
  });

  it("apply only the pending ones, keeping the data", () => {
    migrate(db, file, { now: NOW });
    db.prepare("UPDATE slots SET version = 'v1' WHERE slot = 'blue'").run();
    expect(migrate(db, file, { now: NOW }, [...MIGRATIONS, addRegion])).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare("SELECT version, region FROM slots WHERE slot = 'blue'").get()).toEqual({ version: "v1", region: "eu" });
  });

  it("roll a failing migration back, leaving the file at the version before it", () => {
    migrate(db, file, { now: NOW });
    const broken: Migration = {
      version: SCHEMA_VERSION + 1,
      description: "test: fails half-way",
      up(target) {
        target.exec("CREATE TABLE half_done (x INTEGER)");
        throw new Error("disk full");
      },
    };
    expect(() => migrate(db, file, { now: NOW }, [...MIGRATIONS, broken])).toThrow("disk full");
    expect(userVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
  });

  it("refuse a file from a newer schema without touching it", () => {
    migrate(db, file, { now: NOW }, [...MIGRATIONS, addRegion]);
    const error = (() => {
      try {
        migrate(db, file, { now: NOW });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(`schema ${SCHEMA_VERSION + 1}, this Flip knows ${SCHEMA_VERSION}`);
    expect(userVersion(db)).toBe(SCHEMA_VERSION + 1);
  });

  it("refuse a list with a gap in its numbering", () => {
    const misnumbered: Migration = { ...addRegion, version: SCHEMA_VERSION + 2 };
    expect(() => migrate(db, file, { now: NOW }, [...MIGRATIONS, misnumbered])).toThrow(/numbered/);
  });
});
