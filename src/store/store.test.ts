import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { BadRequestError, LockedError, NotFoundError, StoreError } from "../core/errors.js";
import type { CheckResult } from "../checks/types.js";
import { SCHEMA_VERSION } from "./migrations.js";
import type { SampleRecord } from "./records.js";
import { Store } from "./store.js";

const T0 = Date.UTC(2026, 0, 1);

let folder: string;
let opened: Store[];
let clock: ManualClock;

beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), "flip-store-"));
  opened = [];
  clock = new ManualClock(T0);
});

afterEach(() => {
  for (const store of opened) store.close();
  fs.rmSync(folder, { recursive: true, force: true });
});

function open(file = ":memory:"): Store {
  const store = Store.open(file, { clock });
  opened.push(store);
  return store;
}

function fileIn(...parts: string[]): string {
  return path.join(folder, ...parts);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

const deployV2 = { kind: "deploy", version: "v2", slot: "green", fromSlot: "blue", previousVersion: "v1", actor: "alice" } as const;

describe("opening", () => {
  it("migrates an empty database and seeds both slots as empty", () => {
    const store = open();
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.schemaVersion).toBeGreaterThan(0);
    expect(store.path).toBe(":memory:");
    expect(store.slots()).toEqual({
      blue: { slot: "blue", version: undefined, state: "empty", updatedAt: T0 },
      green: { slot: "green", version: undefined, state: "empty", updatedAt: T0 },
    });
  });

  it("creates the folder, uses WAL, and keeps data across a reopen without migrating again", async () => {
    const file = fileIn("nested", ".flip", "state.db");
    const first = open(file);
    first.updateSlot("blue", { version: "v1", state: "live" });
    const started = first.beginDeployment(deployV2);
    first.driverState("router.builtin").set("live", "blue");
    first.close();

    await clock.advance(60_000);
    const second = open(file);
    expect(second.schemaVersion).toBe(SCHEMA_VERSION);
    expect(second.slot("blue")).toEqual({ slot: "blue", version: "v1", state: "live", updatedAt: T0 });
    // Untouched by the reopen: migration 1 (which seeds slots) did not run again.
    expect(second.slot("green").updatedAt).toBe(T0);
    expect(second.runningDeployment()).toEqual(started);
    expect(second.driverState("router.builtin").get("live")).toBe("blue");

    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
  });

  it("refuses a database written by a newer Flip", () => {
    const file = fileIn("state.db");
    open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();

    const error = catchError(() => Store.open(file, { clock }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("FLIP_E_STORE");
    expect((error as StoreError).message).toBe(
      `${file} was written by a newer Flip (schema ${SCHEMA_VERSION + 1}, this Flip knows ${SCHEMA_VERSION}): upgrade Flip or point \`state:\` elsewhere.`,
    );
    expect((error as StoreError).hint).toContain("state:");
  });

  it("refuses a file that is not a SQLite database, naming it and leaving it alone", () => {
    const file = fileIn("state.db");
    const content = "app: hello\nplatform: { kind: process }\n".repeat(40);
    fs.writeFileSync(file, content);

    const error = catchError(() => Store.open(file, { clock }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(file);
    expect((error as StoreError).message).toContain("not a SQLite database");
    expect((error as StoreError).hint).toMatch(/state:.*move this one away/);
    expect(fs.readFileSync(file, "utf8")).toBe(content);
  });

  it("refuses a SQLite database that some other program wrote", () => {
    const file = fileIn("other.db");
    const raw = new Database(file);
    raw.exec("CREATE TABLE notes (text TEXT)");
    raw.close();

    const error = catchError(() => Store.open(file, { clock }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(`${file} is a SQLite database, but not one Flip wrote`);

    const check = new Database(file, { readonly: true });
    try {
      const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      expect(tables).toEqual(["notes"]);
    } finally {
      check.close();
    }
  });

  it("refuses a path whose folder cannot be created", () => {
    const blocker = fileIn("a-file");
    fs.writeFileSync(blocker, "");
    const error = catchError(() => Store.open(path.join(blocker, "state.db"), { clock }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(blocker);
  });
});

describe("slots", () => {
  it("sets, keeps and clears a slot's version and state", async () => {
    const store = open();
    await clock.advance(1_000);
    expect(store.updateSlot("green", { version: "v2", state: "deploying" })).toEqual({ slot: "green", version: "v2", state: "deploying", updatedAt: T0 + 1_000 });
    await clock.advance(1_000);
    expect(store.updateSlot("green", { state: "idle" })).toMatchObject({ version: "v2", state: "idle", updatedAt: T0 + 2_000 });
    expect(store.updateSlot("green", { version: null, state: "stopped" })).toMatchObject({ version: undefined, state: "stopped" });
    expect(store.slot("blue").state).toBe("empty");
  });
});

describe("the deploy lock", () => {
  it("refuses a second deployment while one runs, naming the running one, and frees up after finish", () => {
    const store = open();
    const first = store.beginDeployment(deployV2);
    expect(first.id).toMatch(/^d-0001-[0-9a-z]{4}$/);
    expect(first).toMatchObject({ phase: "queued", outcome: "running", force: false, startedAt: T0, finishedAt: undefined, fromSlot: "blue", previousVersion: "v1" });

    const error = catchError(() => store.beginDeployment({ kind: "rollback", version: "v1", slot: "blue", actor: "bob" }));
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).runningId).toBe(first.id);
    expect((error as LockedError).message).toContain(first.id);
    expect((error as LockedError).message).toContain("deploy v2 to green, phase queued");
    expect(store.listDeployments()).toHaveLength(1);

    store.finishDeployment(first.id, "aborted", "health check failed");
    expect(store.runningDeployment()).toBeUndefined();
    const second = store.beginDeployment({ kind: "rollback", version: "v1", slot: "blue", actor: "bob", force: true });
    expect(second.id).toMatch(/^d-0002-[0-9a-z]{4}$/);
    expect(second.force).toBe(true);
    expect(store.runningDeployment()?.id).toBe(second.id);
  });

  it("is enforced by the schema too: a second running row cannot be written behind the store's back", () => {
    const file = fileIn("state.db");
    const store = open(file);
    store.beginDeployment(deployV2);
    const raw = new Database(file);
    try {
      const sneak = () =>
        raw
          .prepare("INSERT INTO deployments (seq, id, kind, version, slot, phase, outcome, actor, started_at) VALUES (99, 'd-0099-zzzz', 'deploy', 'v3', 'blue', 'queued', 'running', 'mallory', 0)")
          .run();
      expect(sneak).toThrow(/UNIQUE constraint failed/);
    } finally {
      raw.close();
    }
  });

  it("lists deployments newest first, 50 unless told", () => {
    const store = open();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const deployment = store.beginDeployment({ ...deployV2, version: `v${i}` });
      store.finishDeployment(deployment.id, "succeeded");
      ids.push(deployment.id);
    }
    expect(store.listDeployments().map((d) => d.id)).toEqual([...ids].reverse());
    expect(store.listDeployments({ limit: 2 }).map((d) => d.version)).toEqual(["v2", "v1"]);
    expect(() => store.listDeployments({ limit: 0 })).toThrow(BadRequestError);
  });

  it("counts deployments by outcome, the running one included", () => {
    const store = open();
    expect(store.deploymentOutcomes()).toEqual({});
    for (const outcome of ["succeeded", "succeeded", "rolled-back"] as const) {
      store.finishDeployment(store.beginDeployment(deployV2).id, outcome);
    }
    store.beginDeployment(deployV2);
    expect(store.deploymentOutcomes()).toEqual({ succeeded: 2, "rolled-back": 1, running: 1 });
  });
});

describe("phases", () => {
  it("opens and closes phase rows at the clock's times, ending with the terminal phase", async () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    await clock.advance(1_000);
    expect(store.enterPhase(id, "deploying", "starting 2 replicas").phase).toBe("deploying");
    await clock.advance(2_000);
    store.enterPhase(id, "checking");

    expect(store.phasesOf(id)).toEqual([
      { deploymentId: id, phase: "queued", startedAt: T0, finishedAt: T0 + 1_000, detail: undefined },
      { deploymentId: id, phase: "deploying", startedAt: T0 + 1_000, finishedAt: T0 + 3_000, detail: "starting 2 replicas" },
      { deploymentId: id, phase: "checking", startedAt: T0 + 3_000, finishedAt: undefined, detail: undefined },
    ]);

    await clock.advance(500);
    const finished = store.finishDeployment(id, "succeeded");
    expect(finished).toMatchObject({ phase: "succeeded", outcome: "succeeded", finishedAt: T0 + 3_500, reason: undefined });
    expect(store.phasesOf(id).slice(2)).toEqual([
      { deploymentId: id, phase: "checking", startedAt: T0 + 3_000, finishedAt: T0 + 3_500, detail: undefined },
      { deploymentId: id, phase: "succeeded", startedAt: T0 + 3_500, finishedAt: T0 + 3_500, detail: undefined },
    ]);
  });

  it("refuses terminal phases in enterPhase, any phase after finish, and unknown ids", () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    expect(() => store.enterPhase(id, "succeeded")).toThrow(StoreError);
    expect(store.deployment(id)?.outcome).toBe("running");

    store.finishDeployment(id, "failed", "platform refused");
    expect(() => store.enterPhase(id, "deploying")).toThrow(/already finished \(failed\)/);
    expect(() => store.finishDeployment(id, "succeeded")).toThrow(StoreError);
    expect(store.deployment(id)).toMatchObject({ outcome: "failed", reason: "platform refused" });

    expect(() => store.enterPhase("d-9999-none", "deploying")).toThrow(NotFoundError);
    expect(() => store.setReason("d-9999-none", "why")).toThrow(NotFoundError);
    expect(store.deployment("d-9999-none")).toBeUndefined();
  });

  it("keeps a reason set earlier when finish gives none, and records the outcome as an event", () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    store.setReason(id, "errorRate 12% breaks errorRate < 5%");
    const finished = store.finishDeployment(id, "rolled-back");
    expect(finished.reason).toBe("errorRate 12% breaks errorRate < 5%");
    const [last] = store.events({ deploymentId: id });
    expect(last).toMatchObject({ kind: "deployment.rolled-back", actor: "alice", deploymentId: id });
    expect(last?.message).toContain("errorRate 12% breaks errorRate < 5%");
  });

  it("finishes in one transaction: a failure half-way changes nothing and keeps the lock", () => {
    const file = fileIn("state.db");
    const store = open(file);
    const { id } = store.beginDeployment(deployV2);
    store.enterPhase(id, "monitoring");
    const phasesBefore = store.phasesOf(id);
    const eventsBefore = store.events();

    // Make the last write of finishDeployment (its audit event) fail, as a full disk would.
    const raw = new Database(file);
    try {
      raw.exec(`CREATE TRIGGER fail_finish BEFORE INSERT ON events WHEN NEW.kind = 'deployment.failed'
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
      expect(() => store.finishDeployment(id, "failed", "boom")).toThrow(/injected failure/);

      expect(store.runningDeployment()).toMatchObject({ id, phase: "monitoring", outcome: "running", reason: undefined, finishedAt: undefined });
      expect(store.phasesOf(id)).toEqual(phasesBefore);
      expect(store.events()).toEqual(eventsBefore);

      raw.exec("DROP TRIGGER fail_finish");
    } finally {
      raw.close();
    }
    expect(store.finishDeployment(id, "failed", "boom").outcome).toBe("failed");
    expect(store.runningDeployment()).toBeUndefined();
  });

  it("groups several calls with transaction(): all or nothing", () => {
    const store = open();
    expect(() =>
      store.transaction(() => {
        store.updateSlot("green", { version: "v2", state: "live" });
        store.beginDeployment(deployV2);
        throw new Error("changed my mind");
      }),
    ).toThrow("changed my mind");
    expect(store.slot("green").state).toBe("empty");
    expect(store.listDeployments()).toEqual([]);
    expect(store.events()).toEqual([]);
  });
});

describe("checks and samples", () => {
  it("round-trips check results in order, with and without optional fields", () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    const checks: CheckResult[] = [
      { name: "health", kind: "http", ok: true, message: "200 OK", replica: 0, attempts: 1, durationMs: 12, at: T0 + 10 },
      { name: "smoke", kind: "command", ok: false, message: "exit code 1, expected 0", output: "FAIL: login\n", attempts: 3, durationMs: 2_345.5, at: T0 + 20 },
    ];
    for (const check of checks) store.recordCheck(id, check);
    expect(store.checksOf(id)).toEqual(checks);
    expect(Object.keys(store.checksOf(id)[1]!)).not.toContain("replica");
    expect(() => store.recordCheck("d-9999-none", checks[0]!)).toThrow(NotFoundError);
  });

  it("round-trips samples with their rule results, including unmeasured values", () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    const samples: SampleRecord[] = [
      {
        deploymentId: id,
        at: T0 + 10_000,
        slot: "green",
        requests: 3,
        errors: 0,
        judged: false,
        healthy: true,
        results: [{ rule: "p99 < 800ms", metric: "p99", value: undefined, threshold: 800, ok: true }],
        note: "3 requests in the window, fewer than minRequests (20)",
      },
      {
        deploymentId: id,
        at: T0 + 20_000,
        slot: "green",
        requests: 200,
        errors: 25,
        judged: true,
        healthy: false,
        results: [{ rule: "errorRate < 5%", metric: "errorRate", value: 0.125, threshold: 0.05, ok: false }],
        note: undefined,
      },
    ];
    for (const sample of samples) store.recordSample(sample);
    expect(store.samplesOf(id)).toEqual(samples);
    expect(store.samplesOf(id)[0]!.results[0]).toHaveProperty("value", undefined);
  });
});

describe("events", () => {
  it("lists events newest first, even within one millisecond, filtered by deployment", async () => {
    const store = open();
    const { id } = store.beginDeployment(deployV2);
    store.appendEvent({ actor: "bob", kind: "note", message: "first" });
    store.appendEvent({ actor: "bob", kind: "note", message: "second", deploymentId: id, data: { replicas: [1, 2], ok: true } });
    await clock.advance(5);
    store.appendEvent({ actor: "carol", kind: "note", message: "third" });

    const all = store.events();
    expect(all.map((e) => e.message)).toEqual(["third", "second", "first", "alice started " + id + ": deploy v2 to green"]);
    expect(all[0]).toMatchObject({ at: T0 + 5, actor: "carol", deploymentId: undefined, data: undefined });
    expect(all[1]?.data).toEqual({ replicas: [1, 2], ok: true });
    expect(store.events({ limit: 2 }).map((e) => e.message)).toEqual(["third", "second"]);
    expect(store.events({ deploymentId: id }).map((e) => e.kind)).toEqual(["note", "deployment.started"]);
    expect(() => store.appendEvent({ actor: "bob", kind: "note", message: "x", deploymentId: "d-9999-none" })).toThrow(NotFoundError);
  });

  it("is append-only, even for a writer that bypasses the store", () => {
    const file = fileIn("state.db");
    const store = open(file);
    store.appendEvent({ actor: "bob", kind: "note", message: "keep me" });
    const raw = new Database(file);
    try {
      expect(() => raw.prepare("UPDATE events SET message = 'rewritten'").run()).toThrow(/append-only/);
      expect(() => raw.prepare("DELETE FROM events").run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(store.events()[0]?.message).toBe("keep me");
  });

  it("refuses data that JSON cannot hold", () => {
    const store = open();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => store.appendEvent({ actor: "bob", kind: "note", message: "x", data: cyclic })).toThrow(StoreError);
    expect(store.events()).toEqual([]);
  });
});

describe("driver state", () => {
  it("round-trips JSON values, overwrites, deletes, and keeps namespaces apart", () => {
    const store = open();
    const platform = store.driverState("platform.process");
    const router = store.driverState("router.builtin");

    platform.set("blue", { pids: [101, 102], ports: [41001, 41002] });
    router.set("blue", "not the same key");
    expect(platform.get("blue")).toEqual({ pids: [101, 102], ports: [41001, 41002] });
    expect(router.get("blue")).toBe("not the same key");
    expect(store.driverState("platform.process").get("blue")).toEqual({ pids: [101, 102], ports: [41001, 41002] });

    platform.set("blue", { pids: [], ports: [] });
    expect(platform.get("blue")).toEqual({ pids: [], ports: [] });
    platform.delete("blue");
    expect(platform.get("blue")).toBeUndefined();
    expect(router.get("blue")).toBe("not the same key");

    router.set("live", false);
    expect(router.get("live")).toBe(false);
    router.set("live", undefined);
    expect(router.get("live")).toBeUndefined();
    expect(platform.get("never-set")).toBeUndefined();
  });
});

describe("a crash", () => {
  it("leaves the running deployment and its phases readable by a second instance (as after kill -9)", async () => {
    const file = fileIn(".flip", "state.db");
    const crashed = open(file); // never closed before the second opens: its process "died"
    const started = crashed.beginDeployment(deployV2);
    await clock.advance(2_000);
    crashed.enterPhase(started.id, "waiting-ready", "2 replicas");
    crashed.recordCheck(started.id, { name: "health", kind: "http", ok: true, message: "200 OK", attempts: 1, durationMs: 3, at: T0 + 2_000 });
    crashed.driverState("platform.process").set("green", { pids: [4242] });

    await clock.advance(10_000);
    const restarted = open(file);
    const running = restarted.runningDeployment();
    expect(running).toEqual({ ...started, phase: "waiting-ready" });
    expect(restarted.phasesOf(started.id)).toEqual([
      { deploymentId: started.id, phase: "queued", startedAt: T0, finishedAt: T0 + 2_000, detail: undefined },
      { deploymentId: started.id, phase: "waiting-ready", startedAt: T0 + 2_000, finishedAt: undefined, detail: "2 replicas" },
    ]);
    expect(restarted.checksOf(started.id)).toHaveLength(1);
    expect(restarted.driverState("platform.process").get("green")).toEqual({ pids: [4242] });

    // The lock survived the crash, and reconcile on restart can end the deployment.
    expect(() => restarted.beginDeployment(deployV2)).toThrow(LockedError);
    restarted.finishDeployment(started.id, "aborted", "controller restarted before the switch");
    expect(crashed.runningDeployment()).toBeUndefined();
  });
});
