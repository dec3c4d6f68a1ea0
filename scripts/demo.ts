// `npm run demo`: a real blue-green run on the embedded defaults. Starts `flip serve` on the
// example app (examples/hello), sends steady traffic through Flip's proxy, and drives the real CLI:
// deploy v1, deploy v2 (no request may fail across the switch), an instant rollback, a release that
// fails its smoke tests (aborted, traffic untouched) and one that errors after the switch (rolled back
// automatically). Prints a summary and exits 0 only when every outcome matched.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { stripVTControlCharacters } from "node:util";
import { Agent, request } from "undici";
import { pickFreePort } from "../src/platforms/process/ports.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const cli = join(repo, "dist/src/cli/main.js");
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (text: string) => paint(1, text);
const dim = (text: string) => paint(2, text);

interface Step {
  title: string;
  args: string[];
  expectExit: number;
  expectLive: string;
  /** May requests fail while this step runs? Only the broken release's own answers may. */
  failuresAllowed: boolean;
}

const steps: Step[] = [
  { title: "deploy v1 (first release)", args: ["deploy", "v1"], expectExit: 0, expectLive: "v1", failuresAllowed: false },
  { title: "deploy v2 under load", args: ["deploy", "v2"], expectExit: 0, expectLive: "v2", failuresAllowed: false },
  { title: "instant rollback", args: ["rollback"], expectExit: 0, expectLive: "v1", failuresAllowed: false },
  { title: "deploy v3-unhealthy (fails smoke tests)", args: ["deploy", "v3-unhealthy"], expectExit: 2, expectLive: "v1", failuresAllowed: false },
  { title: "deploy v4-errors (breaks after the switch)", args: ["deploy", "v4-errors"], expectExit: 3, expectLive: "v1", failuresAllowed: true },
];

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), "flip-demo-"));
  const [proxyPort, previewPort, controlPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const config = join(work, "flip.yaml");
  writeFileSync(
    config,
    `# written by npm run demo
app: hello
platform:
  kind: process
  command: "node server.js"
  cwd: ${JSON.stringify(join(repo, "examples/hello"))}
  replicas: 2
  env: { APP_VERSION: "{version}", PORT: "{port}", ERROR_RATE: "0.5" }
router: { kind: builtin, listen: "127.0.0.1:${proxyPort}", preview: "127.0.0.1:${previewPort}", drainTimeout: 5s }
checks:
  - { name: health,  http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
monitor: { duration: 6s, interval: 1s, minRequests: 10, rules: ["errorRate < 5%", "p99 < 800ms"] }
control: { listen: "127.0.0.1:${controlPort}" }
`,
  );
  console.log(bold("Flip demo") + dim(`  (work folder ${work})`));
  console.log(`proxy http://127.0.0.1:${proxyPort}  preview http://127.0.0.1:${previewPort}  control http://127.0.0.1:${controlPort}\n`);

  const serveLog = join(work, "serve.log");
  const serve = spawn(process.execPath, [cli, "serve", "-c", config], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FLIP_LOG_LEVEL: "info" } });
  const logStream = createWriteStream(serveLog);
  serve.stdout.pipe(logStream);
  serve.stderr.pipe(logStream);
  const load = new LoadGenerator(`http://127.0.0.1:${proxyPort}/`);
  const results: { step: Step; exit: number; live: string | undefined; failed: number; served: Record<string, number>; ok: boolean }[] = [];
  try {
    await waitForServer(`http://127.0.0.1:${controlPort}/healthz`, serve);
    for (const [index, step] of steps.entries()) {
      if (index === 1) load.start(); // steady traffic from the moment something is live
      console.log(bold(`\n▶ flip ${step.args.join(" ")}`) + dim(`  — ${step.title}`));
      const before = load.mark();
      const exit = await runCli([...step.args, "-c", config]);
      await sleep(300);
      const live = await liveVersion(`http://127.0.0.1:${proxyPort}/api/status`);
      const during = load.since(before);
      const ok = exit === step.expectExit && live === step.expectLive && (step.failuresAllowed || during.failed === 0);
      results.push({ step, exit, live, failed: during.failed, served: during.served, ok });
    }
  } finally {
    await load.stop();
    serve.kill("SIGTERM");
    await new Promise((done) => serve.once("exit", done));
  }

  console.log(bold("\nSummary"));
  const rows = results.map((r) => [
    r.ok ? paint(32, "✓") : paint(31, "✗"),
    `flip ${r.step.args.join(" ")}`,
    `exit ${r.exit} (want ${r.step.expectExit})`,
    `live ${r.live ?? "-"} (want ${r.step.expectLive})`,
    `${r.failed} failed requests${r.step.failuresAllowed ? " (the broken release's own answers, until rolled back)" : ""}`,
    Object.entries(r.served)
      .map(([version, count]) => `${version}:${count}`)
      .join(" "),
  ]);
  printTable(rows);
  const total = load.total();
  console.log(`\n${total.requests} requests through the proxy, ${total.failed} failed in all.`);
  const allOk = results.length === steps.length && results.every((r) => r.ok);
  console.log(allOk ? paint(32, bold("Every outcome matched.")) : paint(31, bold(`Some outcomes did not match; see ${serveLog}.`)));
  if (allOk) rmSync(work, { recursive: true, force: true });
  return allOk ? 0 : 1;
}

function runCli(args: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const indent = (chunk: Buffer) => chunk.toString().replace(/^(?=.)/gm, "  ");
    child.stdout.on("data", (chunk: Buffer) => process.stdout.write(indent(chunk)));
    child.stderr.on("data", (chunk: Buffer) => process.stdout.write(indent(chunk)));
    child.on("exit", (code) => done(code ?? 1));
  });
}

async function liveVersion(url: string): Promise<string | undefined> {
  try {
    const response = await request(url);
    const body = (await response.body.json()) as { version?: string };
    return body.version;
  } catch {
    return undefined;
  }
}

async function waitForServer(url: string, serve: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (serve.exitCode !== null) throw new Error(`flip serve exited with code ${serve.exitCode}`);
    try {
      const response = await request(url);
      await response.body.dump();
      if (response.statusCode === 200) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error("flip serve did not start within 20 s");
}


function printTable(rows: string[][]): void {
  const visible = (text: string) => stripVTControlCharacters(text).length;
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => visible(row[column] ?? "")))) ?? [];
  for (const row of rows) console.log("  " + row.map((cell, i) => cell + " ".repeat((widths[i] ?? 0) - visible(cell))).join("  "));
}

/** Steady traffic on loopback: a few concurrent loops, bounded by stop(). */
class LoadGenerator {
  private running = false;
  private loops: Promise<void>[] = [];
  private log: { ok: boolean; version: string }[] = [];
  private readonly agent = new Agent({ connections: 8 });

  constructor(private readonly url: string) {}

  start(concurrency = 4): void {
    this.running = true;
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const response = await request(this.url, { dispatcher: this.agent, headersTimeout: 5000, bodyTimeout: 5000 });
        await response.body.dump();
        const version = String(response.headers["x-flip-version"] ?? "none");
        this.log.push({ ok: response.statusCode < 500, version });
      } catch {
        this.log.push({ ok: false, version: "socket-error" });
      }
      await sleep(20);
    }
  }

  mark(): number {
    return this.log.length;
  }

  since(mark: number): { failed: number; served: Record<string, number> } {
    const slice = this.log.slice(mark);
    const served: Record<string, number> = {};
    for (const entry of slice) served[entry.version] = (served[entry.version] ?? 0) + 1;
    return { failed: slice.filter((e) => !e.ok).length, served };
  }

  total(): { requests: number; failed: number } {
    return { requests: this.log.length, failed: this.log.filter((e) => !e.ok).length };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.agent.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
