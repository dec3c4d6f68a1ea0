// The terminal side of following a deployment: the live progress line (rewritten in place, a plain
// line per finished phase), the Ctrl-C prompt and each of its answers, --json, and coloured history.
// Commands run in-process against a real API server (127.0.0.1:0) over an engine double.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startApiServer } from "../api/server.js";
import type { ApiServer } from "../api/server.js";
import type { StreamEvent } from "../api/sse.js";
import { EngineDouble } from "../api/testing/engine-double.js";
import { ManualClock } from "../core/clock.testing.js";
import type { DeploymentSummary } from "../engine/views.js";
import { silentLogger } from "../logging.js";
import { deployCommand } from "./deploy.js";
import { interruptQuestion, parseAnswer } from "./interrupt.js";
import { CLEAR_LINE, formatTicking, LiveDisplay } from "./live.js";
import { noColors } from "./output.js";
import { runCli } from "./program.js";
import { testIo } from "./testing/io.js";
import type { TestIo } from "./testing/io.js";

const T0 = 1_700_000_000_000;

function summary(overrides: Partial<DeploymentSummary> = {}): DeploymentSummary {
  return {
    id: "d-7",
    kind: "deploy",
    version: "v2",
    slot: "green",
    fromSlot: "blue",
    phase: "queued",
    outcome: "running",
    reason: undefined,
    actor: "cli:alice",
    startedAt: new Date(T0).toISOString(),
    finishedAt: undefined,
    durationMs: undefined,
    ...overrides,
  };
}
const phase = (name: string, at: number, extra: { detail?: string; replayed?: boolean } = {}): StreamEvent => ({ type: "phase", deploymentId: "d-7", phase: name, at, ...extra }) as StreamEvent;

describe("the live progress line", () => {
  function terminal(columns = 60) {
    const writes: string[] = [];
    return { writes, stream: { write: (text: string) => writes.push(text), isTTY: true, columns } };
  }

  it("ticks in place, prints results above it, and leaves a plain line with the duration per finished phase", async () => {
    const clock = new ManualClock(T0);
    const { writes, stream } = terminal();
    const live = new LiveDisplay(stream, noColors, clock);
    live.start(summary());
    live.event(phase("queued", T0, { replayed: true }));
    expect(writes).toEqual([`${CLEAR_LINE}Deploying v2 to green, blue is live — deployment d-7\n`, `${CLEAR_LINE}⠋ queued  0s`]);

    await clock.advance(1_000); // ten ticks: the spinner turns and the seconds count
    expect(writes.length).toBe(12);
    expect(writes.at(-1)).toBe(`${CLEAR_LINE}⠋ queued  1s`); // ten frames on: the spinner is round again
    expect(writes.slice(2).every((text) => text.startsWith(CLEAR_LINE) && !text.includes("\n"))).toBe(true);

    writes.length = 0;
    live.event(phase("checking", T0 + 1_200, { detail: "1 check against green" }));
    expect(writes).toEqual([`${CLEAR_LINE}▸ queued  (took 1.2s)\n`, `${CLEAR_LINE}⠋ checking  0s  1 check against green`]);
    expect(live.currentPhase).toBe("checking");

    writes.length = 0;
    live.event({ type: "check", deploymentId: "d-7", result: { name: "health", kind: "http", ok: true, message: "200", replica: 0, attempts: 1, durationMs: 3, at: T0 + 1_300 } });
    expect(writes).toEqual([`${CLEAR_LINE}  ✓ health  replica 0  200\n⠋ checking  0s  1 check against green`]);

    await clock.advance(2_000);
    writes.length = 0;
    const done = summary({ phase: "succeeded", outcome: "succeeded", reason: "traffic on green", finishedAt: new Date(T0 + 3_500).toISOString(), durationMs: 3_500 });
    live.event({ type: "finished", deploymentId: "d-7", outcome: "succeeded", reason: "traffic on green", deployment: done });
    expect(writes).toEqual([`${CLEAR_LINE}▸ checking  1 check against green  (took 2.3s)\n`, `${CLEAR_LINE}✓ succeeded: traffic on green (d-7 after 3.5s; checking took 2.3s)\n`]);
    expect(live.currentPhase).toBeUndefined();

    // Finished: nothing ticks any more.
    writes.length = 0;
    await clock.advance(1_000);
    expect(writes).toEqual([]);
    live.close();
    expect(writes).toEqual([]);
  });

  it("counts a replayed phase from when it began, and never wraps", async () => {
    const clock = new ManualClock(T0 + 75_000);
    const { writes, stream } = terminal(30);
    const live = new LiveDisplay(stream, noColors, clock);
    live.event(phase("monitoring", T0, { replayed: true, detail: "green for 10m, judged every 10s" }));
    expect(writes.at(-1)).toBe(`${CLEAR_LINE}⠋ monitoring  1m15s  green f…`);
    expect([...(writes.at(-1) as string).slice(CLEAR_LINE.length)].length).toBeLessThan(30);
    live.close();
    expect(writes.at(-1)).toBe(`${CLEAR_LINE}▸ monitoring  green for 10m, judged every 10s  (1m15s so far)\n`);
  });

  it("steps aside while a prompt is open, and prints what came meanwhile after", async () => {
    const clock = new ManualClock(T0);
    const { writes, stream } = terminal();
    const live = new LiveDisplay(stream, noColors, clock);
    live.event(phase("deploying", T0));
    writes.length = 0;
    live.hold();
    live.event(phase("checking", T0 + 2_000));
    live.event({ type: "log", deploymentId: "d-7", at: T0 + 2_100, message: "note" });
    await clock.advance(3_000);
    expect(writes).toEqual([CLEAR_LINE]); // only the live line went away; nothing ticked
    live.release();
    expect(writes.slice(1).join("")).toBe(`${CLEAR_LINE}▸ deploying  (took 2.0s)\n${CLEAR_LINE}  · note\n${CLEAR_LINE}⠋ checking  3s`);
    live.close();
  });

  it("formats ticking time in whole seconds", () => {
    expect([0, 999, 1_000, 59_999, 60_000, 65_000, 3_600_000, 3_725_000].map(formatTicking)).toEqual(["0s", "0s", "1s", "59s", "1m00s", "1m05s", "1h00m", "1h02m"]);
  });
});

describe("the Ctrl-C question", () => {
  it("reads a, w, Enter and d, and nothing else", () => {
    expect(["a", "Abort", "w", "", "  ", "watch", "d", "DETACH", "x", "yes"].map(parseAnswer)).toEqual(["abort", "abort", "watch", "watch", "watch", "watch", "detach", "detach", undefined, undefined]);
  });

  it("says what an abort would do to traffic now", () => {
    expect(interruptQuestion(summary(), "checking")).toBe("Abort deployment d-7 (checking; traffic has not moved; an abort leaves it where it is)? [a]bort / [w]atch / [d]etach: ");
    expect(interruptQuestion(summary(), "monitoring")).toContain("(monitoring; an abort flips traffic back to blue)");
  });
});

// ---- commands on a fake terminal ----------------------------------------------------------------

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

/** Starts `flip deploy v2` on a fake terminal; a ManualClock keeps the spinner still unless moved. */
async function deployOnTerminal(): Promise<{ io: TestIo; running: Promise<number> }> {
  const io = testIo({ FLIP_TOKEN: "tok-123" }, { tty: true });
  const running = deployCommand("v2", { server: url() }, io, { reconnectDelayMs: 1, clock: new ManualClock(engine.now) });
  await waitFor(() => engine.listenerCount === 1);
  engine.enterPhase("d-1", "checking", "1 check against green");
  await waitFor(() => io.out().includes("checking"));
  return { io, running };
}

const QUESTION = "Abort deployment d-1 (checking; traffic has not moved; an abort leaves it where it is)? [a]bort / [w]atch / [d]etach: ";
const askedOnce = (io: TestIo) => io.err().split(QUESTION).length === 2;

describe("flip deploy on a terminal", () => {
  it("shows the phase under way in place and a plain line for each finished one", async () => {
    const { io, running } = await deployOnTerminal();
    engine.enterPhase("d-1", "switching", "blue → green");
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(io.stdoutWrites.filter((text) => text.startsWith(`${CLEAR_LINE}⠋ `)).length).toBeGreaterThanOrEqual(3);
    // What stays on screen: each line as it was last drawn.
    const screen = io.out().split("\n").map((line) => line.split(CLEAR_LINE).at(-1));
    expect(screen).toEqual([
      "Deploying v2 to green, blue is live — deployment d-1",
      "▸ queued  (took 1.0s)",
      "▸ checking  1 check against green  (took 1.0s)",
      "▸ switching  blue → green  (took 1.0s)",
      "✓ succeeded: traffic on green (d-1 after 3.0s; switching took 1.0s)",
      "",
    ]);
  });

  it("Ctrl-C, a: aborts, keeps watching, and exits with the outcome", async () => {
    const { io, running } = await deployOnTerminal();
    expect(io.raise("SIGINT")).toBe(true);
    await waitFor(() => askedOnce(io));
    // Output waits while the question is open.
    engine.recordCheck("d-1", { name: "health", kind: "http", ok: false, message: "503", replica: 0, attempts: 1, durationMs: 3 });
    await sleep(30);
    expect(io.out()).not.toContain("✗ health");
    io.type("a\n");
    await waitFor(() => engine.calls.some((call) => call.method === "abort"));
    expect(engine.calls.find((call) => call.method === "abort")?.args).toEqual([{ actor: expect.stringMatching(/^cli:.+@127\.0\.0\.1$/) as unknown }]);
    await waitFor(() => io.out().includes("abort requested for deployment d-1"));
    expect(io.out()).toContain("✗ health");
    engine.finish("d-1", "aborted", "aborted by cli:alice");
    expect(await running).toBe(2);
    expect(io.out()).toContain("✗ aborted: aborted by cli:alice");
  });

  it("Ctrl-C, d: stops watching with 130, leaves the deployment running, and says how to abort", async () => {
    const { io, running } = await deployOnTerminal();
    io.raise("SIGINT");
    await waitFor(() => askedOnce(io));
    io.type("d\n");
    expect(await running).toBe(130);
    expect(io.err()).toContain("stopped watching; deployment d-1 keeps running — `flip abort` stops it\n");
    expect(engine.calls.map((call) => call.method)).not.toContain("abort");
    expect(io.out().endsWith("\n")).toBe(true);
    await waitFor(() => engine.listenerCount === 0);
  });

  it.each([
    ["Enter", "\n"],
    ["w", "w\n"],
    ["an unclear answer, then w", "maybe\nw\n"],
  ])("Ctrl-C, %s: keeps watching", async (_name, typed) => {
    const { io, running } = await deployOnTerminal();
    io.raise("SIGINT");
    await waitFor(() => askedOnce(io));
    io.type(typed);
    await sleep(30);
    if (typed.startsWith("maybe")) expect(io.err()).toContain("Answer a (abort), w (keep watching, also Enter) or d (detach): ");
    engine.finish("d-1", "succeeded", "ok");
    expect(await running).toBe(0);
    expect(engine.calls.map((call) => call.method)).not.toContain("abort");
  });

  it("a second Ctrl-C at the question detaches", async () => {
    const { io, running } = await deployOnTerminal();
    io.raise("SIGINT");
    await waitFor(() => askedOnce(io));
    io.raise("SIGINT");
    expect(await running).toBe(130);
    expect(engine.calls.map((call) => call.method)).not.toContain("abort");
  });

  it("asks again on a later Ctrl-C, and drops the question when the deployment ends first", async () => {
    const { io, running } = await deployOnTerminal();
    io.raise("SIGINT");
    await waitFor(() => askedOnce(io));
    io.type("w\n");
    await sleep(20);
    io.raise("SIGINT");
    await waitFor(() => io.err().split(QUESTION).length === 3);
    engine.finish("d-1", "rolled-back", "errorRate too high");
    expect(await running).toBe(3);
    expect(io.out()).toContain("↺ rolled back: errorRate too high");
  });
});

describe("--json", () => {
  it("prints one JSON object per line: started, each event, then the summary", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    const running = runCli(["deploy", "v2", "--json", "--server", url()], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.enterPhase("d-1", "checking");
    engine.recordCheck("d-1", { name: "health", kind: "http", ok: true, message: "200", replica: 0, attempts: 1, durationMs: 3 });
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    const lines = io.out().trimEnd().split("\n").map((line) => JSON.parse(line) as { type: string; [key: string]: unknown });
    expect(lines.map((line) => line.type)).toEqual(["started", "phase", "phase", "check", "finished", "summary"]);
    expect(lines[0]).toMatchObject({ deployment: { id: "d-1", version: "v2", reason: null } });
    expect(lines[1]).toMatchObject({ phase: "queued", replayed: true });
    expect(lines.at(-1)).toEqual({ type: "summary", exitCode: 0, deployment: expect.objectContaining({ id: "d-1", outcome: "succeeded", reason: "traffic on green" }) as unknown });
    expect(io.err()).toBe("");
  });

  it("works for switch and rollback, with the exit code of the outcome", async () => {
    const switching = testIo({ FLIP_TOKEN: "tok-123" });
    const running = runCli(["switch", "green", "--force", "--json", "--server", url()], switching);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-1", "aborted", "check failed");
    expect(await running).toBe(2);
    expect(JSON.parse(switching.out().trimEnd().split("\n").at(-1) as string)).toMatchObject({ type: "summary", exitCode: 2, deployment: { kind: "switch" } });

    const rolling = testIo({ FLIP_TOKEN: "tok-123" });
    const back = runCli(["rollback", "--json", "--server", url()], rolling);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-2", "succeeded", "ok");
    expect(await back).toBe(0);
    expect(JSON.parse(rolling.out().split("\n")[0] as string)).toMatchObject({ type: "started", deployment: { kind: "rollback" } });
  });

  it("prints the dry-run plan as JSON", async () => {
    const io = testIo({ FLIP_TOKEN: "tok-123" });
    expect(await runCli(["deploy", "v2", "--dry-run", "--json", "--server", url()], io)).toBe(0);
    expect(JSON.parse(io.out())).toEqual({ version: "v2", slot: "green", fromSlot: "blue", steps: [{ phase: "deploying", changes: ["run v2 in green"] }] });
  });
});

describe("flip history colours", () => {
  async function history(env: NodeJS.ProcessEnv): Promise<string> {
    for (const [version, outcome] of [["v1", "succeeded"], ["v2", "aborted"], ["v3", "rolled-back"], ["v4", "failed"]] as const) {
      const { id } = await engine.deploy(version, { actor: "t" });
      engine.finish(id, outcome, "x");
    }
    await engine.deploy("v5", { actor: "t" });
    const io = testIo(env);
    expect(await runCli(["history", "--server", url()], io)).toBe(0);
    return io.out();
  }

  it("colours each outcome by what it means for traffic", async () => {
    const out = await history({ NO_COLOR: "", FORCE_COLOR: "1" });
    expect(out).toContain("\u001b[32msucceeded\u001b[39m");
    expect(out).toContain("\u001b[33maborted\u001b[39m");
    expect(out).toContain("\u001b[35mrolled-back\u001b[39m");
    expect(out).toContain("\u001b[31mfailed\u001b[39m");
    expect(out).toContain("\u001b[36mrunning\u001b[39m");
  });

  it("prints no colour codes with NO_COLOR, even when forced", async () => {
    const out = await history({ NO_COLOR: "1", FORCE_COLOR: "1" });
    expect(out).toContain("rolled-back");
    expect(out).not.toContain("\u001b[");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
