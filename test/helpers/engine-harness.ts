// An Engine wired the way the controller wires it (platform and router from the registries, the
// metrics source they imply, a store in the config's folder), with a ManualClock for the engine so
// a monitor window ends only when the test says, while the drivers keep real time. finish() sends
// real traffic at each window and ends it, until the deployment is over.
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { systemClock } from "../../src/core/clock.js";
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
  clock: ManualClock;
  /** Waits for the deployment to end, sending `requestsPerWindow` GETs to `trafficUrl` before ending each monitor window. */
  finish(id: string, trafficUrl: string, requestsPerWindow?: number): Promise<DeploymentRecord>;
  /** Stops the engine, the router and the platform (and its replicas), and closes the store. */
  close(): Promise<void>;
}

export async function startEngine(config: FlipConfig, dir: string, options: { metrics?: MetricsSource } = {}): Promise<EngineHarness> {
  const clock = new ManualClock(Date.now());
  const store = Store.open(config.statePath, { clock });
  // The platform reports to the engine, which is built after it (as in the controller).
  const wired: { engine?: Engine } = {};
  const platform = createPlatform(config, {
    app: config.app,
    configDir: dir,
    logDir: config.logDir,
    logger: silentLogger,
    clock: systemClock,
    state: store.driverState(`platform.${config.platform.kind}`),
    onEvent: (event) => wired.engine?.onPlatformEvent(event),
  });
  const router = createRouter(config, { app: config.app, logger: silentLogger, clock: systemClock, state: store.driverState(`router.${config.router.kind}`) });
  await router.start();
  const engine = new Engine({ config, store, platform, router, metrics: options.metrics ?? createMetricsSource(config, router), clock, logger: silentLogger });
  wired.engine = engine;
  await engine.start();

  const finish = async (id: string, trafficUrl: string, requestsPerWindow = 10): Promise<DeploymentRecord> => {
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
