// One replica of a slot, reached through its own undici Pool: keep-alive connections reused across
// requests, one request per connection at a time (no pipelining: a slow response must not hold
// up the ones queued behind it), and the proxy's connect / response timeouts.
import { Pool } from "undici";
import type { Endpoint } from "../core/slots.js";

export interface UpstreamOptions {
  /** Most connections open to one replica at once; more requests wait in the pool's queue. */
  connectionsPerReplica: number;
  connectTimeoutMs: number;
  /** Longest wait for the response headers, and between two chunks of the response body. */
  upstreamTimeoutMs: number;
}

export class Upstream {
  /** Identity of the replica: a target list naming the same URL keeps this Upstream and its connections. */
  readonly url: string;
  readonly pool: Pool;

  constructor(endpoint: Endpoint, options: UpstreamOptions) {
    this.url = endpoint.url;
    // undici wants a bare origin; a replica is always addressed at its root.
    this.pool = new Pool(new URL(endpoint.url).origin, {
      connections: options.connectionsPerReplica,
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.upstreamTimeoutMs,
      bodyTimeout: options.upstreamTimeoutMs,
    });
  }

  /** Stops taking requests; resolves once those already handed to it have finished. */
  retire(): Promise<void> {
    return this.pool.close();
  }

  /** Closes every connection now, failing whatever is still running (shutdown after the drain). */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
