// The built-in router's config turned into the options of a ProxyServer: in the controller itself
// (workers: 1), and in each proxy worker (workers: N), which gets the config as plain JSON and
// builds the very same options, so both ways serve traffic alike.
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../../logging.js";
import type { ProxyEvent, ProxyOptions } from "../../proxy/server.js";
import type { BuiltinRouterConfig } from "./config.js";
import { replicaHealthOptions } from "./health-config.js";
import { proxyLimits } from "./limits-config.js";
import { sessionOptions } from "./sessions-config.js";

/** Knobs that are not in flip.yaml (tests, benchmarks). */
export interface BuiltinRouterTuning {
  /** Most connections to one replica at once (default 128). */
  connectionsPerReplica?: number;
  /** The first http check's path: what the active health checks request when `health.path` is not set. */
  checkPath?: string | undefined;
  /** With workers: how long a switch waits for every worker to confirm it (default 5 s). */
  workerAckTimeoutMs?: number;
}

const DEFAULT_CONNECTIONS_PER_REPLICA = 128;

export interface ProxyHooks {
  clock: Clock;
  logger: Logger;
  onEvent?: ((event: ProxyEvent) => void) | undefined;
}

export function builtinProxyOptions(config: BuiltinRouterConfig, tuning: BuiltinRouterTuning, hooks: ProxyHooks): ProxyOptions {
  return {
    listen: config.listen,
    preview: config.preview,
    drainTimeoutMs: config.drainTimeout,
    connectTimeoutMs: config.connectTimeout,
    upstreamTimeoutMs: config.upstreamTimeout,
    longLivedGraceMs: config.longLivedGrace,
    sessions: sessionOptions(config.sessions),
    connectionsPerReplica: tuning.connectionsPerReplica ?? DEFAULT_CONNECTIONS_PER_REPLICA,
    health: replicaHealthOptions(config.health, tuning.checkPath),
    limits: proxyLimits(config.limits),
    clock: hooks.clock,
    logger: hooks.logger,
    onEvent: hooks.onEvent,
  };
}

/** What a proxy worker needs to build the same options: JSON over the cluster channel. */
export interface BuiltinWorkerSetup {
  config: BuiltinRouterConfig;
  tuning: BuiltinRouterTuning;
  logLevel: string;
}
