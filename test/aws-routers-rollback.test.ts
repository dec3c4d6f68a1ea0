// The real engine and store driving the AWS routers over their fakes (aws-sdk-client-mock): when the
// switch fails or never converges — a Route 53 change never INSYNC, targets never healthy, AWS
// refusing the call — the deployment ends before the monitor with traffic as it was. The platform
// is a stand-in (the slots' servers exist outside Flip); engine, store and routers are the real ones.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InstantClock } from "../src/core/clock.testing.js";
import { parseConfigText } from "../src/config/load.js";
import { BLUE_TG, FakeElb, GREEN_TG, LISTENER_ARN } from "../src/routers/aws-alb/testing/fake-elb.js";
import { BLUE_ALB, FakeZone, GREEN_ALB, RECORD, ZONE_ID } from "../src/routers/route53/testing/fake-zone.js";
import { startEngine } from "./helpers/engine-harness.js";
import { standInPlatform } from "./helpers/stand-in-platform.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


const PLATFORM = `platform: { kind: static, slots: { blue: { url: "http://127.0.0.1:9" }, green: { url: "http://127.0.0.1:10" } } }`;

const ROUTE53 = `router:
  kind: route53
  hostedZoneId: ${ZONE_ID}
  recordName: ${RECORD}
  slots:
    blue: { alias: { dnsName: ${BLUE_ALB.dnsName}, hostedZoneId: ${BLUE_ALB.hostedZoneId} } }
    green: { alias: { dnsName: ${GREEN_ALB.dnsName}, hostedZoneId: ${GREEN_ALB.hostedZoneId} } }`;

const ALB = `router: { kind: aws-alb, listenerArn: "${LISTENER_ARN}", targetGroups: { blue: "${BLUE_TG}", green: "${GREEN_TG}" } }`;

/** An engine over `routerYaml`; blue is live before the deployment starts. */
async function harness(routerYaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "flip-aws-"));
  const config = parseConfigText(`app: shop\n${PLATFORM}\n${routerYaml}\nverifyTimeout: 2m\n`, join(dir, "flip.yaml"));
  const clock = new InstantClock();
  const { store, engine, router, close } = await startEngine(config, dir, { clock, driverClock: clock, platform: standInPlatform(), metrics: null });
  cleanups.push(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, engine, router };
}

async function route53Harness() {
  const zone = new FakeZone();
  cleanups.push(() => zone.restore());
  zone.put({ Name: RECORD, Type: "A", AliasTarget: { DNSName: `${BLUE_ALB.dnsName}.`, HostedZoneId: BLUE_ALB.hostedZoneId, EvaluateTargetHealth: false } });
  return { zone, ...(await harness(ROUTE53)) };
}

async function albHarness() {
  const elb = new FakeElb();
  cleanups.push(() => elb.restore());
  elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
  elb.register(BLUE_TG, "i-0blue");
  return { elb, ...(await harness(ALB)) };
}

const PHASES_TO_ROLLBACK = ["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "rolling-back", "rolled-back"];

const upsertedAlias = (input: unknown) =>
  (input as { ChangeBatch: { Changes: { Action: string; ResourceRecordSet: { AliasTarget: { DNSName: string } } }[] } }).ChangeBatch.Changes.map(
    (change) => `${change.Action} ${change.ResourceRecordSet.AliasTarget.DNSName}`,
  );

describe("AWS routers in the engine's flow", () => {
  it("route53: switches back with a second UPSERT when the change never becomes INSYNC, before any monitoring", async () => {
    const { zone, store, engine, router } = await route53Harness();
    zone.pendingPollsOfNextChanges.push(Infinity); // the switch to green hangs; the way back syncs at once

    const started = await engine.deploy("v2", { actor: "test", force: true });
    expect(started.slot).toBe("green");
    const done = await engine.waitFor(started.id);

    expect(done?.outcome).toBe("rolled-back");
    expect(done?.reason).toBe(
      `switch to green failed: Route 53 change C000000000001 for record ${RECORD} A is still PENDING after 2m; traffic may be split between blue and green until it is INSYNC.; traffic back on blue`,
    );
    expect(store.phasesOf(started.id).map((phase) => phase.phase)).toEqual(PHASES_TO_ROLLBACK);
    const changes = zone.calls().filter(([command]) => command === "ChangeResourceRecordSets");
    expect(changes.map(([, input]) => upsertedAlias(input))).toEqual([[`UPSERT ${GREEN_ALB.dnsName}`], [`UPSERT ${BLUE_ALB.dnsName}`]]);
    expect(zone.record()?.AliasTarget?.DNSName).toBe(BLUE_ALB.dnsName);
    expect(await router.live()).toBe("blue");
  });

  it("route53: a change AWS refuses leaves the record untouched and says which permission is missing", async () => {
    const { zone, engine, router } = await route53Harness();
    zone.failNext("ChangeResourceRecordSets", Object.assign(new Error("not authorized"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } }));

    const done = await engine.waitFor((await engine.deploy("v2", { actor: "test", force: true })).id);

    expect(done?.outcome).toBe("rolled-back");
    expect(done?.reason).toBe(`switch to green failed: AWS denied route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/${ZONE_ID}: not authorized; traffic back on blue`);
    expect(zone.calls().filter(([command]) => command === "ChangeResourceRecordSets")).toHaveLength(1);
    expect(await router.live()).toBe("blue");
  });

  it("aws-alb: points the listener back at blue when green's targets never turn healthy", async () => {
    const { elb, store, engine, router } = await albHarness();
    elb.register(GREEN_TG, "i-0green", ["initial", "unhealthy"]);

    const started = await engine.deploy("v2", { actor: "test", force: true });
    const done = await engine.waitFor(started.id);

    expect(done?.outcome).toBe("rolled-back");
    expect(done?.reason).toBe(
      `switch to green failed: After 2m, 1 of 1 targets in green's target group ${GREEN_TG} are still not healthy: i-0green:8080 unhealthy (Target.FailedHealthChecks: Health checks failed).; traffic back on blue`,
    );
    expect(store.phasesOf(started.id).map((phase) => phase.phase)).toEqual(PHASES_TO_ROLLBACK);
    const modified = elb.calls().filter(([command]) => command === "ModifyListener");
    expect(modified.map(([, input]) => input)).toEqual([
      { ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: "forward", TargetGroupArn: GREEN_TG }] },
      { ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: "forward", TargetGroupArn: BLUE_TG }] },
    ]);
    expect(await router.live()).toBe("blue");
  });
});
