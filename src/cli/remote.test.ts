// The commands that talk to flip serve, run in-process against a real API server (127.0.0.1:0)
// over an engine double the test drives: output, exit codes, reconnects, Ctrl-C, tokens.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startApiServer } from "../api/server.js";
import type { ApiServer } from "../api/server.js";
import { EngineDouble } from "../api/testing/engine-double.js";
import { LockedError } from "../core/errors.js";
import { silentLogger } from "../logging.js";
import { deployCommand } from "./deploy.js";
import { runCli } from "./program.js";
import { rollbackCommand } from "./rollback.js";
import { switchCommand } from "./switch.js";
import { testIo } from "./testing/io.js";

let engine: EngineDouble;
let server: ApiServer | undefined;

beforeEach(async () => {
  engine = new EngineDouble();
  server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger, token: "tok-123" });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const url = () => (server as ApiServer).url;
const fast = { reconnectDelayMs: 1 };

/** Waits until the command under test is following the deployment. */
async function watching(count = 1): Promise<void> {
  await waitFor(() => engine.listenerCount === count);
}

describe("flip deploy", () => {
  it("prints the progress live and exits 0 on success", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = deployCommand("v2", { server: url() }, io, fast);
    await watching();
    engine.enterPhase("d-1", "deploying", "v2 to green");
    engine.enterPhase("d-1", "checking", "1 check against green");
    engine.recordCheck("d-1", { name: "health", kind: "http", ok: true, message: "200", replica: 0, attempts: 1, durationMs: 3 });
    engine.enterPhase("d-1", "monitoring", "green for 10m");
    engine.recordSample("d-1", { slot: "green", requests: 412, errors: 0, judged: true, healthy: true, results: [{ rule: "p99 < 800ms", metric: "p99", value: 12, threshold: 800, ok: true }], note: undefined }, 250_000);
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);

    expect(engine.calls[0]).toEqual({ method: "deploy", args: ["v2", { actor: expect.stringMatching(/^cli:.+/) as unknown, force: false }] });
    expect(io.out().split("\n")).toEqual([
      "Deploying v2 to green, blue is live — deployment d-1",
      "▸ queued",
      "▸ deploying  v2 to green  (queued took 1.0s)",
      "▸ checking  1 check against green  (deploying took 1.0s)",
      "  ✓ health  replica 0  200",
      "▸ monitoring  green for 10m  (checking took 2.0s)",
      "  monitoring  p99 12ms (< 800ms)  412 req  4m10s left",
      "✓ succeeded: traffic on green (d-1 after 6.0s; monitoring took 2.0s)",
      "",
    ]);
    expect(io.err()).toBe("");
    expect(engine.listenerCount).toBe(0);
  });

  it.each([
    ["aborted", 2],
    ["rolled-back", 3],
    ["failed", 1],
  ] as const)("exits with the code of %s", async (outcome, code) => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = deployCommand("v2", { server: url() }, io, fast);
    await watching();
    engine.finish("d-1", outcome, `it ${outcome}`);
    expect(await running).toBe(code);
    expect(io.out()).toContain(`: it ${outcome} (d-1`);
  });

  it("follows a deployment that finished before it connected", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    // The engine finishes the deployment the moment it is started, before anyone subscribes.
    const deploy = engine.deploy.bind(engine);
    engine.deploy = async (version, options) => {
      const started = await deploy(version, options);
      engine.enterPhase(started.id, "checking");
      engine.finish(started.id, "aborted", "check health failed");
      return started;
    };
    expect(await deployCommand("v2", { server: url() }, io, fast)).toBe(2);
    expect(io.out()).toContain("▸ checking");
    expect(io.out()).toContain("✗ aborted: check health failed");
  });

  it("reconnects when the stream drops (flip serve restarted) and prints nothing twice", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = deployCommand("v2", { server: url() }, io, { reconnectDelayMs: 20 });
    await watching();
    engine.enterPhase("d-1", "deploying");
    await waitFor(() => io.out().includes("▸ deploying"));
    const address = (server as ApiServer).address;
    await server?.close(); // ends the stream without `finished`
    server = await startApiServer({ engine, listen: address, logger: silentLogger, token: "tok-123" });
    await watching();
    engine.enterPhase("d-1", "checking");
    engine.finish("d-1", "succeeded", "ok");
    expect(await running).toBe(0);
    const out = io.out();
    expect(out.match(/▸ queued/g)).toHaveLength(1);
    expect(out.match(/▸ deploying/g)).toHaveLength(1);
    expect(out).toContain("▸ checking");
    expect(out).toContain("(lost the event stream: the server ended the event stream; reconnecting, 1/5)");
  });

  it("gives up after a few reconnects, says the deployment keeps running, and exits 1", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = deployCommand("v2", { server: url() }, io, { reconnectDelayMs: 40, maxReconnects: 2 });
    await watching();
    await server?.close();
    server = undefined;
    expect(await running).toBe(1);
    expect(io.out()).toContain("reconnecting, 2/2");
    expect(io.err()).toMatch(/^error: Cannot reach flip serve at http:\/\/127\.0\.0\.1:\d+ \(lost the progress of deployment d-1 after 2 reconnects: (connection refused|the server ended the event stream)\)\.\n/);
    expect(io.err()).toContain("keeps running on the server");
  });

  it("stops watching on Ctrl-C, leaving the deployment running, with exit code 130", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = deployCommand("v2", { server: url() }, io, fast);
    await watching();
    expect(io.raise("SIGINT")).toBe(true);
    expect(await running).toBe(130);
    expect(io.err()).toBe("stopped watching; deployment d-1 keeps running — `flip abort` stops it\n");
    expect(engine.calls.map((call) => call.method)).not.toContain("abort");
    await waitFor(() => engine.listenerCount === 0);
  });

  it("prints the server's error and hint when the engine refuses", async () => {
    engine.failNextAction = new LockedError("d-9", "deploy v1 to green, phase checking");
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    expect(await runCli(["deploy", "v2", "--server", url()], io)).toBe(1);
    expect(io.err()).toBe("error: Another deployment is running: d-9 (deploy v1 to green, phase checking).\nhint: Wait for it to finish (`flip status`), or stop it with `flip abort`.\n");
  });

  it("is refused without the token, and says how to give it", async () => {
    const io = testIo();
    expect(await runCli(["deploy", "v2", "--server", url()], io)).toBe(1);
    expect(io.err()).toMatch(/^error: No Authorization header: .*\nhint: Set FLIP_TOKEN/);
    expect(engine.calls).toEqual([]);
  });

  it("says where it looked and how to start the server when nothing listens", async () => {
    const address = (server as ApiServer).url;
    await server?.close();
    server = undefined;
    const io = testIo();
    expect(await runCli(["status", "--server", address], io)).toBe(1);
    expect(io.err()).toBe(`error: Cannot reach flip serve at ${address} (connection refused).\nhint: Start it with \`flip serve -c flip.yaml\`, or check --server / FLIP_SERVER.\n`);
  });
});

describe("flip switch and flip rollback", () => {
  it("switch asks for the slot and follows it", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = switchCommand("green", { server: url(), force: true }, io, fast);
    await watching();
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]).toMatchObject({ method: "switchTo", args: ["green", { force: true }] });
    expect(io.out()).toMatch(/^Switching traffic to green \(v1\) — deployment d-1\n/);
  });

  it("rollback follows the flip back", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = rollbackCommand({ server: url() }, io, fast);
    await watching();
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]).toMatchObject({ method: "rollback" });
    expect(io.out()).toMatch(/^Rolling back to green \(v1\)/);
  });
});

describe("flip abort, promote, status and history", () => {
  it("abort and promote report what the engine accepted", async () => {
    await engine.deploy("v2", { actor: "t" });
    engine.enterPhase("d-1", "checking");
    const abort = testIo({ FLIP_TOKEN: "tok-123" });
    expect(await runCli(["abort", "--server", url()], abort)).toBe(0);
    expect(abort.out()).toContain("abort requested for deployment d-1 (deploy v2 to green, during checking).");
    expect(abort.out()).toContain("It stops before traffic moves and ends as aborted.");

    const promote = testIo({ FLIP_TOKEN: "tok-123" });
    expect(await runCli(["promote", "--server", url()], promote)).toBe(0);
    expect(promote.out()).toContain("promoted deployment d-1");
    expect(engine.calls.filter((c) => c.method !== "deploy").map((c) => c.method)).toEqual(["abort", "promote"]);
  });

  it("status --json prints the StatusView", async () => {
    const io = testIo();
    expect(await runCli(["status", "--json", "--server", url()], io)).toBe(0);
    const status = JSON.parse(io.out()) as { app: string; live: string; slots: { blue: { version: string; state: string } }; deployment?: unknown };
    expect(status).toMatchObject({ app: "hello", live: "blue", slots: { blue: { version: "v1", state: "live" }, green: { version: null, state: "empty" } } });
    expect(status.deployment).toBeNull();
  });

  it("history --json --limit prints the deployments; the table names them", async () => {
    await engine.deploy("v2", { actor: "t" });
    engine.finish("d-1", "succeeded", "ok");
    await engine.deploy("v3", { actor: "t" });
    engine.finish("d-2", "rolled-back", "errorRate too high");
    const json = testIo();
    expect(await runCli(["history", "--json", "--limit", "1", "--server", url()], json)).toBe(0);
    expect(engine.calls.at(-1)).toEqual({ method: "history", args: [1] });
    const items = JSON.parse(json.out()) as { id: string; version: string; slot: string; outcome: string; reason: string; startedAt: string; finishedAt: string }[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: "d-2", version: "v3", slot: "green", outcome: "rolled-back", reason: "errorRate too high" });
    expect(items[0]?.finishedAt).toMatch(/^\d{4}-/);
    await engine.deploy("v4", { actor: "t" });
    const runningJson = testIo();
    expect(await runCli(["history", "--json", "--limit", "1", "--server", url()], runningJson)).toBe(0);
    expect(JSON.parse(runningJson.out())).toMatchObject([{ id: "d-3", outcome: "running", reason: null, finishedAt: null, durationMs: null }]);

    const table = testIo();
    expect(await runCli(["history", "--server", url()], table)).toBe(0);
    expect(table.out()).toMatch(/^ID\s+KIND/);
    expect(table.out()).toContain("d-2");
    expect(table.out()).toContain("d-1");
  });

  it("finds the server through the config's control.listen and token", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const folder = await mkdtemp(join(tmpdir(), "flip-remote-"));
    try {
      const file = join(folder, "flip.yaml");
      const address = (server as ApiServer).address;
      await writeFile(file, `app: hello\nplatform: { kind: process, command: "node server.js" }\ncontrol: { listen: "${address}", token: "tok-123" }\n`);
      const io = testIo({ FLIP_CONFIG: file });
      expect(await runCli(["promote"], io)).toBe(1); // reached and authorised: refused only because nothing runs
      expect(io.err()).toContain("No deployment is running");
      expect(engine.calls.map((c) => c.method)).toEqual(["promote"]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
