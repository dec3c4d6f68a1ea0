// Opening state.db: create its folder, open the file, set the connection up, make sure the file is
// Flip's, migrate it. Every failure on the way becomes a StoreError that names the file and says
// what to do, instead of a bare SQLite code.
import fs from "node:fs";
import nodePath from "node:path";
import Database from "better-sqlite3";
import { StoreError } from "../core/errors.js";
import { FLIP_APPLICATION_ID, migrate, userVersion } from "./migrations.js";

/** How long a writer waits for another process's write transaction before giving up. */
export const BUSY_TIMEOUT_MS = 5_000;

const MOVE_OR_POINT_ELSEWHERE =
  "Point `state:` in flip.yaml at another file, or move this one away and Flip will create a fresh one.";
const CHECK_PERMISSIONS = "Check that this user can create and write it, or point `state:` in flip.yaml at another file.";

export interface OpenedDatabase {
  db: Database.Database;
  schemaVersion: number;
}

export function openDatabase(path: string, now: () => number): OpenedDatabase {
  const inMemory = path === ":memory:" || path === "";
  if (!inMemory) createFolderFor(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    // WAL lets `flip status` read while the controller writes; it cannot be set inside a transaction.
    db.pragma("journal_mode = WAL");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("foreign_keys = ON");
    refuseForeignDatabase(db, path);
    const schemaVersion = migrate(db, path, { now: now() });
    return { db, schemaVersion };
  } catch (error) {
    if (db?.open) db.close();
    throw asStoreError(error, path);
  }
}

function createFolderFor(path: string): void {
  const folder = nodePath.dirname(nodePath.resolve(path));
  try {
    fs.mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw new StoreError(
      `Cannot create the folder ${folder} for the state database ${path}: ${(error as Error).message}.`,
      CHECK_PERMISSIONS,
      { cause: error },
    );
  }
}

/**
 * A SQLite file some other program wrote must not be migrated into ours: it either carries another
 * application_id, or has a user_version or tables without carrying ours.
 */
function refuseForeignDatabase(db: Database.Database, path: string): void {
  const applicationId = db.pragma("application_id", { simple: true }) as number;
  if (applicationId === FLIP_APPLICATION_ID) return;
  const tableCount = (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
  if (applicationId === 0 && userVersion(db) === 0 && tableCount === 0) return; // new, empty file
  throw new StoreError(
    `${path} is a SQLite database, but not one Flip wrote, so Flip will not add its tables to it.`,
    MOVE_OR_POINT_ELSEWHERE,
  );
}

function asStoreError(error: unknown, path: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown }).code;
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "SQLITE_NOTADB":
      return new StoreError(
        `${path} is not a SQLite database (SQLite says: ${detail}), so Flip cannot keep its state there.`,
        MOVE_OR_POINT_ELSEWHERE,
        { cause: error },
      );
    case "SQLITE_CORRUPT":
      return new StoreError(
        `${path} is damaged (SQLite says: ${detail}).`,
        "Restore it from a backup, or move it away and Flip will create a fresh one (the deployment history is lost).",
        { cause: error },
      );
    case "SQLITE_CANTOPEN":
    case "SQLITE_READONLY":
    case "SQLITE_PERM":
      return new StoreError(
        `Cannot open the state database ${path} for writing (SQLite says: ${detail}).`,
        CHECK_PERMISSIONS,
        { cause: error },
      );
    case "SQLITE_BUSY":
      return new StoreError(
        `The state database ${path} stayed locked by another process for ${BUSY_TIMEOUT_MS} ms.`,
        "Another Flip is probably migrating or writing it; try again in a moment.",
        { cause: error },
      );
    default:
      return new StoreError(`Cannot use the state database ${path}: ${detail}.`, "Point `state:` in flip.yaml at another file, or report this as a bug.", { cause: error });
  }
}
