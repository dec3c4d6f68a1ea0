// The aws-alb router against a stateful fake of the ELB API (aws-sdk-client-mock): the shared router
// contract, the exact API inputs, target health during verify, and the failure paths. AWS itself
// cannot run here; aws-alb-wire.test.ts covers what the mock skips (the SDK's retries and errors).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstantClock, ManualClock } from "../../core/clock.testing.js";
import type { Clock } from "../../core/clock.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { AwsAlbRouter } from "./aws-alb-router.js";
import { awsAlbRouterSchema } from "./config.js";
import { BLUE_TG, FakeElb, FIXED_503, GREEN_TG, LISTENER_ARN } from "./testing/fake-elb.js";

const config = awsAlbRouterSchema.parse({ kind: "aws-alb", listenerArn: LISTENER_ARN, targetGroups: { blue: BLUE_TG, green: GREEN_TG } });

function albFixture(): RouterFixture {
  const elb = new FakeElb();
  const state = new MemoryDriverState();
  const routers: Router[] = [];
  const make = () => {
    const router = new AwsAlbRouter(config, { app: "shop", logger: silentLogger, clock: new InstantClock(), state });
    routers.push(router);
    return router;
  };
  let targets = 0;
  return {
    create: () => Promise.resolve(make()),
    fillSlot(_router, slot) {
      targets += 1;
      elb.register(slot === "blue" ? BLUE_TG : GREEN_TG, `i-0${targets}`);
      return Promise.resolve();
    },
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    async cleanup() {
      for (const router of routers) await router.close();
      elb.restore();
    },
  };
}

routerContract("aws-alb", albFixture);

describe("AwsAlbRouter", () => {
  let elb: FakeElb;
  let router: AwsAlbRouter;
  let events: RouterEvent[];

  beforeEach(() => {
    elb = new FakeElb();
    events = [];
  });
  afterEach(async () => {
    await router?.close();
    elb.restore();
  });

  function start(clock: Clock = new InstantClock()): AwsAlbRouter {
    router = new AwsAlbRouter(config, { app: "shop", logger: silentLogger, clock, state: new MemoryDriverState(), onEvent: (event) => events.push(event) });
    return router;
  }

  describe("switchTo", () => {
    it("reads the listener, checks the target group has targets, then sends one ModifyListener to the slot's target group", async () => {
      elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
      elb.register(GREEN_TG, "i-0green");
      await start().switchTo("green");
      expect(elb.calls()).toEqual([
        ["DescribeListeners", { ListenerArns: [LISTENER_ARN] }],
        ["DescribeTargetHealth", { TargetGroupArn: GREEN_TG }],
        ["ModifyListener", { ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: "forward", TargetGroupArn: GREEN_TG }] }],
      ]);
      expect(elb.defaultActions()).toEqual([{ Type: "forward", TargetGroupArn: GREEN_TG }]);
      expect(events).toMatchObject([{ type: "switched", from: "blue", to: "green" }]);
    });

    it("makes no change when the listener already forwards to the slot", async () => {
      elb.setDefaultActions([{ Type: "forward", TargetGroupArn: GREEN_TG }]);
      elb.register(GREEN_TG, "i-0green");
      await start().switchTo("green");
      expect(elb.calls()).toEqual([["DescribeListeners", { ListenerArns: [LISTENER_ARN] }]]);
      expect(events).toEqual([]);
    });

    it("refuses a slot whose target group has no registered targets, without touching the listener", async () => {
      elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
      const error = await start().switchTo("green").catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(EmptySlotError);
      expect((error as Error).message).toContain(`${GREEN_TG} (router.targetGroups.green) has no registered targets`);
      expect(elb.calls().map(([command]) => command)).not.toContain("ModifyListener");
      expect(await router.live()).toBe("blue");
    });

    it("replaces a weighted forward (a canary left half-way) with a plain forward", async () => {
      elb.setDefaultActions([{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: 80 }, { TargetGroupArn: GREEN_TG, Weight: 20 }] } }]);
      elb.register(GREEN_TG, "i-0green");
      await start().switchTo("green");
      expect(elb.defaultActions()).toEqual([{ Type: "forward", TargetGroupArn: GREEN_TG }]);
      expect(events).toMatchObject([{ type: "switched", from: undefined, to: "green" }]);
    });

    it("keeps an authentication action in front of the forward, asking AWS to keep the OIDC secret it never returns", async () => {
      const oidc = { Issuer: "https://id.example.com", AuthorizationEndpoint: "https://id.example.com/auth", TokenEndpoint: "https://id.example.com/token", UserInfoEndpoint: "https://id.example.com/me", ClientId: "shop" };
      elb.setDefaultActions([
        { Type: "authenticate-oidc", Order: 1, AuthenticateOidcConfig: oidc },
        { Type: "forward", Order: 2, TargetGroupArn: BLUE_TG },
      ]);
      elb.register(GREEN_TG, "i-0green");
      await start().switchTo("green");
      expect(elb.calls()[2]).toEqual([
        "ModifyListener",
        {
          ListenerArn: LISTENER_ARN,
          DefaultActions: [
            { Type: "authenticate-oidc", Order: 1, AuthenticateOidcConfig: { ...oidc, UseExistingClientSecret: true } },
            { Type: "forward", Order: 2, TargetGroupArn: GREEN_TG },
          ],
        },
      ]);
    });
  });

  describe("live", () => {
    it.each([
      ["nothing before the first switch", [FIXED_503], undefined],
      ["a plain forward", [{ Type: "forward" as const, TargetGroupArn: GREEN_TG }], "green"],
      ["a weighted forward with all the weight on one group", [{ Type: "forward" as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: 0 }, { TargetGroupArn: GREEN_TG, Weight: 1 }] } }], "green"],
      ["a weighted forward split between both groups", [{ Type: "forward" as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: 50 }, { TargetGroupArn: GREEN_TG, Weight: 50 }] } }], undefined],
      ["a forward to a group Flip does not know", [{ Type: "forward" as const, TargetGroupArn: BLUE_TG.replace("shop-blue", "other") }], undefined],
    ])("reads %s", async (_what, actions, expected) => {
      elb.setDefaultActions(actions);
      expect(await start().live()).toBe(expected);
    });
  });

  describe("verify", () => {
    it("waits, through the clock, until every target of the new group is healthy", async () => {
      elb.register(BLUE_TG, "i-0a", ["initial", "initial", "healthy"]);
      elb.register(BLUE_TG, "i-0b", ["initial", "healthy"]);
      const clock = new ManualClock();
      await start(clock).switchTo("blue");
      let settled = false;
      const verifying = router.verify("blue", 60_000).finally(() => (settled = true));
      await until(() => clock.pendingSleeps === 1);
      await clock.advance(5_000);
      await until(() => clock.pendingSleeps === 1);
      expect(settled).toBe(false);
      await clock.advance(5_000);
      await verifying;
      expect(elb.calls().filter(([command]) => command === "DescribeTargetHealth")).toHaveLength(1 + 3); // the switch's emptiness check + three polls
    });

    it("times out naming the targets that are not healthy and why", async () => {
      elb.register(GREEN_TG, "i-0good");
      elb.register(GREEN_TG, "i-0bad", ["initial", "unhealthy"], 8081);
      await start().switchTo("green");
      const error = await router.verify("green", 30_000).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).message).toBe(
        `After 30s, 1 of 2 targets in green's target group ${GREEN_TG} are still not healthy: i-0bad:8081 unhealthy (Target.FailedHealthChecks: Health checks failed).`,
      );
      expect((error as TimeoutError).hint).toContain(`aws elbv2 describe-target-health --target-group-arn ${GREEN_TG}`);
    });

    it("fails when the listener forwards elsewhere, even with healthy targets", async () => {
      elb.register(GREEN_TG, "i-0green");
      elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
      const error = await start().verify("green", 10_000).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).message).toBe(`After 10s, listener ${LISTENER_ARN} still does not forward to green's target group ${GREEN_TG}: forward to ${BLUE_TG}.`);
    });
  });

  describe("failures", () => {
    it("names the missing permission and the listener when AWS denies ModifyListener; traffic stays put", async () => {
      elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
      elb.register(GREEN_TG, "i-0green");
      elb.failNext("ModifyListener", awsError("AccessDenied", 403, "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: elasticloadbalancing:ModifyListener"));
      const error = await start().switchTo("green").catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RouterError);
      expect((error as RouterError).message).toMatch(new RegExp(`^AWS denied elasticloadbalancing:ModifyListener on ${escape(LISTENER_ARN)}: User: `));
      expect((error as RouterError).hint).toContain(`Allow elasticloadbalancing:ModifyListener on ${LISTENER_ARN}`);
      expect(await router.live()).toBe("blue");
      expect(events).toEqual([]);
    });

    it("names DescribeTargetHealth when that is the permission missing", async () => {
      elb.failNext("DescribeTargetHealth", awsError("AccessDenied", 403, "not authorized"));
      const error = await start().switchTo("green").catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toBe(`AWS denied elasticloadbalancing:DescribeTargetHealth on ${GREEN_TG}: not authorized`);
    });

    it("says which config key holds a listener ARN that does not exist, and what to do", async () => {
      elb.removeListener();
      const error = await start().live().catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RouterError);
      expect((error as RouterError).message).toBe(`Listener ${LISTENER_ARN} (router.listenerArn in flip.yaml) does not exist in eu-west-1.`);
      expect((error as RouterError).hint).toContain(`aws elbv2 describe-listeners --listener-arns ${LISTENER_ARN} --region eu-west-1`);
    });

    it("says which config key holds a target group that does not exist", async () => {
      const missing = GREEN_TG.replace("shop-green", "gone");
      router = new AwsAlbRouter(
        awsAlbRouterSchema.parse({ kind: "aws-alb", listenerArn: LISTENER_ARN, targetGroups: { blue: BLUE_TG, green: missing } }),
        { app: "shop", logger: silentLogger, clock: new InstantClock(), state: new MemoryDriverState() },
      );
      const error = await router.switchTo("green").catch((thrown: unknown) => thrown);
      expect((error as RouterError).message).toBe(`Target group ${missing} (router.targetGroups.green in flip.yaml) does not exist in eu-west-1.`);
    });
  });

  it("plans the exact ModifyListener without making it", async () => {
    elb.setDefaultActions([{ Type: "forward", TargetGroupArn: BLUE_TG }]);
    const plan = await start().planSwitch("green");
    expect(plan[0]).toBe(
      `elasticloadbalancing:ModifyListener ListenerArn=${LISTENER_ARN} DefaultActions=[{"Type":"forward","TargetGroupArn":"${GREEN_TG}"}] (now: forward to ${BLUE_TG})`,
    );
    expect(await router.planSwitch("blue")).toEqual([`listener ${LISTENER_ARN} already forwards to blue (${BLUE_TG}): no change`]);
    expect(elb.calls().map(([command]) => command)).toEqual(["DescribeListeners", "DescribeListeners"]);
  });

  it("takes the region from the listener ARN and reports weights as a capability", () => {
    expect(start().region).toBe("eu-west-1");
    expect(router.capabilities).toEqual({ weights: true, mirror: false, verify: true, traffic: false });
  });
});

describe("aws-alb config", () => {
  const parse = (extra: Record<string, unknown>) => awsAlbRouterSchema.safeParse({ kind: "aws-alb", listenerArn: LISTENER_ARN, targetGroups: { blue: BLUE_TG, green: GREEN_TG }, ...extra });
  const messages = (result: ReturnType<typeof parse>) => (result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));

  it("accepts the two ARNs, with a 5s poll interval by default", () => {
    expect(parse({}).data).toMatchObject({ pollInterval: 5_000 });
  });

  it("refuses a target group ARN where the listener belongs, the same group twice, and another region", () => {
    expect(messages(parse({ listenerArn: BLUE_TG }))[0]).toMatch(/^listenerArn: expected the ARN of an Application Load Balancer listener/);
    expect(messages(parse({ targetGroups: { blue: BLUE_TG, green: BLUE_TG } }))).toEqual(["targetGroups: blue and green need two different target groups: the switch moves traffic from one to the other"]);
    expect(messages(parse({ region: "us-east-1" }))).toEqual(["region: is us-east-1, but the listener ARN is in eu-west-1; leave region out to use the ARN's"]);
    expect(messages(parse({ targetGroups: { blue: BLUE_TG, green: GREEN_TG.replace("eu-west-1", "us-east-1") } }))).toEqual([
      "targetGroups.green: is in us-east-1, but the listener is in eu-west-1: a listener forwards only to target groups of its own region",
    ]);
    expect(messages(parse({ accessKeyId: "AKIA..." }))[0]).toMatch(/accessKeyId/);
  });
});

function awsError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode: status, attempts: 1 } });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error("condition never held");
}
