// The composition root of `flip serve`: opens the store, builds the platform, router, metrics
// source and engine from the config, recovers replicas and reconciles before the proxy accepts
// traffic, then serves the control API. close() drains the proxy and stops the replicas.
import { monitorSettingsOf, registerDashboardReads } from "./api/dashboard-routes.js";
import { registerMetricsRoute } from "./api/metrics-route.js";
import { startApiServer } from "./api/server.js";
import { systemClock, type Clock } from "./core/clock.js";
import { FlipError } from "./core/errors.js";
import { SLOTS } from "./core/slots.js";
import type { FlipConfig } from "./config/schema.js";
import { registerDashboard } from "./dashboard/serve.js";
import { Engine } from "./engine/engine.js";
import type { EngineApi } from "./engine/views.js";
import type { Logger } from "./logging.js";
import { attachNotifier } from "./notify/notifier.js";
import { PrometheusExporter } from "./metrics/prometheus-exporter.js";
import { createMetricsSource } from "./metrics/registry.js";
import { TrafficHistory, type TrafficReader } from "./metrics/traffic-history.js";
import { createPlatform } from "./platforms/registry.js";
import { createRouter } from "./routers/registry.js";
import { Store } from "./store/store.js";

export interface Controller {
  engine: EngineApi;
  apiAddress: string;
  proxyAddresses: { listen?: string; preview?: string };
  close(options?: { stopReplicas?: boolean }): Promise<void>;
}

interface ServeRecord {
  pid: number;
  startedAt: number;
}

export async function startController(config: FlipConfig, options: { logger: Logger; clock?: Clock }): Promise<Controller> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const store = Store.open(config.statePath, { clock });
  const serveState = store.driverState("controller");
  refuseSecondController(serveState.get<ServeRecord>("serve"), config);
  serveState.set("serve", { pid: process.pid, startedAt: clock.now() } satisfies ServeRecord);

  const platform = createPlatform(config, {
    app: config.app,
    configDir: config.dir,
    logDir: config.logDir,
    logger: logger.child({ component: "platform" }),
    clock,
    state: store.driverState(`platform.${config.platform.kind}`),
    onEvent: (event) => engine.onPlatformEvent(event),
  });
  // The dashboard's charts: the last 15 minutes of the router's counters, and where traffic switched:
  // the built-in proxy's counters, else a proxy's own (HAProxy's stats, an nginx or Caddy access log).
  const trafficOf = (): TrafficReader | undefined => {
    if (router.traffic) return router.traffic;
    const readTraffic = router.readTraffic?.bind(router);
    return readTraffic ? { snapshot: readTraffic } : undefined;
  };
  const trafficHistory = new TrafficHistory({ clock, stats: trafficOf, versionOf: (slot) => store.slot(slot).version });
  const router = createRouter(config, {
    app: config.app,
    logger: logger.child({ component: "router" }),
    clock,
    state: store.driverState(`router.${config.router.kind}`),
    onEvent: (event) => {
      logger.info({ component: "router", ...event }, `router: ${event.type}`);
      trafficHistory.onRouterEvent(event);
    },
  });
  const engine = new Engine({ config, store, platform, router, metrics: createMetricsSource(config, router), clock, logger: logger.child({ component: "engine" }) });
  // Webhooks hear the engine's events from here, never from inside a step: they cannot block a flow.
  const notifications = attachNotifier(engine, config.notify, { app: config.app, clock, logger: logger.child({ component: "notify" }) });

  const startup = new AbortController();
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  try {
    await platform.recover(startup.signal);
    for (const slot of SLOTS) {
      const endpoints = await platform.endpoints(slot);
      if (endpoints.length > 0) await router.setTargets(slot, endpoints);
    }
    await engine.start();
    await router.start();
    trafficHistory.start();
    // /metrics: the proxy's counters (when the router sees traffic) and the engine's state, read at scrape time.
    const metrics = new PrometheusExporter({
      app: config.app,
      traffic: router.traffic,
      versionOf: (slot) => store.slot(slot).version,
      liveSlot: () => router.live(),
      deploymentOutcomes: () => store.deploymentOutcomes(),
      processMetrics: true,
      logger: logger.child({ component: "metrics" }),
    });
    api = await startApiServer({
      engine,
      listen: config.control.listen,
      token: config.control.token,
      clock,
      logger: logger.child({ component: "api" }),
      extraRoutes: (app) => {
        registerMetricsRoute(app, metrics);
        registerDashboardReads(app, { traffic: trafficHistory, monitor: monitorSettingsOf(config.monitor) });
        registerDashboard(app);
      },
    });
  } catch (error) {
    // Leave replicas running and the store as it was: the next `flip serve` adopts them.
    trafficHistory.stop();
    await engine.stop().catch(() => {});
    await notifications.close().catch(() => {});
    await router.close().catch(() => {});
    await platform.close({ stopReplicas: false }).catch(() => {});
    serveState.delete("serve");
    store.close();
    throw error;
  }

  const addresses = router.listenAddresses?.() ?? {};
  let closed: Promise<void> | undefined;
  return {
    engine,
    apiAddress: api.address,
    proxyAddresses: addresses,
    close(closeOptions = {}) {
      closed ??= (async () => {
        await api?.close();
        trafficHistory.stop();
        await engine.stop();
        await notifications.close();
        await router.close();
        await platform.close({ stopReplicas: closeOptions.stopReplicas ?? true });
        serveState.delete("serve");
        store.close();
      })();
      return closed;
    },
  };
}

function refuseSecondController(record: ServeRecord | undefined, config: FlipConfig): void {
  if (!record || record.pid === process.pid || !isAlive(record.pid)) return;
  throw new FlipError(
    "FLIP_E_LOCKED",
    `flip serve already runs for ${config.statePath} (pid ${record.pid}).`,
    "Use that one (`flip status`), or stop it first; two controllers must never drive the same slots.",
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
