// An Engine wired the way the controller wires it (platform and router from the registries, the
// metrics source they imply, a store in the config's folder). By default the engine runs on a
// ManualClock, so a monitor window ends only when the test says, while the drivers keep real time;
// finish() sends real traffic at each window and ends it, until the deployment is over. A test may
// bring its own clock (an InstantClock for engine and drivers alike), platform, or no metrics.
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { systemClock, type Clock } from "../../src/core/clock.js";
import { ManualClock } from "../../src/core/clock.testing.js";
import type { FlipConfig } from "../../src/config/schema.js";
import { Engine } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/logging.js";
import { createMetricsSource } from "../../src/metrics/registry.js";
import type { MetricsSource } from "../../src/metrics/source.js";
import { createPlatform } from "../../src/platforms/registry.js";
import type { Platform } from "../../src/platforms/platform.js";
import { createRouter } from "../../src/routers/registry.js";
import type { Router } from "../../src/routers/router.js";
import type { DeploymentRecord } from "../../src/store/records.js";
import { Store } from "../../src/store/store.js";

export interface EngineHarness {
  engine: Engine;
  store: Store;
  platform: Platform;
  router: Router;
  clock: Clock;
  /** With the default ManualClock: waits for the deployment to end, sending `requestsPerWindow` GETs to `trafficUrl` before ending each monitor window. */
  finish(id: string, trafficUrl: string, requestsPerWindow?: number): Promise<DeploymentRecord>;
  /** Stops the engine, the router and the platform (and its replicas), and closes the store. */
  close(): Promise<void>;
}

export interface EngineHarnessOptions {
  /** The engine's clock; default a ManualClock at the current time. */
  clock?: Clock;
  /** The drivers' clock; default real time. */
  driverClock?: Clock;
  /** Default: the registry's platform for the config. */
  platform?: Platform;
  /** Default: what createMetricsSource picks; null: none. */
  metrics?: MetricsSource | null;
}

export async function startEngine(config: FlipConfig, dir: string, options: EngineHarnessOptions = {}): Promise<EngineHarness> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const driverClock = options.driverClock ?? systemClock;
  const store = Store.open(config.statePath, { clock });
  // The platform reports to the engine, which is built after it (as in the controller).
  const wired: { engine?: Engine } = {};
  const platform =
    options.platform ??
    createPlatform(config, {
      app: config.app,
      configDir: dir,
      logDir: config.logDir,
      logger: silentLogger,
      clock: driverClock,
      state: store.driverState(`platform.${config.platform.kind}`),
      onEvent: (event) => wired.engine?.onPlatformEvent(event),
    });
  const router = createRouter(config, { app: config.app, logger: silentLogger, clock: driverClock, state: store.driverState(`router.${config.router.kind}`) });
  await router.start();
  const metrics = options.metrics === null ? undefined : (options.metrics ?? createMetricsSource(config, router));
  const engine = new Engine({ config, store, platform, router, metrics, clock, logger: silentLogger });
  wired.engine = engine;
  await engine.start();

  const finish = async (id: string, trafficUrl: string, requestsPerWindow = 10): Promise<DeploymentRecord> => {
    if (!(clock instanceof ManualClock)) throw new Error("finish() ends monitor windows on the harness's ManualClock");
    for (let i = 0; i < 1000; i++) {
      const record = store.deployment(id);
      if (!record) throw new Error(`no deployment ${id}`);
      if (record.outcome !== "running") return record;
      if (record.phase === "monitoring" && clock.pendingSleeps > 0) {
        // A new connection each: a proxy that reloads on a switch (nginx, Caddy) closes kept-alive ones.
        for (let n = 0; n < requestsPerWindow; n++) await (await request(trafficUrl, { reset: true })).body.dump();
        await clock.advance(1000);
      } else {
        await sleep(20);
      }
    }
    throw new Error("deployment did not finish");
  };
  const close = async () => {
    await engine.stop();
    await router.close();
    await platform.close({ stopReplicas: true });
    store.close();
  };
  return { engine, store, platform, router, clock, finish, close };
}
