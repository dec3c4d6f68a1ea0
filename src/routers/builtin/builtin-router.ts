// `router: { kind: builtin }`: the Router interface over Flip's own reverse proxy (src/proxy/).
// The proxy is the data plane, so live() is simply what the proxy points at, and the live slot is
// persisted before every swap so a restarted controller points the same way.
import { formatDuration } from "../../core/duration.js";
import { EmptySlotError, TimeoutError } from "../../core/errors.js";
import { isSlot, type Endpoint, type Slot } from "../../core/slots.js";
import { ProxyCluster, type WorkerStatus } from "../../proxy/cluster-primary.js";
import { ProxyServer, type ProxyAddresses } from "../../proxy/server.js";
import type { Router, RouterCapabilities, RouterContext, TrafficStats } from "../router.js";
import type { BuiltinRouterConfig } from "./config.js";
import { builtinProxyOptions, type BuiltinRouterTuning, type BuiltinWorkerSetup, type ProxyHooks } from "./proxy-options.js";

export type { BuiltinRouterTuning } from "./proxy-options.js";

/** The key under which the live slot survives a restart (in context.state). */
export const LIVE_STATE_KEY = "live";

export class BuiltinRouter implements Router {
  readonly kind = "builtin";
  readonly capabilities: RouterCapabilities = { weights: false, mirror: false, verify: true, traffic: true };
  readonly traffic: TrafficStats;
  /** In-process, or the coordinator of `workers` processes that each run a ProxyServer. */
  private readonly proxy: ProxyServer | ProxyCluster;
  /** What setTargets() was last told, for planSwitch(). */
  private readonly targets: Record<Slot, Endpoint[]> = { blue: [], green: [] };

  constructor(
    private readonly config: BuiltinRouterConfig,
    private readonly context: RouterContext,
    tuning: BuiltinRouterTuning = {},
  ) {
    const hooks = { clock: context.clock, logger: context.logger, onEvent: context.onEvent };
    this.proxy = config.workers > 1 ? proxyCluster(config, tuning, hooks) : new ProxyServer(builtinProxyOptions(config, tuning, hooks));
    this.traffic = this.proxy.traffic;
    // Restored here, not in start(): reconcile asks live() before anything is bound.
    const persisted = context.state.get<unknown>(LIVE_STATE_KEY);
    if (isSlot(persisted)) this.proxy.restoreLive(persisted);
    else if (persisted !== undefined) context.logger.warn({ persisted }, "ignoring an unknown persisted live slot");
  }

  start(): Promise<void> {
    return this.proxy.start();
  }

  async setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void> {
    this.targets[slot] = [...endpoints];
    await this.proxy.setTargets(slot, endpoints);
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const from = this.proxy.live;
    const { listen } = this.proxy.addresses();
    if (from === slot) return [`the proxy on ${listen} already sends traffic to ${slot}: no change`];
    const replicas = this.targets[slot].map((endpoint) => endpoint.url);
    return [
      `the proxy on ${listen} sends every new request to ${slot} (${replicas.length > 0 ? replicas.join(", ") : "its replicas once they are ready"}) in one in-memory swap`,
      from ? `requests in flight on ${from} finish; cut after ${formatDuration(this.config.drainTimeout)} (drainTimeout)` : "nothing is live now: nothing to drain",
    ];
  }

  live(): Promise<Slot | undefined> {
    return Promise.resolve(this.proxy.live);
  }

  async switchTo(slot: Slot): Promise<void> {
    const from = this.proxy.live;
    if (from === slot) {
      this.context.logger.debug({ slot }, "switch skipped: the proxy already points at this slot");
      return;
    }
    if (!this.proxy.hasTargets(slot)) throw new EmptySlotError(slot, "the built-in proxy has no replicas for it");
    // Persist first: a crash between the two lines leaves the state pointing where traffic was
    // about to go, and reconcile re-applies the switch.
    this.context.state.set(LIVE_STATE_KEY, slot);
    // In-process the swap is done when this returns; with workers, once every worker confirmed it.
    await this.proxy.switchTo(slot);
    this.context.logger.info({ from, to: slot }, "traffic switched");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /**
   * The swap is synchronous and in-process, so the data plane has converged the moment switchTo()
   * returned; waiting would not change the answer (nothing else moves the proxy).
   */
  verify(slot: Slot, timeoutMs: number): Promise<void> {
    const live = this.proxy.live;
    if (live === slot) return Promise.resolve();
    return Promise.reject(
      new TimeoutError(
        `The built-in proxy points at ${live ?? "no slot"}, not ${slot} (checked within ${timeoutMs}ms).`,
        `Switch to ${slot} first (\`flip switch ${slot}\`).`,
      ),
    );
  }

  /**
   * Replicas of `slot` not ejected by health checks or failed requests (for `flip status`). Not part
   * of the Router interface: only a router that sends the requests itself knows this.
   */
  healthyReplicas(slot: Slot): number {
    return this.proxy.healthyReplicas(slot);
  }

  /**
   * With `workers` > 1, the workers running now and the requests each has finished, from counters
   * fetched afresh; undefined when the proxy runs in this process.
   */
  async workers(): Promise<WorkerStatus[] | undefined> {
    if (!(this.proxy instanceof ProxyCluster)) return undefined;
    await this.proxy.refreshTraffic();
    return this.proxy.workers();
  }

  /** The addresses really bound (after start(); useful with port 0), else the configured ones. */
  listenAddresses(): ProxyAddresses {
    return this.proxy.addresses();
  }

  close(): Promise<void> {
    return this.proxy.close();
  }
}

/** The coordinator of `config.workers` proxy workers, which run cluster-worker-entry.js. */
function proxyCluster(config: BuiltinRouterConfig, tuning: BuiltinRouterTuning, hooks: ProxyHooks): ProxyCluster {
  const setup: BuiltinWorkerSetup = { config, tuning, logLevel: hooks.logger.level };
  return new ProxyCluster({
    workers: config.workers,
    entry: new URL("./cluster-worker-entry.js", import.meta.url),
    setup,
    listen: config.listen,
    preview: config.preview,
    drainTimeoutMs: config.drainTimeout,
    ackTimeoutMs: tuning.workerAckTimeoutMs,
    ...hooks,
  });
}
