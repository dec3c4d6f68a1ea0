// The replicas of one slot, taken in turn (round robin). A group never changes after it is built:
// new targets make a new group, so the proxy swaps one reference and a request that picked a group
// keeps a consistent view of it.
import type { Endpoint } from "../core/slots.js";
import { Upstream, type UpstreamOptions } from "./upstream.js";

export class UpstreamGroup {
  static readonly empty = new UpstreamGroup([]);

  private nextIndex = 0;

  constructor(readonly upstreams: readonly Upstream[]) {}

  get size(): number {
    return this.upstreams.length;
  }

  /** The next replica in turn, or undefined for an empty slot. */
  pick(): Upstream | undefined {
    const count = this.upstreams.length;
    if (count === 0) return undefined;
    const upstream = this.upstreams[this.nextIndex % count];
    this.nextIndex = (this.nextIndex + 1) % count;
    return upstream;
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
