// The command platform running real shell scripts: templating and env, output streamed line by line,
// failures with the output's tail, timeouts that kill the whole process group, readiness by command
// or by HTTP against a real node:http server, and state that a new instance finds again.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { FlipError, PlatformError, TimeoutError, UnsupportedError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { parseConfigText } from "../../config/load.js";
import { silentLogger } from "../../logging.js";
import type { PlatformEvent } from "../platform.js";
import { isProcessAlive } from "../process/process-group.js";
import { CommandPlatform } from "./command-platform.js";
import { commandPlatformSchema } from "./config.js";

let dir: string;
let state: MemoryDriverState;
let events: PlatformEvent[];
const cleanups: (() => Promise<void> | void)[] = [];
const neverAborted = new AbortController().signal;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flip-command-"));
  state = new MemoryDriverState();
  events = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return `./${name}`;
}

function platform(config: Record<string, unknown>): CommandPlatform {
  const parsed = commandPlatformSchema.parse({ kind: "command", endpoint: "http://app-{slot}.internal:8080", ...config });
  const created = new CommandPlatform(parsed, { app: "shop", configDir: dir, logDir: join(dir, "logs"), logger: silentLogger, clock: systemClock, state, onEvent: (event) => events.push(event) });
  cleanups.push(() => created.close());
  return created;
}

function logLines(): string[] {
  return events.flatMap((event) => (event.type === "log" ? [event.message] : []));
}

async function rejection(promise: Promise<unknown>): Promise<FlipError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof FlipError)) throw new Error(`expected a FlipError, got ${String(error)}`);
  return error;
}

async function httpServer(): Promise<string> {
  const server = createServer((_request, response) => response.writeHead(503).end("starting"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("deploy", () => {
  it("runs the script with the slot and version, its env, and streams its output line by line", async () => {
    const deploy = script("deploy.sh", 'echo "deploying $1 $2"\necho "env $FLIP_SLOT $FLIP_VERSION $FLIP_APP $FLIP_URL $REGION" >&2\necho "previous [$3]"');
    const commands = platform({ deploy: `${deploy} {slot} {version} {previousVersion}`, env: { REGION: "eu-{slot}" } });
    await commands.deploy("green", "v2", neverAborted);

    expect(logLines()).toEqual([
      "deploy green: $ ./deploy.sh green v2 ''",
      "deploy green | deploying green v2",
      "deploy green | env green v2 shop http://app-green.internal:8080 eu-green",
      "deploy green | previous []",
    ]);
    expect(events.every((event) => event.type === "log" && event.slot === "green")).toBe(true);
    expect(await commands.describe("green")).toEqual({ version: "v2", replicas: 1, runningReplicas: 1 });
    expect(await commands.endpoints("green")).toEqual([{ slot: "green", replica: 0, host: "app-green.internal", port: 8080, url: "http://app-green.internal:8080" }]);
    expect(await commands.endpoints("blue")).toEqual([]);
  });

  it("fails with the exit code and the last lines of output when the script exits non-zero", async () => {
    const deploy = script("deploy.sh", 'for i in $(seq 1 30); do echo "step $i"; done\necho "image registry/shop:$2 not found" >&2\nexit 3');
    const commands = platform({ deploy: `${deploy} {slot} {version}` });
    const error = await rejection(commands.deploy("blue", "v9", neverAborted));

    expect(error).toBeInstanceOf(PlatformError);
    expect(error.message).toMatch(/^The deploy command for blue \(v9\) exited with code 3; its last lines:/);
    expect(error.message).toContain("  image registry/shop:v9 not found");
    expect(error.message).toContain("  step 30");
    expect(error.message).not.toContain("step 20\n"); // only the tail
    expect(error.hint).toMatch(/by hand/);
    expect(await commands.endpoints("blue")).toEqual([]);
    expect(await commands.describe("blue")).toMatchObject({ version: "v9", replicas: 0 });
  });

  it("names a missing program", async () => {
    const error = await rejection(platform({ deploy: "./no-such-deploy.sh {slot}" }).deploy("blue", "v1", neverAborted));
    expect(error.message).toMatch(/exited with code 127/);
    expect(error.hint).toMatch(/could not find the program in `platform.deploy`/);
  });

  it("kills a hanging deploy with its whole process group at its timeout", async () => {
    const deploy = script("deploy.sh", `sleep 30 &\necho $! > ${dir}/child.pid\necho started\nwait`);
    const commands = platform({ deploy: `${deploy} {slot} {version}`, timeouts: { deploy: "300ms" }, killGrace: "2s" });
    const started = Date.now();
    const error = await rejection(commands.deploy("blue", "v1", neverAborted));

    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/did not finish within 300ms and was stopped \(SIGTERM, then SIGKILL to its process group\); its last lines:\n {2}started/);
    expect(error.hint).toMatch(/platform\.timeouts\.deploy/);
    expect(Date.now() - started).toBeLessThan(2_000); // SIGTERM was enough: no wait for the grace
    expect(isProcessAlive(Number(readFileSync(join(dir, "child.pid"), "utf8")))).toBe(false);
  });

  it("SIGKILLs a deploy that ignores SIGTERM once the grace is over", async () => {
    const deploy = script("deploy.sh", `trap '' TERM\necho $$ > ${dir}/shell.pid\nwhile true; do sleep 0.05; done`);
    // `exec`: the script is the group's only shell, so nothing but the grace can end it.
    const commands = platform({ deploy: `exec ${deploy}`, timeouts: { deploy: "200ms" }, killGrace: "400ms" });
    const started = Date.now();
    const error = await rejection(commands.deploy("blue", "v1", neverAborted));

    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(isProcessAlive(Number(readFileSync(join(dir, "shell.pid"), "utf8")))).toBe(false);
  });

  it("stops the script when the deployment is aborted", async () => {
    const deploy = script("deploy.sh", `echo $$ > ${dir}/shell.pid\nsleep 30`);
    const commands = platform({ deploy });
    const abort = new AbortController();
    const deploying = rejection(commands.deploy("blue", "v1", abort.signal));
    const pidFile = join(dir, "shell.pid");
    // The redirect creates the file before echo fills it: wait for the whole line.
    for (let i = 0; i < 200 && !(existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n")); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(isProcessAlive(pid)).toBe(true);
    abort.abort(new Error("aborted by test"));
    const error = await deploying;
    expect(error.message).toMatch(/was cancelled/);
    expect(isProcessAlive(pid)).toBe(false);
  });

  it("quotes template values for the shell: a version is any string", async () => {
    const deploy = script("deploy.sh", 'echo "got [$2]"');
    const commands = platform({ deploy: `${deploy} {slot} {version}` });
    await commands.deploy("blue", "v1; touch pwned", neverAborted);
    expect(logLines()).toContain("deploy blue | got [v1; touch pwned]");
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });
});

describe("state", () => {
  it("survives a new platform instance: version, endpoints and the previous version", async () => {
    const deploy = script("deploy.sh", 'echo "from [$3] to [$2]"');
    const config = { deploy: `${deploy} {slot} {version} {previousVersion}`, endpoint: undefined, urls: { blue: "http://10.0.0.1:80", green: "http://10.0.0.2:80" } };
    await platform(config).deploy("blue", "v1", neverAborted);

    const restarted = platform(config);
    expect(await restarted.describe("blue")).toEqual({ version: "v1", replicas: 1, runningReplicas: 1 });
    expect((await restarted.endpoints("blue")).map((endpoint) => endpoint.url)).toEqual(["http://10.0.0.1"]);
    await restarted.deploy("blue", "v2", neverAborted);
    expect(logLines()).toContain("deploy blue | from [v1] to [v2]");
  });

  it("marks a deploy interrupted by a restart as failed on recover", async () => {
    state.set("slot:green", { version: "v3", status: "deploying" });
    const restarted = platform({ deploy: "true" });
    await restarted.recover();
    expect(state.get("slot:green")).toEqual({ version: "v3", status: "failed" });
    expect(await restarted.endpoints("green")).toEqual([]);
    expect(logLines()).toEqual(["the deploy of v3 to green was interrupted by a restart of flip serve; green is marked failed"]);
  });
});

describe("waitReady", () => {
  it("runs the ready command again until it exits 0", async () => {
    const ready = script("ready.sh", `n=$(cat ${dir}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/count\necho "try $n"\n[ "$n" -ge 3 ]`);
    const commands = platform({ deploy: "true", ready: `${ready} {slot}`, readyInterval: "20ms" });
    await commands.deploy("blue", "v1", neverAborted);
    await commands.waitReady("blue", 5_000, neverAborted);
    expect(readFileSync(join(dir, "count"), "utf8").trim()).toBe("3");
    expect(logLines()).toContain("ready blue | try 3");
  });

  it("times out with the last run's output when the slot never gets ready", async () => {
    const commands = platform({ deploy: "true", ready: "echo 'pods 1/3 ready'; exit 1", readyInterval: "50ms" });
    await commands.deploy("green", "v4", neverAborted);
    const error = await rejection(commands.waitReady("green", 300, neverAborted));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/^green \(v4\) was not ready after 300ms: the last run of the ready command exited with code 1; its last lines:\n {2}pods 1\/3 ready$/);
  });

  it("without a ready command, waits until the slot's URL answers HTTP (any status)", async () => {
    const url = await httpServer();
    const commands = platform({ deploy: "true", endpoint: undefined, urls: { blue: url, green: "http://127.0.0.1:9" }, readyInterval: "20ms" });
    await commands.deploy("blue", "v1", neverAborted);
    await commands.waitReady("blue", 2_000, neverAborted); // answers 503: it is up, the checks judge it

    await commands.deploy("green", "v1", neverAborted);
    const error = await rejection(commands.waitReady("green", 200, neverAborted));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/did not answer GET http:\/\/127\.0\.0\.1:9 within 200ms: connection refused/);
  });

  it("refuses a slot whose deploy failed", async () => {
    const commands = platform({ deploy: "exit 1" });
    await rejection(commands.deploy("blue", "v1", neverAborted));
    expect((await rejection(commands.waitReady("blue", 1_000, neverAborted))).message).toMatch(/Nothing is deployed in blue \(v1 is failed\)/);
  });
});

describe("scale and stop", () => {
  it("scale runs its command with {replicas}; without one it is unsupported", async () => {
    const commands = platform({ deploy: "true", scale: "echo scaling {slot} to {replicas} $FLIP_REPLICAS" });
    await commands.deploy("blue", "v1", neverAborted);
    await commands.scale("blue", 3);
    expect(logLines()).toContain("scale blue | scaling blue to 3 3");
    expect(await commands.describe("blue")).toEqual({ version: "v1", replicas: 3, runningReplicas: 3 });

    const unscalable = platform({ deploy: "true" });
    expect(await rejection(unscalable.scale("blue", 1))).toBeInstanceOf(UnsupportedError);
  });

  it("stop runs its command and empties the slot; without one it leaves the slot running", async () => {
    const commands = platform({ deploy: "true", stop: "echo stopping {slot} {version}" });
    await commands.deploy("green", "v2", neverAborted);
    await commands.stop("green");
    expect(logLines()).toContain("stop green | stopping green v2");
    expect(await commands.endpoints("green")).toEqual([]);
    expect(await commands.describe("green")).toMatchObject({ version: "v2", replicas: 0 });

    const unstoppable = platform({ deploy: "true" });
    await unstoppable.deploy("blue", "v1", neverAborted);
    events = [];
    await unstoppable.stop("blue");
    expect(logLines()).toEqual(["no stop command configured; leaving blue running"]);
    expect(await unstoppable.endpoints("blue")).toHaveLength(1);
  });

  it("planDeploy shows the exact commands and runs none", async () => {
    const commands = platform({ deploy: "./deploy.sh {slot} {version}", ready: "./ready.sh {slot}" });
    expect(await commands.planDeploy("green", "v2")).toEqual([
      `run \`./deploy.sh green v2\` in ${dir} (deploy timeout 10m)`,
      `run \`./ready.sh green\` in ${dir} (ready timeout 5m), again every 2.0s until it exits 0`,
    ]);
    expect(events).toEqual([]);
  });
});

describe("config", () => {
  const load = (platformYaml: string) => () => parseConfigText(`app: shop\nplatform: ${platformYaml}\n`, "/srv/shop/flip.yaml", { env: {} });

  it("needs exactly one of endpoint and urls, one URL per slot, and no path", () => {
    expect(load('{ kind: command, deploy: "./deploy.sh" }')).toThrow(/needs exactly one of `endpoint/);
    expect(load('{ kind: command, deploy: "./d.sh", endpoint: "http://a-{slot}", urls: { blue: "http://a", green: "http://b" } }')).toThrow(/platform\.urls: needs exactly one/);
    expect(load('{ kind: command, deploy: "./d.sh", endpoint: "http://lb.internal" }')).toThrow(/blue and green would both be http:\/\/lb\.internal/);
    expect(load('{ kind: command, deploy: "./d.sh", endpoint: "http://app-{slot}/api" }')).toThrow(/has a path/);
    const config = load('{ kind: command, deploy: "./d.sh {slot} {version}", endpoint: "https://app-{slot}.example.com", timeouts: { deploy: 20m } }')();
    expect(config.platform).toMatchObject({ kind: "command", timeouts: { deploy: 1_200_000, ready: 300_000, scale: 300_000, stop: 300_000 }, readyInterval: 2_000, killGrace: 10_000 });
  });
});
