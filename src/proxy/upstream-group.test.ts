import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { silentLogger } from "../logging.js";
import { UpstreamGroup } from "./upstream-group.js";
import type { Upstream } from "./upstream.js";

// Replicas nobody connects to: the group only reads their health.
const options = {
  connectionsPerReplica: 1,
  connectTimeoutMs: 1_000,
  upstreamTimeoutMs: 1_000,
  health: { passive: { failures: 1, ejectForMs: 10_000 } },
  logger: silentLogger,
};

describe("UpstreamGroup", () => {
  const groups: UpstreamGroup[] = [];

  afterEach(async () => {
    await Promise.all(groups.splice(0).flatMap((group) => group.upstreams.map((upstream) => upstream.destroy())));
  });

  function groupOf(count: number, clock: ManualClock): { group: UpstreamGroup; replicas: Upstream[] } {
    const endpoints = Array.from({ length: count }, (_, replica) => ({ slot: "blue" as const, replica, host: "127.0.0.1", port: 1 + replica, url: `http://127.0.0.1:${1 + replica}` }));
    const { group } = UpstreamGroup.empty.withTargets(endpoints, { ...options, clock });
    groups.push(group);
    return { group, replicas: [...group.upstreams] };
  }

  it("takes the usable replicas in turn, skips ejected ones, and answers undefined when all are out", () => {
    const { group, replicas } = groupOf(3, new ManualClock());
    const [a, b, c] = replicas as [Upstream, Upstream, Upstream];
    expect([group.pick(), group.pick(), group.pick(), group.pick()]).toEqual([a, b, c, a]);
    b.health.requestFailed("ECONNREFUSED", false);
    expect([group.pick(), group.pick(), group.pick()]).toEqual([c, a, c]);
    expect(group.pickOther(a)).toBe(c);
    expect(group.healthyCount).toBe(2);
    a.health.requestFailed("ECONNREFUSED", false);
    c.health.requestFailed("ECONNREFUSED", false);
    expect(group.pick()).toBeUndefined();
    expect(group.unhealthyText("blue")).toBe("all 3 replicas of blue are unhealthy");
  });

  it("does not count a replica on trial after its cool-down as healthy", async () => {
    const clock = new ManualClock();
    const { group, replicas } = groupOf(2, clock);
    const [a, b] = replicas as [Upstream, Upstream];
    a.health.requestFailed("ECONNREFUSED", !group.hasOtherHealthy(a));
    await clock.advance(10_000);
    expect(a.health.usable()).toBe(true);
    // b fails while a is merely on trial: b is the last healthy replica and stays in.
    expect(group.hasOtherHealthy(b)).toBe(false);
    expect(group.unhealthyText("green")).toBe("all 2 replicas of green are unhealthy");
    expect(groupOf(1, clock).group.unhealthyText("green")).toBe("the only replica of green is unhealthy");
  });
});
