// Expand/contract on in-memory drivers and a ManualClock, with real shell commands standing in for
// the database (they append to a file). When each command runs, what it is told, what is recorded,
// and what is refused: contract while the standby runs the old version, rollback after contract.
// test/postgres-expand-contract.test.ts runs the same story against a real PostgreSQL.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BadRequestError, ContractBlockedError, LockedError, SchemaContractedError } from "../core/errors.js";
import { fakeHarness, type FakeHarness } from "./testing/harness.js";

const harnesses: FakeHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

const HOUR = 3_600_000;
const test = { actor: "test" };

/** The "database" is a file the commands append to; `DB` in the commands is its path. */
async function setUp(extra = "", migrations = 'expand: "echo expand {version} from {previousVersion} >> $DB; echo expanded {version}"\n  contract: "echo contract {version} drops {previousVersion} >> $DB"'): Promise<FakeHarness & { db: () => string[] }> {
  const h = await fakeHarness(`migrations:\n  ${migrations}\n${extra}`);
  harnesses.push(h);
  process.env.DB = join(h.dir, "db.log");
  const db = () => {
    try {
      return readFileSync(join(h.dir, "db.log"), "utf8").trim().split("\n").map((line) => line.trimEnd());
    } catch {
      return [];
    }
  };
  return Object.assign(h, { db });
}

async function deploy(h: FakeHarness, version: string, options = test) {
  return h.finish((await h.engine.deploy(version, options)).id);
}

describe("expand", () => {
  it("runs before the new version is deployed, templated, with its output in the deployment log and the store", async () => {
    const h = await setUp();
    await deploy(h, "v1");
    const second = await deploy(h, "v2");
    expect(second.outcome).toBe("succeeded");
    expect(h.db()).toEqual(["expand v1 from", "expand v2 from v1"]);
    expect(h.store.phasesOf(second.id).map((p) => p.phase).slice(0, 3)).toEqual(["queued", "expanding", "deploying"]);
    expect(h.store.phasesOf(second.id)[1]?.detail).toBe("for v2 (from v1)");
    expect(h.events.filter((e) => e.type === "log" && e.deploymentId === second.id).map((e) => (e.type === "log" ? e.message : ""))).toContain("expand: expanded v2");
    expect(h.store.databaseMigrations.list().map((m) => [m.kind, m.version, m.previousVersion ?? null, m.ok, m.output])).toEqual([
      ["expand", "v2", "v1", true, "expanded v2"],
      ["expand", "v1", null, true, "expanded v1"],
    ]);
  });

  it("aborts the deployment when it fails, before anything else changes — the standby and its schedule too", async () => {
    const h = await setUp("retire: { scaleDownAfter: 10m, retireAfter: 24h }\n", 'expand: "echo adding column; echo no such table: users >&2; [ {version} != v3 ]"');
    await deploy(h, "v1");
    await deploy(h, "v2");
    const calls = h.platform.calls.length;
    const pending = h.store.standby.pending();
    // Without moving the clock: nothing may change, and no time passes for the schedule either.
    const started = await h.engine.deploy("v3", test);
    await h.until(() => h.store.deployment(started.id)?.outcome !== "running", "the failed expand");
    const failed = h.store.deployment(started.id)!;
    expect(failed.outcome).toBe("aborted");
    expect(failed.reason).toMatch(/^expand `echo adding column; .*` exited with code 1\n {2}adding column\n {2}no such table: users\nnothing else changed; traffic stayed on green$/);
    expect(h.store.phasesOf(failed.id).map((p) => p.phase)).toEqual(["queued", "expanding", "aborted"]);
    expect(h.platform.calls.slice(calls)).toEqual([]);
    expect(h.store.slot("blue")).toMatchObject({ version: "v1", state: "standby" });
    expect(h.store.standby.pending()).toEqual(pending);
    expect(h.store.databaseMigrations.list()[0]).toMatchObject({ kind: "expand", version: "v3", ok: false, message: "exited with code 1" });
  });
});

describe("contract", () => {
  it("is refused while the standby still runs the previous version, runs once it is retired, then refuses the rollback", async () => {
    const h = await setUp("retire: { retireAfter: 24h }\n");
    await deploy(h, "v1");
    const second = await deploy(h, "v2");
    const switchedAt = h.store.phasesOf(second.id).find((p) => p.phase === "switching")!.startedAt;

    const refusal = await h.engine.contract(test).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ContractBlockedError);
    expect((refusal as ContractBlockedError).message).toBe(
      "Contract refused: standby blue still runs v1, and `flip rollback` would send traffic to it. The contract for v2 removes what v1 needs, so after it every request v1 served could fail.",
    );
    expect((refusal as ContractBlockedError).hint).toBe(
      `Retire the standby first with \`flip retire\` (or wait until it is retired at ${new Date(switchedAt + 24 * HOUR).toISOString()}), then run \`flip contract\`, or deploy v2 to blue too, so that no slot runs v1.`,
    );
    expect(h.db()).toEqual(["expand v1 from", "expand v2 from v1"]);

    await h.clock.advance(switchedAt + 24 * HOUR - h.clock.now());
    await h.until(() => h.store.slot("blue").state === "retired", "the retirement");
    const contracted = await h.finish((await h.engine.contract({ actor: "cli:erin" })).id);
    expect(contracted).toMatchObject({ kind: "contract", version: "v2", slot: "green", previousVersion: "v1", outcome: "succeeded", actor: "cli:erin" });
    expect(contracted.reason).toBe("schema contracted for v2; an instant rollback to v1 is now refused");
    expect(h.db().at(-1)).toBe("contract v2 drops v1");
    expect(h.store.phasesOf(contracted.id).map((p) => p.phase)).toEqual(["queued", "contracting", "succeeded"]);
    expect(h.router.current).toBe("green");

    const rollback = await h.engine.rollback(test).catch((error: unknown) => error);
    expect(rollback).toBeInstanceOf(SchemaContractedError);
    expect((rollback as SchemaContractedError).message).toMatch(/^Rolling back to v1 is refused: the database schema was contracted for v2 at .* \(d-0003-\w{4}: `echo contract v2 drops v1 >> \$DB`\), after v1 last passed its checks\./);
    expect((rollback as SchemaContractedError).hint).toMatch(/pass --force to switch to v1 anyway — at the risk of errors/);
    expect(h.store.runningDeployment()).toBeUndefined();

    // --force does it (here: a redeploy of the retired v1), and says what it risked in the server log only.
    const forced = await h.finish((await h.engine.rollback({ actor: "test", force: true })).id);
    expect(forced).toMatchObject({ kind: "rollback", version: "v1", outcome: "succeeded", force: true });
  });

  it("runs by itself when the standby is retired, with contractAfterRetire", async () => {
    const h = await setUp("retire: { scaleDownAfter: 1h, retireAfter: 2h }\n", 'contract: "echo contract {version} drops {previousVersion} >> $DB"\n  contractAfterRetire: true');
    await deploy(h, "v1");
    await deploy(h, "v2");
    await h.clock.advance(2 * HOUR);
    await h.until(() => h.store.listDeployments()[0]?.kind === "contract" && h.store.listDeployments()[0]?.outcome === "succeeded", "the contract after retirement");
    expect(h.store.listDeployments()[0]).toMatchObject({ kind: "contract", actor: "engine", version: "v2", previousVersion: "v1" });
    expect(h.db()).toEqual(["contract v2 drops v1"]);
    await expect(h.engine.rollback(test)).rejects.toBeInstanceOf(SchemaContractedError);
  });

  it("allows a rollback to a version that passed its checks after the contract", async () => {
    const h = await setUp("retire: { retireAfter: 1h }\n");
    await deploy(h, "v1");
    await deploy(h, "v2");
    await h.clock.advance(HOUR);
    await h.until(() => h.store.slot("blue").state === "retired", "the retirement");
    await h.finish((await h.engine.contract(test)).id);
    await deploy(h, "v3");
    const back = await h.finish((await h.engine.rollback(test)).id);
    expect(back).toMatchObject({ version: "v2", outcome: "succeeded" });
    // The contract was for v2 itself: v2 works with it. v3 deployed after it, so rolling forward is fine too.
    expect((await h.finish((await h.engine.rollback(test)).id)).version).toBe("v3");
  });

  it("needs a command, and a restart while it runs ends it failed, saying the schema may be half done", async () => {
    const none = await fakeHarness("");
    harnesses.push(none);
    await expect(none.engine.contract(test)).rejects.toBeInstanceOf(BadRequestError);

    const h = await setUp("", 'contract: "sleep 30"');
    await deploy(h, "v1");
    const started = await h.engine.contract(test);
    await h.reach("contracting");
    await h.restart();
    const done = await h.finish(started.id);
    expect(done.outcome).toBe("failed");
    expect(done.reason).toBe("flip serve stopped while the contract command ran, so it may have run partly: check the database, then run `flip contract` again");
    expect(h.store.databaseMigrations.list()[0]).toMatchObject({ kind: "contract", ok: false });
  });
});

describe("flip retire", () => {
  it("stops the standby at once, for a person, so the contract can follow; refused while a deployment runs or with no standby", async () => {
    const h = await setUp();
    await deploy(h, "v1");
    await deploy(h, "v2");
    const refusal = await h.engine.contract(test).catch((error: unknown) => error);
    expect((refusal as ContractBlockedError).hint).toBe("Retire the standby first with `flip retire`, then run `flip contract`, or deploy v2 to blue too, so that no slot runs v1.");

    const calls = h.platform.calls.length;
    expect(await h.engine.retire({ actor: "cli:erin" })).toEqual({ slot: "blue", version: "v1" });
    expect(h.platform.calls.slice(calls)).toEqual(["stop blue"]);
    expect(h.store.slot("blue")).toMatchObject({ version: "v1", state: "retired" });
    expect(h.store.events({ limit: 5 }).find((event) => event.kind === "standby.retired")).toMatchObject({ actor: "cli:erin", message: expect.stringMatching(/^standby blue \(v1\) retired \(stopped\) by cli:erin; a rollback to v1 now redeploys it/) });
    expect(h.store.standby.latest("blue", "v1")).toMatchObject({ action: "retire", outcome: "done", replicas: 2 }); // what a rollback redeploys

    const again = await h.engine.retire(test).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(BadRequestError);
    expect((again as BadRequestError).message).toBe("There is no standby to retire: blue is retired (v1).");
    const contracted = await h.finish((await h.engine.contract(test)).id);
    expect(contracted.outcome).toBe("succeeded");

    const running = await h.engine.deploy("v3", test);
    expect(await h.engine.retire(test).catch((error: unknown) => error)).toBeInstanceOf(LockedError);
    await h.finish(running.id);
  });
});
