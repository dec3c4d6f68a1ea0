import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { ReplicaHealth, type ReplicaHealthOptions } from "./replica-health.js";

const active = { path: "/health", intervalMs: 1_000, timeoutMs: 500, unhealthyAfter: 2, healthyAfter: 2, isHealthyStatus: () => true };
const passive = { failures: 3, ejectForMs: 10_000 };

function replica(options: ReplicaHealthOptions) {
  const clock = new ManualClock();
  const changes: string[] = [];
  const health = new ReplicaHealth(options, clock, (change) => changes.push(`${change.type}: ${change.reason}`));
  return { clock, changes, health };
}

describe("ReplicaHealth", () => {
  it("is ejected after unhealthyAfter failed probes in a row and restored after healthyAfter passed ones", () => {
    const { health, changes } = replica({ active });
    health.probeFailed("GET /health answered 500");
    health.probePassed(); // breaks the streak
    health.probeFailed("GET /health answered 500");
    expect(health.usable()).toBe(true);
    health.probeFailed("GET /health answered 503");
    expect(health.usable()).toBe(false);
    expect(health.healthy).toBe(false);
    expect(changes).toEqual(["replica-ejected: the health check failed 2 times in a row (GET /health answered 503)"]);

    health.probePassed();
    expect(health.usable()).toBe(false);
    health.probePassed();
    expect(health.usable()).toBe(true);
    expect(changes[1]).toBe("replica-restored: the health check passed 2 times in a row");
  });

  it("is ejected after `failures` unreachable requests in a row; an answered request breaks the streak", () => {
    const { health, changes } = replica({ passive });
    health.requestFailed("ECONNREFUSED", false);
    health.requestFailed("ECONNREFUSED", false);
    health.requestAnswered();
    health.requestFailed("ECONNREFUSED", false);
    health.requestFailed("ECONNREFUSED", false);
    expect(health.usable()).toBe(true);
    health.requestFailed("ECONNREFUSED", false);
    expect(health.usable()).toBe(false);
    expect(changes).toEqual(["replica-ejected: 3 requests in a row could not reach it (ECONNREFUSED)"]);
  });

  it("never passively ejects the last healthy replica of its slot", () => {
    const { health, changes } = replica({ passive });
    for (let i = 0; i < 5; i++) health.requestFailed("ECONNREFUSED", true);
    expect(health.usable()).toBe(true);
    health.requestFailed("ECONNREFUSED", false); // another replica came back: now it can go
    expect(health.usable()).toBe(false);
    expect(changes).toEqual(["replica-ejected: 6 requests in a row could not reach it (ECONNREFUSED)"]);
  });

  it("lets one request try again after the cool-down: a failure starts another, an answer restores it", async () => {
    const { health, changes, clock } = replica({ passive });
    for (let i = 0; i < 3; i++) health.requestFailed("ECONNREFUSED", false);
    health.requestAnswered(); // started before the ejection: proves nothing
    expect(health.usable()).toBe(false);
    await clock.advance(9_999);
    expect(health.usable()).toBe(false);
    await clock.advance(1);
    expect(health.usable()).toBe(true);
    expect(health.healthy).toBe(false); // on trial, not yet healthy

    health.requestFailed("ECONNREFUSED", false);
    expect(health.usable()).toBe(false);
    await clock.advance(10_000);
    health.requestAnswered();
    expect(health.healthy).toBe(true);
    expect(changes).toEqual(["replica-ejected: 3 requests in a row could not reach it (ECONNREFUSED)", "replica-restored: a request reached it after the 10s cool-down"]);
  });

  it("gives a replica the probes took out no trial, and a passing probe ends a passive ejection", async () => {
    const both = replica({ active, passive });
    both.health.probeFailed("timeout");
    both.health.probeFailed("timeout");
    await both.clock.advance(60_000);
    expect(both.health.usable()).toBe(false);

    const passiveFirst = replica({ active, passive });
    for (let i = 0; i < 3; i++) passiveFirst.health.requestFailed("ECONNREFUSED", false);
    passiveFirst.health.probePassed();
    passiveFirst.health.probePassed();
    expect(passiveFirst.health.usable()).toBe(true);
    expect(passiveFirst.changes[1]).toBe("replica-restored: the health check passed 2 times in a row");
  });

  it("keeps a passively ejected replica out without trials once the probes fail too", async () => {
    const { health, clock, changes } = replica({ active, passive });
    for (let i = 0; i < 3; i++) health.requestFailed("ECONNREFUSED", false);
    health.probeFailed("ECONNREFUSED");
    health.probeFailed("ECONNREFUSED");
    await clock.advance(60_000);
    expect(health.usable()).toBe(false);
    expect(changes).toHaveLength(1); // already out: no second ejection event
  });

  it("never ejects without options, whatever happens", () => {
    const { health, changes } = replica({});
    for (let i = 0; i < 10; i++) health.requestFailed("ECONNREFUSED", false);
    expect(health.usable()).toBe(true);
    expect(changes).toEqual([]);
  });
});
