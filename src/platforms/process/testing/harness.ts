// Test support for the process platform: a temporary config folder with a tiny HTTP app, platforms
// built from the real config schema, a record of their events, and a cleanup that stops every
// process a test started — through the platform, then by pid as a safety net.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleepReal } from "node:timers/promises";
import type { Clock } from "../../../core/clock.js";
import { systemClock } from "../../../core/clock.js";
import { MemoryDriverState } from "../../../core/state.js";
import { silentLogger } from "../../../logging.js";
import type { PlatformEvent } from "../../platform.js";
import { processPlatformSchema } from "../config.js";
import type { z } from "zod";
import { ProcessPlatform } from "../process-platform.js";

/**
 * Listens on $PORT; GET /health answers {version, pid}. Writes "listening" to stdout once it does.
 * IGNORE_TERM=1 makes it shrug off SIGTERM (for the SIGKILL-after-grace test).
 */
const APP_SOURCE = `
const http = require("node:http");
const version = process.env.FLIP_VERSION;
if (process.env.IGNORE_TERM === "1") process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ version, pid: process.pid, replica: process.env.FLIP_REPLICA }));
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening on " + process.env.PORT + " as " + version));
`;

export type ConfigInput = Omit<z.input<typeof processPlatformSchema>, "kind">;

export class Harness {
  readonly dir: string;
  readonly logDir: string;
  readonly state = new MemoryDriverState();
  readonly events: PlatformEvent[] = [];
  /** Extra pids a test started or learned of (grandchildren, foreign processes): killed at cleanup. */
  readonly extraPids = new Set<number>();
  private readonly platforms: ProcessPlatform[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.logDir = path.join(dir, ".flip", "logs");
  }

  static async create(): Promise<Harness> {
    const dir = await mkdtemp(path.join(tmpdir(), "flip-process-"));
    await writeFile(path.join(dir, "app.cjs"), APP_SOURCE);
    return new Harness(dir);
  }

  platform(config: ConfigInput, options: { clock?: Clock; readinessPath?: string } = {}): ProcessPlatform {
    const parsed = processPlatformSchema.parse({ kind: "process", ...config });
    const platform = new ProcessPlatform(
      parsed,
      {
        app: "test",
        configDir: this.dir,
        logDir: this.logDir,
        logger: silentLogger,
        clock: options.clock ?? systemClock,
        state: this.state,
        onEvent: (event) => this.events.push(event),
      },
      { readinessPath: options.readinessPath },
    );
    this.platforms.push(platform);
    return platform;
  }

  /** Resolves with the first event at or after `fromIndex` that matches; fails after `timeoutMs`. */
  async waitForEvent(predicate: (event: PlatformEvent) => boolean, fromIndex = 0, timeoutMs = 5_000): Promise<PlatformEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(fromIndex).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs}ms; saw ${JSON.stringify(this.events.slice(fromIndex))}`);
      await sleepReal(10);
    }
  }

  readPidFile(name: string): number {
    const pid = Number(readFileSync(path.join(this.dir, name), "utf8").trim());
    this.extraPids.add(pid);
    return pid;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.platforms.map((platform) => platform.close({ stopReplicas: true })));
    const pids = new Set(this.extraPids);
    for (const event of this.events) if ("pid" in event && event.pid !== undefined) pids.add(event.pid);
    for (const pid of pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** GET url, parsed as JSON; throws on a network error or a non-2xx answer. */
export async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Polls `check` (real time: it waits on real processes) until it returns true. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleepReal(20);
  }
}

export const APP_COMMAND = "exec node app.cjs";
export const APP_ENV = { PORT: "{port}" };
