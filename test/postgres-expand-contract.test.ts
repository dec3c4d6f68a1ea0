// Expand/contract against a real PostgreSQL, under steady traffic: examples/postgres (v1 reads and
// writes users.name; v2's expand adds full_name and backfills it, v2 writes both; v2's contract
// drops name) deployed blue-green by the engine — the process platform, the built-in proxy, a
// SQLite store — with both slots sharing one database. The engine's clock is a ManualClock: the
// monitor windows and the standby's retirement move only when the test says so.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../src/core/clock.js";
import { ManualClock } from "../src/core/clock.testing.js";
import { ContractBlockedError, SchemaContractedError } from "../src/core/errors.js";
import { parseConfigText } from "../src/config/load.js";
import { Engine } from "../src/engine/engine.js";
import { silentLogger } from "../src/logging.js";
import { createMetricsSource } from "../src/metrics/registry.js";
import { createPlatform } from "../src/platforms/registry.js";
import { createRouter } from "../src/routers/registry.js";
import type { DeploymentRecord } from "../src/store/records.js";
import { Store } from "../src/store/store.js";
import { repoRoot, Traffic } from "./helpers/flip-process.js";
import { startPostgres, type Postgres } from "./helpers/postgres.js";

const exampleDir = join(repoRoot, "examples/postgres");
let database: Postgres;

beforeAll(async () => {
  database = await startPostgres();
}, 30_000);
afterAll(async () => {
  await database?.stop();
});

async function columnsOfUsers(): Promise<string[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position");
    return result.rows.map((row) => row.column_name);
  } finally {
    await client.end();
  }
}

describe("expand/contract with a real PostgreSQL", () => {
  it("deploys v2, rolls back to v1, deploys v2 again with zero failed requests; contracts after retirement; then refuses the rollback", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flip-pg-app-"));
    const config = parseConfigText(
      `app: users
platform: { kind: process, command: "node server.js", cwd: ${JSON.stringify(exampleDir)}, stopGrace: 3s,
            env: { APP_VERSION: "{version}", PORT: "{port}", DATABASE_URL: "${database.url}" } }
router: { kind: builtin, listen: "127.0.0.1:0", drainTimeout: 2s }
checks:
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
  - { name: users, http: { path: / } }
monitor: { duration: 2s, interval: 1s, minRequests: 5, rules: ["errorRate < 1%"] }
retire: { retireAfter: 1h }
migrations:
  expand: "DATABASE_URL=${database.url} node ${join(exampleDir, "migrate.js")} expand {version}"
  contract: "DATABASE_URL=${database.url} node ${join(exampleDir, "migrate.js")} contract {version}"
readyTimeout: 15s
`,
      join(dir, "flip.yaml"),
    );
    const clock = new ManualClock(Date.now());
    const store = Store.open(config.statePath, { clock });
    const platform = createPlatform(config, { app: "users", configDir: dir, logDir: config.logDir, logger: silentLogger, clock: systemClock, state: store.driverState("platform.process") });
    const router = createRouter(config, { app: "users", logger: silentLogger, clock: systemClock, state: store.driverState("router.builtin") });
    await router.start();
    const engine = new Engine({ config, store, platform, router, metrics: createMetricsSource(config, router), clock, logger: silentLogger });
    await engine.start();
    const proxy = `http://${router.listenAddresses?.().listen ?? "?"}`;
    let traffic: Traffic | undefined;

    /** Runs a deployment to its end, moving the monitor's clock a second at a time. */
    const finish = async (id: string): Promise<DeploymentRecord> => {
      for (let i = 0; i < 3000; i++) {
        const record = store.deployment(id)!;
        if (record.outcome !== "running") return record;
        if (record.phase === "monitoring" && clock.pendingSleeps > 0) {
          await sleep(60); // let real traffic fill the window
          await clock.advance(1000);
        } else {
          await sleep(20);
        }
      }
      throw new Error(`deployment ${id} did not finish`);
    };
    const deploy = async (version: string) => finish((await engine.deploy(version, { actor: "test" })).id);

    try {
      const first = await deploy("v1");
      expect(first.outcome, first.reason).toBe("succeeded");
      expect(await columnsOfUsers()).toEqual(["id", "name", "created_at"]);
      traffic = new Traffic(proxy, 3);
      await sleep(300);

      // v2: expand (add full_name, backfill, keep in step) runs first; v1 keeps serving meanwhile.
      const second = await deploy("v2");
      expect(second.outcome, second.reason).toBe("succeeded");
      expect(store.phasesOf(second.id).map((p) => p.phase).slice(1, 3)).toEqual(["expanding", "deploying"]);
      expect(await columnsOfUsers()).toEqual(["id", "name", "created_at", "full_name"]);
      await sleep(300);

      // Back to v1, instantly: the expanded schema still works for it.
      const back = await finish((await engine.rollback({ actor: "test" })).id);
      expect(back.outcome, back.reason).toBe("succeeded");
      await sleep(300);

      const again = await deploy("v2");
      expect(again.outcome, again.reason).toBe("succeeded");
      expect((await engine.status()).slots).toMatchObject({ green: { version: "v2", state: "live" }, blue: { version: "v1", state: "standby" } });

      // The standby still runs v1: contracting now would break the rollback target.
      await expect(engine.contract({ actor: "test" })).rejects.toBeInstanceOf(ContractBlockedError);
      expect(await columnsOfUsers()).toContain("name");

      await clock.advance(3_600_000); // retireAfter: the standby running v1 is stopped
      for (let i = 0; i < 200 && store.slot("blue").state !== "retired"; i++) await sleep(25);
      expect(store.slot("blue")).toMatchObject({ version: "v1", state: "retired" });

      const contracted = await finish((await engine.contract({ actor: "test" })).id);
      expect(contracted.outcome, contracted.reason).toBe("succeeded");
      expect(await columnsOfUsers()).toEqual(["id", "created_at", "full_name"]);
      await sleep(500); // v2 keeps serving after the column it no longer needs is gone

      const refusal = await engine.rollback({ actor: "test" }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(SchemaContractedError);
      expect((refusal as Error).message).toMatch(/^Rolling back to v1 is refused: the database schema was contracted for v2/);
      expect(store.databaseMigrations.list().map((m) => [m.kind, m.version, m.ok])).toEqual([
        ["contract", "v2", true],
        ["expand", "v2", true],
        ["expand", "v2", true],
        ["expand", "v1", true],
      ]);

      await traffic.stop();
      expect(traffic.statuses.length).toBeGreaterThan(100);
      expect(traffic.failures).toBe(0);
      expect(Object.keys(traffic.versions).sort()).toEqual(["v1", "v2"]);
    } finally {
      await traffic?.stop();
      await engine.stop();
      await router.close();
      await platform.close({ stopReplicas: true });
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
