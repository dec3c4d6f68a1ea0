// One replica of a slot, reached through its own undici Pool: keep-alive connections reused across
// requests, one request per connection at a time (no pipelining: a slow response must not hold
// up the ones queued behind it), and the proxy's connect / response timeouts. It also carries the
// replica's health (active checks, passive ejection), which lives and goes with the replica.
import { Pool } from "undici";
import type { Clock } from "../core/clock.js";
import type { Endpoint, Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import { HealthCheck } from "./health-check.js";
import { ReplicaHealth, type ReplicaEvent, type ReplicaHealthOptions } from "./replica-health.js";
import { ReplicaTraffic } from "./traffic.js";

export interface UpstreamOptions {
  /** Most connections open to one replica at once; more requests wait in the pool's queue. */
  connectionsPerReplica: number;
  connectTimeoutMs: number;
  /** Longest wait for the response headers, and between two chunks of the response body. */
  upstreamTimeoutMs: number;
  /** Active checks and passive ejection; absent: a replica is never ejected. */
  health?: ReplicaHealthOptions | undefined;
  clock: Clock;
  logger: Logger;
  /** Told when a replica is ejected or restored. */
  onEvent?: ((event: ReplicaEvent) => void) | undefined;
}

export class Upstream {
  /** Identity of the replica: a target list naming the same URL keeps this Upstream and its connections. */
  readonly url: string;
  readonly slot: Slot;
  readonly pool: Pool;
  /** Whether round robin may give it requests; the proxy reports each request's fate to it. */
  readonly health: ReplicaHealth;
  private readonly healthCheck: HealthCheck | undefined;
  /** This replica's counters: the proxy bumps them through this reference, never by looking the URL up. */
  readonly traffic = new ReplicaTraffic();

  constructor(endpoint: Endpoint, options: UpstreamOptions) {
    this.url = endpoint.url;
    this.slot = endpoint.slot;
    // undici wants a bare origin; a replica is always addressed at its root.
    const origin = new URL(endpoint.url).origin;
    this.pool = new Pool(origin, {
      connections: options.connectionsPerReplica,
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.upstreamTimeoutMs,
      bodyTimeout: options.upstreamTimeoutMs,
    });
    this.health = new ReplicaHealth(options.health ?? {}, options.clock, (change) => {
      const event: ReplicaEvent = { ...change, slot: this.slot, url: this.url };
      if (change.type === "replica-ejected") options.logger.warn(event, "replica ejected");
      else options.logger.info(event, "replica restored");
      options.onEvent?.(event);
    });
    const active = options.health?.active;
    this.healthCheck = active && new HealthCheck(origin, active, this.health, options.clock, options.logger.child({ slot: this.slot, url: this.url }));
    this.healthCheck?.start();
  }

  /** Stops taking requests and probes; resolves once the requests already handed to it have finished. */
  async retire(): Promise<void> {
    await Promise.all([this.healthCheck?.stop(), this.pool.close()]);
  }

  /** Closes every connection now, failing whatever is still running (shutdown after the drain). */
  async destroy(): Promise<void> {
    await Promise.all([this.healthCheck?.stop(), this.pool.destroy()]);
  }
}
