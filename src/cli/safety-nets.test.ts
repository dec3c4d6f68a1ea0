// The CLI side of issue 6's safety nets, in-process against a real API server over an engine
// double: `flip deploy --now` reaches the engine as `now: true` (the engine audits it); `flip status`
// shows a scaled-down or retired standby and what is scheduled for it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startApiServer } from "../api/server.js";
import type { ApiServer } from "../api/server.js";
import { EngineDouble } from "../api/testing/engine-double.js";
import type { StatusView } from "../engine/views.js";
import { ContractBlockedError, LockedError } from "../core/errors.js";
import { silentLogger } from "../logging.js";
import { noColors } from "./output.js";
import { runCli } from "./program.js";
import { formatStatus } from "./status.js";
import { testIo } from "./testing/io.js";

let engine: EngineDouble;
let server: ApiServer | undefined;

beforeEach(async () => {
  engine = new EngineDouble();
  server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error("condition not met in time");
}

describe("flip deploy --now", () => {
  it("asks the engine to switch without waiting for a window", async () => {
    const io = testIo();
    const running = runCli(["deploy", "v2", "--now", "--server", (server as ApiServer).url], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]).toEqual({ method: "deploy", args: ["v2", { actor: expect.stringMatching(/^cli:/) as unknown, force: false, now: true }] });
  });

  it("leaves `now` out when not given", async () => {
    const io = testIo();
    const running = runCli(["deploy", "v2", "--server", (server as ApiServer).url], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]?.args[1]).not.toHaveProperty("now");
  });
});

describe("flip status and the cheap standby", () => {
  const now = Date.parse("2026-01-14T12:00:00Z");
  const status: StatusView = {
    app: "shop",
    live: "green",
    slots: {
      blue: { slot: "blue", version: "v1", state: "scaled-down", replicas: 1, runningReplicas: 1, scheduled: [{ action: "retire", at: "2026-01-15T11:50:00.000Z" }] },
      green: { slot: "green", version: "v2", state: "live", replicas: 2, runningReplicas: 2 },
    },
    deployment: undefined,
    router: { kind: "builtin", listen: "127.0.0.1:8080" },
    platform: { kind: "process" },
  };

  it("shows the standby's state and when it retires", () => {
    const lines = formatStatus(status, noColors, now);
    expect(lines.slice(2, 5)).toEqual(["SLOT   VERSION  STATE        REPLICAS", "blue   v1       scaled-down  1/1", "green  v2       live         2/2"]);
    expect(lines).toContain("blue: retire in 23h50m");
    const retired = formatStatus({ ...status, slots: { ...status.slots, blue: { ...status.slots.blue, state: "retired", replicas: 0, runningReplicas: 0, scheduled: undefined } } }, noColors, now);
    expect(retired[3]).toBe("blue   v1       retired  0/0");
    expect(retired.join("\n")).not.toContain("retire in");
  });
});

describe("flip contract", () => {
  it("starts the contract and follows it to its end", async () => {
    const io = testIo();
    const running = runCli(["contract", "--server", (server as ApiServer).url], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.enterPhase("d-1", "contracting", "for v1 (removing what v0 needed)");
    engine.finish("d-1", "succeeded", "schema contracted for v1; an instant rollback to v0 is now refused");
    expect(await running).toBe(0);
    expect(engine.calls[0]).toEqual({ method: "contract", args: [{ actor: expect.stringMatching(/^cli:/) as unknown }] });
    expect(io.out()).toContain("Contracting the database schema for v1");
    expect(io.out()).toContain("▸ contracting  for v1 (removing what v0 needed)");
  });

  it("prints the refusal and its hint, exit code 1", async () => {
    engine.failNextAction = new ContractBlockedError("Contract refused: standby green still runs v0.", "Wait until green is retired, then run `flip contract`.");
    const io = testIo();
    expect(await runCli(["contract", "--server", (server as ApiServer).url], io)).toBe(1);
    expect(io.err()).toContain("Contract refused: standby green still runs v0.");
    expect(io.err()).toContain("Wait until green is retired");
  });
});

describe("flip retire", () => {
  it("says which standby it stopped and what a rollback costs now; --json prints it", async () => {
    const io = testIo();
    expect(await runCli(["retire", "--server", (server as ApiServer).url], io)).toBe(0);
    expect(engine.calls[0]).toEqual({ method: "retire", args: [{ actor: expect.stringMatching(/^cli:/) as unknown }] });
    expect(io.out()).toContain("✓ retired standby green (v1): stopped.");
    expect(io.out()).toContain("A rollback to v1 now redeploys it through the full flow, which is not instant.");
    const json = testIo();
    expect(await runCli(["retire", "--json", "--server", (server as ApiServer).url], json)).toBe(0);
    expect(JSON.parse(json.out())).toEqual({ slot: "green", version: "v1" });
  });

  it("prints the refusal while a deployment runs, and exits non-zero", async () => {
    engine.failNextAction = new LockedError("d-7", "deploy v3 to green, phase monitoring");
    const io = testIo();
    expect(await runCli(["retire", "--server", (server as ApiServer).url], io)).not.toBe(0);
    expect(io.err()).toContain("d-7");
  });
});
