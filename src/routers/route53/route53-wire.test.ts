// The route53 router with the real SDK stack under it (a scripted HTTP handler instead of the
// network): the REST calls it really makes, the change id as GetChange wants it, throttling retried
// by the SDK itself (fake timers skip the backoff), and AWS's errors under the names Flip matches.
import { afterEach, describe, expect, it, vi } from "vitest";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { awsErrorXml, ScriptedHandler, withoutBackoff, type ScriptedAnswer } from "../aws-common/testing/scripted-handler.js";
import { route53RouterSchema } from "./config.js";
import { Route53Router } from "./route53-router.js";
import { BLUE_ALB, GREEN_ALB, RECORD, ZONE_ID } from "./testing/fake-zone.js";

const NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/";
const config = route53RouterSchema.parse({ kind: "route53", hostedZoneId: ZONE_ID, recordName: RECORD, slots: { blue: { alias: BLUE_ALB }, green: { alias: GREEN_ALB } } });

const recordAliasTo = (target: { dnsName: string; hostedZoneId: string }): ScriptedAnswer => ({
  status: 200,
  body: `<?xml version="1.0"?>
<ListResourceRecordSetsResponse xmlns="${NAMESPACE}"><ResourceRecordSets><ResourceRecordSet><Name>${RECORD}.</Name><Type>A</Type>
<AliasTarget><HostedZoneId>${target.hostedZoneId}</HostedZoneId><DNSName>dualstack.${target.dnsName}.</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>
</ResourceRecordSet></ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>`,
});
const changeInfo = (root: string, status: string): ScriptedAnswer => ({
  status: 200,
  body: `<?xml version="1.0"?>
<${root} xmlns="${NAMESPACE}"><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>${status}</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></${root}>`,
});
const error = (status: number, code: string, message: string): ScriptedAnswer => ({ status, body: awsErrorXml(code, message, NAMESPACE) });

const routers: Route53Router[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const router of routers.splice(0)) await router.close();
});

function routerOver(handler: ScriptedHandler): Route53Router {
  const router = new Route53Router(
    config,
    { app: "shop", logger: silentLogger, clock: new InstantClock(), state: new MemoryDriverState() },
    { clientConfig: { requestHandler: handler, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } } },
  );
  routers.push(router);
  return router;
}

describe("route53 over the real SDK stack", () => {
  it("switches and verifies with the REST calls of `aws route53 change-resource-record-sets` and `get-change`", async () => {
    const handler = new ScriptedHandler([
      recordAliasTo(BLUE_ALB),
      changeInfo("ChangeResourceRecordSetsResponse", "PENDING"),
      recordAliasTo(GREEN_ALB),
      changeInfo("GetChangeResponse", "INSYNC"),
    ]);
    const router = routerOver(handler);
    await router.switchTo("green");
    await router.verify("green", 60_000);
    expect(handler.sent.map((request) => `${request.method} ${request.hostname}${request.path}`)).toEqual([
      `GET route53.amazonaws.com/2013-04-01/hostedzone/${ZONE_ID}/rrset`,
      `POST route53.amazonaws.com/2013-04-01/hostedzone/${ZONE_ID}/rrset`,
      `GET route53.amazonaws.com/2013-04-01/hostedzone/${ZONE_ID}/rrset`,
      "GET route53.amazonaws.com/2013-04-01/change/C2682N5HXP0BZ4",
    ]);
    expect(handler.sent[0]?.query).toEqual({ name: RECORD, type: "A", maxitems: "1" });
    const body = handler.sent[1]?.body.replace(/\s+</g, "<") ?? "";
    expect(body).toContain("<Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>shop.example.com</Name><Type>A</Type>");
    expect(body).toContain(`<AliasTarget><HostedZoneId>${GREEN_ALB.hostedZoneId}</HostedZoneId><DNSName>${GREEN_ALB.dnsName}</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>`);
  });

  it("lets the SDK retry a throttled call by itself", async () => {
    const handler = new ScriptedHandler([error(400, "Throttling", "Rate exceeded"), recordAliasTo(GREEN_ALB)]);
    expect(await withoutBackoff(() => routerOver(handler).live())).toBe("green");
    expect(handler.sent).toHaveLength(2);
  });

  it("turns AWS's AccessDenied into the permission to grant", async () => {
    const handler = new ScriptedHandler([
      recordAliasTo(BLUE_ALB),
      error(403, "AccessDenied", `User: arn:aws:iam::123456789012:user/ci is not authorized to perform: route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/${ZONE_ID}`),
    ]);
    const thrown = await routerOver(handler).switchTo("green").catch((caught: unknown) => caught);
    expect(thrown).toBeInstanceOf(RouterError);
    expect((thrown as RouterError).message).toMatch(/^AWS denied route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone\/Z1D633PJN98FT9: User: /);
    expect(handler.sent).toHaveLength(2);
  });

  it("recognises NoSuchHostedZone as AWS sends it", async () => {
    const handler = new ScriptedHandler([error(404, "NoSuchHostedZone", `No hosted zone found with ID: ${ZONE_ID}`)]);
    const thrown = await routerOver(handler).live().catch((caught: unknown) => caught);
    expect((thrown as RouterError).message).toBe(`Hosted zone ${ZONE_ID} (router.hostedZoneId in flip.yaml) does not exist.`);
  });
});
