// examples/hello: its flip.yaml is a valid config, and server.js (run as a real process) behaves as
// its README says for a good release and for the versions that misbehave on purpose.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runChecks } from "../src/checks/run-checks.js";
import { configSchema } from "../src/config/schema.js";

const helloDir = resolve(dirname(fileURLToPath(import.meta.url)), "../examples/hello");
const flipYaml = join(helloDir, "flip.yaml");

interface RunningHello {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: () => string;
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function spawnHello(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, ["server.js"], { cwd: helloDir, env: { ...process.env, PORT: "0", ...env } });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** Starts server.js on a free port and waits for its start line, which names the address. */
async function startHello(env: Record<string, string>): Promise<RunningHello> {
  const { child, stdout, stderr } = spawnHello(env);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(stdout());
    if (match) return { child, url: match[1] as string, stdout };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hello did not start: ${stdout()}${stderr()}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

async function get(url: string): Promise<{ status: number; version: unknown; text: string }> {
  const response = await request(url);
  return { status: response.statusCode, version: response.headers["x-flip-version"], text: await response.body.text() };
}

describe("examples/hello/flip.yaml", () => {
  it("is a valid Flip config for the process platform and the built-in router", () => {
    const config = configSchema.parse(parse(readFileSync(flipYaml, "utf8")));
    expect(config.app).toBe("hello");
    expect(config.platform).toMatchObject({ kind: "process", command: "node server.js", env: { APP_VERSION: "{version}", PORT: "{port}" } });
    // cwd is relative to flip.yaml and must land on the folder that holds server.js.
    if (config.platform.kind !== "process") throw new Error("expected the process platform");
    expect(existsSync(join(resolve(helloDir, config.platform.cwd ?? "."), "server.js"))).toBe(true);
    expect(config.router).toMatchObject({ kind: "builtin", listen: "127.0.0.1:8080", preview: "127.0.0.1:8081" });
    expect(config.checks.map((check) => check.name)).toEqual(["health", "version"]);
    expect(config.checks[1]?.http?.expectJson).toEqual({ version: "{version}" });
    expect(config.monitor).toEqual({ duration: 60_000, interval: 5_000, minRequests: 20, rules: ["errorRate < 5%", "p99 < 800ms"] });
    expect(config.control.listen).toBe("127.0.0.1:8787");
    expect(config.state).toBe(".flip/state.db");
  });
});

describe("examples/hello/server.js", () => {
  it("serves a good release: health, status, page, slow requests, the version header everywhere", async () => {
    const hello = await startHello({ APP_VERSION: "v1.2.0", FLIP_SLOT: "blue" });
    expect(hello.stdout()).toMatch(/^hello v1\.2\.0 \(blue\) listening on http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)\n$/);

    const health = await get(`${hello.url}/health`);
    expect(health).toMatchObject({ status: 200, version: "v1.2.0" });
    expect(JSON.parse(health.text)).toEqual({ status: "ok" });

    const status = await get(`${hello.url}/api/status`);
    const body = JSON.parse(status.text) as Record<string, unknown>;
    expect(body).toMatchObject({ app: "hello", version: "v1.2.0", slot: "blue", pid: hello.child.pid });
    expect(typeof body.uptimeMs).toBe("number");

    const page = await get(`${hello.url}/`);
    expect(page).toMatchObject({ status: 200, version: "v1.2.0" });
    expect(page.text).toContain("hello from v1.2.0 (blue)");

    expect(await get(`${hello.url}/nope`)).toMatchObject({ status: 404, version: "v1.2.0" });

    const startedAt = Date.now();
    expect(await get(`${hello.url}/slow?ms=150`)).toMatchObject({ status: 200, version: "v1.2.0" });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
  });

  it("on SIGTERM finishes the request in flight, then exits 0", async () => {
    const hello = await startHello({ APP_VERSION: "v1" });
    const slow = get(`${hello.url}/slow?ms=400`);
    await new Promise((done) => setTimeout(done, 100));
    const exited = once(hello.child, "exit");
    hello.child.kill("SIGTERM");
    expect(await slow).toMatchObject({ status: 200, version: "v1" });
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(hello.stdout()).toContain("hello v1 received SIGTERM: finishing 1 request in flight");
    // And it stopped accepting: nothing listens there any more.
    await expect(get(`${hello.url}/health`)).rejects.toThrow();
  });

  it("an `unhealthy` version answers 503 on /health but otherwise runs", async () => {
    const hello = await startHello({ APP_VERSION: "v2-unhealthy" });
    const health = await get(`${hello.url}/health`);
    expect(health).toMatchObject({ status: 503, version: "v2-unhealthy" });
    expect(JSON.parse(health.text)).toEqual({ status: "unhealthy" });
    expect((await get(`${hello.url}/api/status`)).status).toBe(200);
    expect((await get(`${hello.url}/`)).status).toBe(200);
  });

  it("an `errors` version passes health and status but fails half the app's requests", async () => {
    const hello = await startHello({ APP_VERSION: "v3-errors" });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const health = await get(`${hello.url}/health`);
      const status = await get(`${hello.url}/api/status`);
      expect([health.status, status.status]).toEqual([200, 200]);
      const page = await get(`${hello.url}/`);
      expect(page.version).toBe("v3-errors");
      statuses.push(page.status);
    }
    expect(statuses.filter((s) => s === 500)).toHaveLength(10);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
  });

  it("ERROR_RATE sets the share of failing requests", async () => {
    const hello = await startHello({ APP_VERSION: "v3-errors", ERROR_RATE: "0.25" });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await get(`${hello.url}/`)).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(5);
  });

  it("a `wrong-version` version reports another version in /api/status", async () => {
    const hello = await startHello({ APP_VERSION: "v4-wrong-version" });
    const status = await get(`${hello.url}/api/status`);
    expect(status.version).toBe("v4-wrong-version");
    expect((JSON.parse(status.text) as { version: string }).version).not.toBe("v4-wrong-version");
  });

  it("a `crash` version exits with code 1 at once, saying why", async () => {
    const { child, stderr } = spawnHello({ APP_VERSION: "v5-crash" });
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(1);
    expect(stderr()).toContain("crashes at startup");
  });

  it("a `slow-start` version listens only after its start delay", async () => {
    const startedAt = Date.now();
    const hello = await startHello({ APP_VERSION: "v6-slow-start", START_DELAY_MS: "300" });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(hello.stdout()).toContain("after a 300ms slow start");
  });
});

describe("the example's checks against the example app", () => {
  const checks = configSchema.parse(parse(readFileSync(flipYaml, "utf8"))).checks;

  async function checkVersion(version: string): Promise<Record<string, boolean>> {
    const hello = await startHello({ APP_VERSION: version, FLIP_SLOT: "green" });
    const { port, hostname } = new URL(hello.url);
    const endpoint = { slot: "green" as const, replica: 0, host: hostname, port: Number(port), url: hello.url };
    const outcome = await runChecks(checks, { slot: "green", version, url: hello.url, endpoints: [endpoint] }, { signal: new AbortController().signal });
    return Object.fromEntries(outcome.results.map((result) => [result.name, result.ok]));
  }

  it("pass a good release, refuse `unhealthy` on health and `wrong-version` on version", async () => {
    expect(await checkVersion("v1")).toEqual({ health: true, version: true });
    expect(await checkVersion("v2-unhealthy")).toEqual({ health: false, version: true });
    expect(await checkVersion("v4-wrong-version")).toEqual({ health: true, version: false });
    expect(await checkVersion("v3-errors")).toEqual({ health: true, version: true });
  });
});
