// The aws-alb router with the real SDK stack under it (a scripted HTTP handler instead of the
// network): throttling is retried by the SDK itself with its production retry settings (fake timers
// skip the backoff), and AWS's XML errors arrive under the names the router translates.
import { afterEach, describe, expect, it, vi } from "vitest";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { awsErrorXml, ScriptedHandler, withoutBackoff, type ScriptedAnswer } from "../aws-common/testing/scripted-handler.js";
import { AwsAlbRouter } from "./aws-alb-router.js";
import { awsAlbRouterSchema } from "./config.js";
import { BLUE_TG, GREEN_TG, LISTENER_ARN } from "./testing/fake-elb.js";

const NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
const config = awsAlbRouterSchema.parse({ kind: "aws-alb", listenerArn: LISTENER_ARN, targetGroups: { blue: BLUE_TG, green: GREEN_TG } });

const listenerForwardingTo = (targetGroupArn: string): ScriptedAnswer => ({
  status: 200,
  body: `<DescribeListenersResponse xmlns="${NAMESPACE}"><DescribeListenersResult><Listeners><member>
<ListenerArn>${LISTENER_ARN}</ListenerArn><Port>443</Port><Protocol>HTTPS</Protocol>
<DefaultActions><member><Type>forward</Type><TargetGroupArn>${targetGroupArn}</TargetGroupArn></member></DefaultActions>
</member></Listeners></DescribeListenersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeListenersResponse>`,
});
const error = (status: number, code: string, message: string): ScriptedAnswer => ({ status, body: awsErrorXml(code, message, NAMESPACE) });

const routers: AwsAlbRouter[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const router of routers.splice(0)) await router.close();
});

function routerOver(handler: ScriptedHandler): AwsAlbRouter {
  const router = new AwsAlbRouter(
    config,
    { app: "shop", logger: silentLogger, clock: new InstantClock(), state: new MemoryDriverState() },
    { clientConfig: { requestHandler: handler, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } } },
  );
  routers.push(router);
  return router;
}

describe("aws-alb over the real SDK stack", () => {
  it("sends DescribeListeners to the listener's region, and the SDK retries a throttled call by itself", async () => {
    const handler = new ScriptedHandler([error(400, "Throttling", "Rate exceeded"), listenerForwardingTo(GREEN_TG)]);
    expect(await withoutBackoff(() => routerOver(handler).live())).toBe("green");
    expect(handler.sent).toHaveLength(2);
    expect(handler.sent[1]).toMatchObject({ method: "POST", hostname: "elasticloadbalancing.eu-west-1.amazonaws.com" });
    expect(new URLSearchParams(handler.sent[1]?.body).get("Action")).toBe("DescribeListeners");
    expect(new URLSearchParams(handler.sent[1]?.body).get("ListenerArns.member.1")).toBe(LISTENER_ARN);
  });

  it("gives up after 5 attempts of throttling, saying so", async () => {
    const handler = new ScriptedHandler([error(400, "Throttling", "Rate exceeded")]);
    const thrown = await withoutBackoff(() => routerOver(handler).live()).catch((caught: unknown) => caught);
    expect(handler.sent).toHaveLength(5);
    expect(thrown).toBeInstanceOf(RouterError);
    expect((thrown as RouterError).message).toBe(`AWS kept throttling elasticloadbalancing:DescribeListeners on ${LISTENER_ARN} after 5 attempts (Throttling: Rate exceeded).`);
  });

  it("turns AWS's AccessDenied into the permission to grant, without retrying it", async () => {
    const handler = new ScriptedHandler([
      error(403, "AccessDenied", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: elasticloadbalancing:DescribeListeners"),
    ]);
    const thrown = await routerOver(handler).live().catch((caught: unknown) => caught);
    expect(handler.sent).toHaveLength(1);
    expect((thrown as RouterError).message).toBe(
      `AWS denied elasticloadbalancing:DescribeListeners on ${LISTENER_ARN}: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: elasticloadbalancing:DescribeListeners`,
    );
  });

  it("recognises ListenerNotFound as AWS sends it", async () => {
    const handler = new ScriptedHandler([error(400, "ListenerNotFound", "One or more listeners not found")]);
    const thrown = await routerOver(handler).live().catch((caught: unknown) => caught);
    expect((thrown as RouterError).message).toBe(`Listener ${LISTENER_ARN} (router.listenerArn in flip.yaml) does not exist in eu-west-1.`);
  });

  it("serializes the switch's ModifyListener as the CLI's modify-listener would", async () => {
    const targetHealth: ScriptedAnswer = {
      status: 200,
      body: `<DescribeTargetHealthResponse xmlns="${NAMESPACE}"><DescribeTargetHealthResult><TargetHealthDescriptions><member>
<Target><Id>i-0green</Id><Port>8080</Port></Target><TargetHealth><State>unused</State><Reason>Target.NotInUse</Reason></TargetHealth>
</member></TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`,
    };
    const modified: ScriptedAnswer = { status: 200, body: `<ModifyListenerResponse xmlns="${NAMESPACE}"><ModifyListenerResult><Listeners/></ModifyListenerResult></ModifyListenerResponse>` };
    const handler = new ScriptedHandler([listenerForwardingTo(BLUE_TG), targetHealth, modified]);
    await routerOver(handler).switchTo("green");
    const form = new URLSearchParams(handler.sent[2]?.body);
    expect(Object.fromEntries(form)).toEqual({
      Action: "ModifyListener",
      Version: "2015-12-01",
      ListenerArn: LISTENER_ARN,
      "DefaultActions.member.1.Type": "forward",
      "DefaultActions.member.1.TargetGroupArn": GREEN_TG,
    });
  });
});
