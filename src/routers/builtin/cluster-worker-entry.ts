// The module each proxy worker of `router.workers: N` runs (node:cluster forks it, see
// src/proxy/cluster-primary.ts): the built-in router's proxy, built from the controller's config.
import { systemClock } from "../../core/clock.js";
import { createLogger } from "../../logging.js";
import { runProxyWorker } from "../../proxy/cluster-worker.js";
import { builtinProxyOptions, type BuiltinWorkerSetup } from "./proxy-options.js";

runProxyWorker((setup, onEvent) => {
  const { config, tuning, logLevel } = setup as BuiltinWorkerSetup;
  const logger = createLogger({ level: logLevel }).child({ proxyWorker: process.pid });
  return builtinProxyOptions(config, tuning, { clock: systemClock, logger, onEvent });
});
