// The route53 router against a stateful fake hosted zone (aws-sdk-client-mock): the shared router
// contract, the exact API inputs, GetChange and the TTL wait in verify, and the failure paths.
// route53-wire.test.ts covers what the mock skips (the SDK's retries, id handling and errors).
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError, TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger, type Logger } from "../../logging.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { route53RouterSchema } from "./config.js";
import { CHANGE_STATE_KEY, Route53Router, type PendingChange } from "./route53-router.js";
import { BLUE_ALB, FakeZone, GREEN_ALB, RECORD, ZONE_ID } from "./testing/fake-zone.js";

const aliasConfig = route53RouterSchema.parse({
  kind: "route53",
  hostedZoneId: `/hostedzone/${ZONE_ID}`,
  recordName: RECORD,
  slots: { blue: { alias: BLUE_ALB }, green: { alias: GREEN_ALB } },
});
const valueConfig = route53RouterSchema.parse({
  kind: "route53",
  hostedZoneId: ZONE_ID,
  recordName: RECORD,
  slots: { blue: { value: ["192.0.2.10", "192.0.2.11"] }, green: { value: "198.51.100.20" } },
  ttl: "30s",
});

function route53Fixture(): RouterFixture {
  const zone = new FakeZone();
  const state = new MemoryDriverState();
  const routers: Router[] = [];
  const make = () => {
    const router = new Route53Router(aliasConfig, { app: "shop", logger: silentLogger, clock: new InstantClock(), state });
    routers.push(router);
    return router;
  };
  return {
    supportsEmptySlots: false,
    create: () => Promise.resolve(make()),
    // Both slots' answers are in the config: there is nothing to fill.
    fillSlot: () => Promise.resolve(),
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    async cleanup() {
      for (const router of routers) await router.close();
      zone.restore();
    },
  };
}

routerContract("route53", route53Fixture);

describe("Route53Router", () => {
  let zone: FakeZone;
  let router: Route53Router;
  let state: MemoryDriverState;
  let clock: InstantClock;
  let events: RouterEvent[];
  let logLines: { msg: string }[];

  beforeEach(() => {
    zone = new FakeZone();
    state = new MemoryDriverState();
    clock = new InstantClock();
    events = [];
    logLines = [];
  });
  afterEach(async () => {
    await router?.close();
    zone.restore();
  });

  function capturingLogger(): Logger {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString()) as { msg: string });
        done();
      },
    });
    return pino({ level: "info" }, sink);
  }

  function start(config = aliasConfig): Route53Router {
    router = new Route53Router(config, { app: "shop", logger: capturingLogger(), clock, state, onEvent: (event) => events.push(event) });
    return router;
  }

  const listInput = { HostedZoneId: ZONE_ID, StartRecordName: RECORD, StartRecordType: "A", MaxItems: 1 };

  describe("switchTo", () => {
    it("lists the record, then UPSERTs the slot's alias in one change, and keeps the change id", async () => {
      zone.put({ Name: RECORD, Type: "A", AliasTarget: { DNSName: `${BLUE_ALB.dnsName}.`, HostedZoneId: BLUE_ALB.hostedZoneId, EvaluateTargetHealth: false } });
      await start().switchTo("green");
      expect(zone.calls()).toEqual([
        ["ListResourceRecordSets", listInput],
        [
          "ChangeResourceRecordSets",
          {
            HostedZoneId: ZONE_ID,
            ChangeBatch: {
              Comment: "flip: shop → green",
              Changes: [{ Action: "UPSERT", ResourceRecordSet: { Name: RECORD, Type: "A", AliasTarget: { DNSName: GREEN_ALB.dnsName, HostedZoneId: GREEN_ALB.hostedZoneId, EvaluateTargetHealth: false } } }],
            },
          },
        ],
      ]);
      expect(state.get<PendingChange>(CHANGE_STATE_KEY)).toEqual({ id: "/change/C000000000001", slot: "green", from: "blue", submittedAt: clock.now(), resolverWaitMs: 60_000 });
      expect(events).toMatchObject([{ type: "switched", from: "blue", to: "green" }]);
    });

    it("makes no change when the record already answers for the slot (as Route 53 spells it: dot, case, dualstack.)", async () => {
      zone.put({ Name: "SHOP.example.com.", Type: "A", AliasTarget: { DNSName: `dualstack.${GREEN_ALB.dnsName.toUpperCase()}.`, HostedZoneId: GREEN_ALB.hostedZoneId, EvaluateTargetHealth: true } });
      await start().switchTo("green");
      expect(zone.calls()).toEqual([["ListResourceRecordSets", listInput]]);
      expect(events).toEqual([]);
    });

    it("creates the record when there is none yet (the listing then starts at the next record in the zone)", async () => {
      expect(await start().live()).toBeUndefined();
      await router.switchTo("blue");
      expect(zone.record()?.AliasTarget?.DNSName).toBe(BLUE_ALB.dnsName);
      expect(await router.live()).toBe("blue");
    });

    it("writes plain values with the configured TTL, and reads them back in any order", async () => {
      await start(valueConfig).switchTo("blue");
      expect(zone.calls()[1]?.[1]).toMatchObject({
        ChangeBatch: { Changes: [{ Action: "UPSERT", ResourceRecordSet: { Name: RECORD, Type: "A", TTL: 30, ResourceRecords: [{ Value: "192.0.2.10" }, { Value: "192.0.2.11" }] } }] },
      });
      zone.put({ Name: RECORD, Type: "A", TTL: 30, ResourceRecords: [{ Value: "192.0.2.11" }, { Value: "192.0.2.10" }] });
      expect(await router.live()).toBe("blue");
      zone.put({ Name: RECORD, Type: "A", TTL: 30, ResourceRecords: [{ Value: "192.0.2.10" }] });
      expect(await router.live()).toBeUndefined();
    });

    it("refuses a record with a routing policy instead of fighting it", async () => {
      zone.put({ Name: RECORD, Type: "A", SetIdentifier: "canary", Weight: 10, AliasTarget: { DNSName: GREEN_ALB.dnsName, HostedZoneId: GREEN_ALB.hostedZoneId, EvaluateTargetHealth: false } });
      expect(await start().live()).toBeUndefined();
      const error = await router.switchTo("blue").catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toBe(`record ${RECORD} A has a routing policy (set identifier "canary"); Flip switches a simple record only.`);
      expect(zone.calls().map(([command]) => command)).not.toContain("ChangeResourceRecordSets");
    });
  });

  describe("verify", () => {
    it("polls GetChange through the clock until INSYNC, then waits out the TTL and says so", async () => {
      zone.pendingPolls = 2;
      await start().switchTo("green");
      await router.verify("green", 120_000);
      expect(zone.calls().filter(([command]) => command === "GetChange")).toEqual([
        ["GetChange", { Id: "/change/C000000000001" }],
        ["GetChange", { Id: "/change/C000000000001" }],
        ["GetChange", { Id: "/change/C000000000001" }],
      ]);
      expect(clock.sleeps).toEqual([5_000, 5_000, 60_000]);
      expect(logLines.map((line) => line.msg)).toContain("waiting 60s for resolvers to drop the old answer (TTL)");
      // Seen through once: a second verify neither polls nor waits again.
      await router.verify("green", 120_000);
      expect(clock.sleeps).toHaveLength(3);
    });

    it("waits for the old record's TTL when it was longer than the new one", async () => {
      zone.put({ Name: RECORD, Type: "A", TTL: 300, ResourceRecords: [{ Value: "192.0.2.10" }, { Value: "192.0.2.11" }] });
      await start(valueConfig).switchTo("green");
      await router.verify("green", 60_000);
      expect(clock.sleeps.at(-1)).toBe(300_000);
      expect(logLines.map((line) => line.msg)).toContain("waiting 300s for resolvers to drop the old answer (TTL)");
    });

    it("finds the change again after a restart and finishes waiting for it", async () => {
      await start().switchTo("green");
      await router.close();
      const restarted = start();
      await restarted.verify("green", 60_000);
      expect(zone.calls().filter(([command]) => command === "GetChange")).toHaveLength(2);
    });

    it("times out while the change is still PENDING, saying traffic may be split", async () => {
      zone.put({ Name: RECORD, Type: "A", AliasTarget: { DNSName: BLUE_ALB.dnsName, HostedZoneId: BLUE_ALB.hostedZoneId, EvaluateTargetHealth: false } });
      zone.pendingPolls = Infinity;
      await start().switchTo("green");
      const error = await router.verify("green", 120_000).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).message).toBe(
        `Route 53 change C000000000001 for record ${RECORD} A is still PENDING after 2m; traffic may be split between blue and green until it is INSYNC.`,
      );
      expect((error as TimeoutError).hint).toContain("aws route53 get-change --id C000000000001");
      expect(clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(120_000);
    });

    it("fails at once when the record answers for the other slot", async () => {
      zone.put({ Name: RECORD, Type: "A", AliasTarget: { DNSName: BLUE_ALB.dnsName, HostedZoneId: BLUE_ALB.hostedZoneId, EvaluateTargetHealth: false } });
      const error = await start().verify("green", 60_000).catch((thrown: unknown) => thrown);
      expect((error as TimeoutError).message).toBe(`record ${RECORD} A answers alias to ${BLUE_ALB.dnsName}, not green's answer.`);
      expect(clock.sleeps).toEqual([]);
    });
  });

  describe("failures", () => {
    it("names the missing permission and the zone when AWS denies the change; the record stays as it was", async () => {
      zone.put({ Name: RECORD, Type: "A", AliasTarget: { DNSName: BLUE_ALB.dnsName, HostedZoneId: BLUE_ALB.hostedZoneId, EvaluateTargetHealth: false } });
      zone.failNext("ChangeResourceRecordSets", awsError("AccessDenied", 403, "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: route53:ChangeResourceRecordSets"));
      const error = await start().switchTo("green").catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RouterError);
      expect((error as RouterError).message).toBe(
        `AWS denied route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/${ZONE_ID}: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: route53:ChangeResourceRecordSets`,
      );
      expect(await router.live()).toBe("blue");
      expect(state.get(CHANGE_STATE_KEY)).toBeUndefined();
    });

    it("names GetChange when that is the permission missing", async () => {
      await start().switchTo("green");
      zone.failNext("GetChange", awsError("AccessDenied", 403, "not authorized"));
      const error = await router.verify("green", 60_000).catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toBe("AWS denied route53:GetChange on arn:aws:route53:::change/C000000000001: not authorized");
    });

    it("says which config key holds a hosted zone that does not exist", async () => {
      router = new Route53Router({ ...aliasConfig, hostedZoneId: "ZNOTTHERE" }, { app: "shop", logger: silentLogger, clock, state });
      const error = await router.live().catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toBe("Hosted zone ZNOTTHERE (router.hostedZoneId in flip.yaml) does not exist.");
    });

    it("passes on Route 53's reason when it refuses the change batch", async () => {
      zone.failNext("ChangeResourceRecordSets", awsError("InvalidChangeBatch", 400, "Tried to create an alias that targets x., type A in zone Z32O12XQLNTSW2, but the alias target name does not lie within the target zone"));
      const error = await start().switchTo("green").catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toMatch(/^Route 53 refused to point record shop\.example\.com A at green: Tried to create an alias/);
      expect((error as RouterError).hint).toContain("router.slots.green");
    });
  });

  it("plans the exact change without making it", async () => {
    const plan = await start(valueConfig).planSwitch("green");
    expect(plan[0]).toBe(
      `route53:ChangeResourceRecordSets {"HostedZoneId":"${ZONE_ID}","ChangeBatch":{"Comment":"flip: shop → green","Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"${RECORD}","Type":"A","TTL":30,"ResourceRecords":[{"Value":"198.51.100.20"}]}}]}} (now: no record)`,
    );
    expect(plan[1]).toBe("then route53:GetChange every 5.0s until INSYNC, and a wait of at least 30s for resolvers to drop the old answer (TTL)");
    expect(zone.calls().map(([command]) => command)).toEqual(["ListResourceRecordSets"]);
  });
});

describe("route53 config", () => {
  const base = { kind: "route53", hostedZoneId: ZONE_ID, recordName: RECORD, slots: { blue: { alias: BLUE_ALB }, green: { alias: GREEN_ALB } } };
  const problems = (extra: Record<string, unknown>) => {
    const result = route53RouterSchema.safeParse({ ...base, ...extra });
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  };

  it("defaults to an A record, a 60s TTL, and drops the /hostedzone/ prefix", () => {
    expect(route53RouterSchema.parse({ ...base, hostedZoneId: `/hostedzone/${ZONE_ID}` })).toMatchObject({ hostedZoneId: ZONE_ID, recordType: "A", ttl: 60_000, pollInterval: 5_000 });
  });

  it("wants exactly one answer per slot, of the same kind for both, that fits the record type", () => {
    expect(problems({ slots: { blue: { alias: BLUE_ALB, value: "192.0.2.1" }, green: { alias: GREEN_ALB } } })).toEqual([
      'slots.blue: needs exactly one of `alias: { dnsName: ..., hostedZoneId: ... }` or `value: "192.0.2.10"`',
    ]);
    expect(problems({ slots: { blue: { alias: BLUE_ALB } } })[0]).toMatch(/^slots\.green: /);
    expect(problems({ slots: { blue: { alias: BLUE_ALB }, green: { value: "192.0.2.1" } } })).toEqual([
      "slots: blue and green must both be alias targets or both plain values: the switch rewrites one record",
    ]);
    expect(problems({ slots: { blue: { value: "192.0.2.1" }, green: { value: "2001:db8::1" } } })).toEqual(['slots.green.value: "2001:db8::1" is not an IPv4 address (recordType: A)']);
    expect(problems({ recordType: "CNAME", slots: { blue: { value: ["a.example.com", "b.example.com"] }, green: { value: "c.example.com" } } })).toEqual([
      "slots.blue.value: a CNAME record has exactly one value",
    ]);
    expect(problems({ slots: { blue: { alias: BLUE_ALB }, green: { alias: BLUE_ALB } } })).toEqual(["slots: blue and green give the same answer, so Flip could not tell which slot is live"]);
    expect(problems({ ttl: "1.5s" })).toEqual(["ttl: expected whole seconds up to 48h, e.g. 60s"]);
  });
});

function awsError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode: status, attempts: 1 } });
}
