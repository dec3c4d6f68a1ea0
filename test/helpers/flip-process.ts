// Cross-process test helpers: write a flip.yaml for the example app, run the real built CLI
// (dist/src/cli/main.js) and a real `flip serve`, and clean up every process even when a test fails.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { pickFreePort } from "../../src/platforms/process/ports.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const cliPath = join(repoRoot, "dist/src/cli/main.js");
export const helloDir = join(repoRoot, "examples/hello");


export interface Workspace {
  dir: string;
  config: string;
  proxy: string;
  preview: string;
  control: string;
  cleanup(): void;
}

export interface WorkspaceOptions {
  monitor?: string;
  checks?: string;
  replicas?: number;
  extra?: string;
}

/** A temp folder with a flip.yaml for examples/hello on free loopback ports. */
export async function makeWorkspace(options: WorkspaceOptions = {}): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), "flip-e2e-"));
  const [proxyPort, previewPort, controlPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const config = join(dir, "flip.yaml");
  const checks =
    options.checks ??
    `checks:
  - { name: health,  http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }`;
  writeFileSync(
    config,
    `app: hello
platform:
  kind: process
  command: "node server.js --workspace ${dir}"
  cwd: ${JSON.stringify(helloDir)}
  replicas: ${options.replicas ?? 1}
  stopGrace: 3s
  env: { APP_VERSION: "{version}", PORT: "{port}", ERROR_RATE: "0.5" }
router: { kind: builtin, listen: "127.0.0.1:${proxyPort}", preview: "127.0.0.1:${previewPort}", drainTimeout: 2s }
${checks}
monitor: ${options.monitor ?? '{ duration: 2s, interval: 400ms, minRequests: 5, rules: ["errorRate < 5%"] }'}
control: { listen: "127.0.0.1:${controlPort}" }
readyTimeout: 15s
${options.extra ?? ""}
`,
  );
  return {
    dir,
    config,
    proxy: `http://127.0.0.1:${proxyPort}`,
    preview: `http://127.0.0.1:${previewPort}`,
    control: `http://127.0.0.1:${controlPort}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, NO_COLOR: "1", ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`flip ${args.join(" ")} did not finish in time\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code: code ?? 1, stdout, stderr });
    });
  });
}

export class ServeProcess {
  readonly child: ChildProcess;
  output = "";

  constructor(config: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [cliPath, "serve", "-c", config], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Resolves once the control API answers; rejects if the process exits first. */
  async ready(control: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`flip serve exited with code ${this.child.exitCode}:\n${this.output}`);
      try {
        const response = await request(`${control}/healthz`);
        await response.body.dump();
        if (response.statusCode === 200) return;
      } catch {
        // not yet
      }
      await sleep(50);
    }
    throw new Error(`flip serve did not answer within ${timeoutMs} ms:\n${this.output}`);
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((done) => this.child.once("exit", (code) => done(code)));
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited();
  }
}

/** GET through the proxy; returns status and the version header of the app that answered. */
export async function hit(url: string): Promise<{ status: number; version: string | undefined }> {
  const response = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  await response.body.dump();
  const version = response.headers["x-flip-version"];
  return { status: response.statusCode, version: typeof version === "string" ? version : undefined };
}

/** Steady traffic until stop(); counts failures (5xx and socket errors) and who answered. */
export class Traffic {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  readonly statuses: number[] = [];
  readonly versions: Record<string, number> = {};
  socketErrors = 0;

  constructor(url: string, concurrency = 3) {
    for (let i = 0; i < concurrency; i++) {
      this.loops.push(
        (async () => {
          while (this.running) {
            try {
              const result = await hit(url);
              this.statuses.push(result.status);
              const version = result.version ?? "none";
              this.versions[version] = (this.versions[version] ?? 0) + 1;
            } catch {
              this.socketErrors += 1;
            }
            await sleep(10);
          }
        })(),
      );
    }
  }

  get failures(): number {
    return this.statuses.filter((status) => status >= 500).length + this.socketErrors;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** PIDs of processes whose command line mentions `needle` (used to prove no orphans are left). */
export async function pidsMatching(needle: string): Promise<number[]> {
  const { execFile } = await import("node:child_process");
  return new Promise((done) => {
    execFile("ps", ["-eo", "pid=,args="], (error, stdout) => {
      if (error) return done([]);
      done(
        stdout
          .split("\n")
          .filter((line) => line.includes(needle) && !line.includes("ps -eo"))
          .map((line) => Number(line.trim().split(/\s+/)[0])),
      );
    });
  });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
