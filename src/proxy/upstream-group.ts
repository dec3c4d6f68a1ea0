// The replicas of one slot, taken in turn (round robin), skipping those their health has ejected.
// A group never changes after it is built: new targets make a new group, so the proxy swaps one
// reference and a request that picked a group keeps a consistent view of it. (Health is per
// replica and changes; the list of replicas does not.)
import type { Endpoint, Slot } from "../core/slots.js";
import { Upstream, type UpstreamOptions } from "./upstream.js";

export class UpstreamGroup {
  static readonly empty = new UpstreamGroup([]);

  private nextIndex = 0;

  constructor(readonly upstreams: readonly Upstream[]) {}

  get size(): number {
    return this.upstreams.length;
  }

  /** The next usable replica in turn; undefined for an empty slot or when every replica is ejected. */
  pick(): Upstream | undefined {
    return this.pickExcept(undefined);
  }

  /** The next usable replica other than `failed`: where a request that could not reach it goes instead. */
  pickOther(failed: Upstream): Upstream | undefined {
    return this.pickExcept(failed);
  }

  /** Whether a replica other than `upstream` is not ejected (one on trial after its cool-down is). */
  hasOtherHealthy(upstream: Upstream): boolean {
    return this.upstreams.some((other) => other !== upstream && other.health.healthy);
  }

  /** Replicas not ejected. */
  get healthyCount(): number {
    let healthy = 0;
    for (const upstream of this.upstreams) if (upstream.health.healthy) healthy += 1;
    return healthy;
  }

  /** What a request is told when every replica of `slot` is ejected (with a 502, at once). */
  unhealthyText(slot: Slot): string {
    const count = this.upstreams.length;
    return count === 1 ? `the only replica of ${slot} is unhealthy` : `all ${count} replicas of ${slot} are unhealthy`;
  }

  private pickExcept(excluded: Upstream | undefined): Upstream | undefined {
    const count = this.upstreams.length;
    for (let tried = 0; tried < count; tried++) {
      const upstream = this.upstreams[this.nextIndex] as Upstream;
      this.nextIndex = this.nextIndex + 1 === count ? 0 : this.nextIndex + 1;
      if (upstream !== excluded && upstream.health.usable()) return upstream;
    }
    return undefined;
  }

  /**
   * The group for a new list of targets: replicas whose URL is unchanged keep their Upstream (and
   * warm connections); `retired` are the ones no longer listed, for the caller to close.
   */
  withTargets(endpoints: readonly Endpoint[], options: UpstreamOptions): { group: UpstreamGroup; retired: Upstream[] } {
    const current = new Map(this.upstreams.map((upstream) => [upstream.url, upstream]));
    const kept: Upstream[] = [];
    for (const endpoint of endpoints) {
      if (kept.some((upstream) => upstream.url === endpoint.url)) continue; // the same replica listed twice
      kept.push(current.get(endpoint.url) ?? new Upstream(endpoint, options));
      current.delete(endpoint.url);
    }
    return { group: kept.length === 0 ? UpstreamGroup.empty : new UpstreamGroup(kept), retired: [...current.values()] };
  }
}
