// An engine on in-memory drivers (testing/fakes.ts), a real SQLite store in a temp folder and a
// ManualClock, for tests of the flow's decisions: approval, windows, the rate gate, retirement.
// Checks are real command checks (a shell that exits 0), so each run of them is recorded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ManualClock } from "../../core/clock.testing.js";
import type { FlipConfig } from "../../config/schema.js";
import { parseConfigText } from "../../config/load.js";
import { silentLogger } from "../../logging.js";
import type { DeploymentRecord } from "../../store/records.js";
import { Store } from "../../store/store.js";
import { Engine } from "../engine.js";
import type { FlowEvent } from "../views.js";
import { FakeMetrics, FakePlatform, FakeRouter } from "./fakes.js";

export interface FakeHarness {
  engine: Engine;
  store: Store;
  platform: FakePlatform;
  router: FakeRouter;
  metrics: FakeMetrics;
  clock: ManualClock;
  config: FlipConfig;
  dir: string;
  /** Every event the engine emitted, in order. */
  events: FlowEvent[];
  /** Waits (real time) until the running deployment is in `phase`. */
  reach(phase: string): Promise<DeploymentRecord>;
  /** Runs the deployment to its end, jumping the clock to each next wake-up. */
  finish(id: string): Promise<DeploymentRecord>;
  /** Waits (real time) until `predicate` holds. */
  until(predicate: () => boolean, what: string): Promise<void>;
  /** A new engine over the same store and drivers, as after a restart of flip serve. */
  restart(): Promise<Engine>;
  close(): Promise<void>;
}

export const BASE_CONFIG = `app: shop
platform: { kind: static, slots: { blue: { url: "http://127.0.0.1:41000" }, green: { url: "http://127.0.0.1:42000" } } }
router: { kind: builtin, listen: "127.0.0.1:0" }
checks:
  - { name: smoke, command: "exit 0" }
__MONITOR__
`;
const QUIET_MONITOR = 'monitor: { duration: 2s, interval: 1s, minRequests: 1000000, rules: ["errorRate < 5%"] }';

export interface FakeHarnessOptions {
  /** Where the ManualClock starts (default Wednesday 2026-01-14 12:00 UTC). */
  start?: number;
  replicas?: number;
  /** The `monitor:` line; by default windows are never judged (minRequests is out of reach). */
  monitor?: string;
}

/** `extra` is appended to BASE_CONFIG (top-level keys). */
export async function fakeHarness(extra = "", options: FakeHarnessOptions = {}): Promise<FakeHarness> {
  const dir = mkdtempSync(join(tmpdir(), "flip-engine-fake-"));
  const config = parseConfigText(BASE_CONFIG.replace("__MONITOR__", options.monitor ?? QUIET_MONITOR) + extra, join(dir, "flip.yaml"));
  const clock = new ManualClock(options.start ?? Date.UTC(2026, 0, 14, 12));
  const store = Store.open(config.statePath, { clock });
  const platform = new FakePlatform(options.replicas ?? 2);
  const router = new FakeRouter();
  const metrics = new FakeMetrics(clock);
  const events: FlowEvent[] = [];
  const make = async () => {
    const made = new Engine({ config, store, platform, router, metrics, clock, logger: silentLogger });
    made.subscribeAll((event) => events.push(event));
    await made.start();
    return made;
  };
  let engine = await make();

  const until = async (predicate: () => boolean, what: string) => {
    for (let i = 0; i < 1000; i++) {
      if (predicate()) return;
      await sleep(5);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  return {
    get engine() {
      return engine;
    },
    store,
    platform,
    router,
    metrics,
    clock,
    config,
    dir,
    events,
    until,
    async reach(phase) {
      await until(() => store.runningDeployment()?.phase === phase, `phase ${phase} (now ${store.runningDeployment()?.phase ?? "nothing running"})`);
      // Let the step that entered the phase reach its wait.
      await sleep(20);
      return store.runningDeployment() as DeploymentRecord;
    },
    async finish(id) {
      for (let i = 0; i < 5000; i++) {
        const record = store.deployment(id);
        if (!record) throw new Error(`no deployment ${id}`);
        if (record.outcome !== "running") return record;
        const wake = clock.nextWakeAt;
        if (wake !== undefined) await clock.advance(Math.max(0, wake - clock.now()));
        else await sleep(5);
      }
      throw new Error(`deployment ${id} did not finish; phase ${store.deployment(id)?.phase}`);
    },
    async restart() {
      await engine.stop();
      engine = await make();
      return engine;
    },
    async close() {
      await engine.stop();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  } as FakeHarness;
}
