// `router: { kind: aws-alb }`: traffic is wherever an Application Load Balancer listener's default
// action forwards — one target group per slot, switched with one ModifyListener (the
// `aws elbv2 modify-listener` of every blue-green guide). AWS is the source of truth: live() asks
// DescribeListeners every time, so nothing needs persisting and a restart changes nothing.
import type * as ElbSdk from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Action, ElasticLoadBalancingV2Client, ElasticLoadBalancingV2ClientConfig, Listener, TargetHealthDescription } from "@aws-sdk/client-elastic-load-balancing-v2";
import { formatDuration } from "../../core/duration.js";
import { describeError, EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import { AWS_MAX_ATTEMPTS, quietSdkNodeVersionWarning } from "../aws-common/client.js";
import { callAws } from "../aws-common/errors.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import { parseElbArn, type AwsAlbRouterConfig } from "./config.js";
import { countsAsRegistered, describeDefaultActions, describeTarget, forwardedTargetGroup, forwardOnlyTo, unhealthyTargets } from "./listener.js";

type Sdk = typeof ElbSdk;
let sdkModule: Promise<Sdk> | undefined;
/** Loaded on first use: most flip commands never talk to AWS and should not pay for the SDK. */
function loadSdk(): Promise<Sdk> {
  quietSdkNodeVersionWarning();
  return (sdkModule ??= import("@aws-sdk/client-elastic-load-balancing-v2"));
}

/** Knobs that are not in flip.yaml (tests: a request handler, a retry strategy without delays). */
export interface AwsAlbRouterTuning {
  clientConfig?: ElasticLoadBalancingV2ClientConfig;
}

interface NotConverged {
  problem: string;
  hint: string;
}

export class AwsAlbRouter implements Router {
  readonly kind = "aws-alb";
  /** Weighted forwarding is possible on an ALB (a canary uses it); switchTo never splits. */
  readonly capabilities: RouterCapabilities = { weights: true, mirror: false, verify: true, traffic: false };
  readonly region: string;
  private connection: Promise<{ sdk: Sdk; client: ElasticLoadBalancingV2Client }> | undefined;

  constructor(
    private readonly config: AwsAlbRouterConfig,
    private readonly context: RouterContext,
    private readonly tuning: AwsAlbRouterTuning = {},
  ) {
    // The schema accepts only listener ARNs, so the fallback never applies; it keeps the type honest.
    this.region = config.region ?? parseElbArn(config.listenerArn)?.region ?? "us-east-1";
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * A no-op: the platform (ECS, an Auto Scaling group, a deploy script) registers the slot's
   * targets in its target group; Flip only chooses which group the listener forwards to.
   */
  setTargets(_slot: Slot, _endpoints: Endpoint[]): Promise<void> {
    return Promise.resolve();
  }

  async live(): Promise<Slot | undefined> {
    return this.slotOf(forwardedTargetGroup((await this.describeListener()).DefaultActions ?? []));
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const targetGroupArn = this.config.targetGroups[slot];
    let current: Action[];
    try {
      current = (await this.describeListener()).DefaultActions ?? [];
    } catch (error) {
      return [
        `elasticloadbalancing:ModifyListener ${this.config.listenerArn}: default action forward to ${targetGroupArn} (${slot})`,
        `(could not read the listener to compare: ${describeError(error)})`,
      ];
    }
    if (this.slotOf(forwardedTargetGroup(current)) === slot) return [`listener ${this.config.listenerArn} already forwards to ${slot} (${targetGroupArn}): no change`];
    return [
      `elasticloadbalancing:ModifyListener ListenerArn=${this.config.listenerArn} DefaultActions=${JSON.stringify(forwardOnlyTo(current, targetGroupArn))} (now: ${describeDefaultActions(current)})`,
      `then elasticloadbalancing:DescribeTargetHealth on ${targetGroupArn} every ${formatDuration(this.config.pollInterval)} until every target is healthy`,
    ];
  }

  async switchTo(slot: Slot): Promise<void> {
    const actions = (await this.describeListener()).DefaultActions ?? [];
    const from = this.slotOf(forwardedTargetGroup(actions));
    const targetGroupArn = this.config.targetGroups[slot];
    if (from === slot) {
      this.context.logger.debug({ slot, targetGroupArn }, "switch skipped: the listener already forwards to this slot's target group");
      return;
    }
    if (countsAsRegistered(await this.targetHealth(slot)) === 0) {
      throw new EmptySlotError(slot, `its target group ${targetGroupArn} (router.targetGroups.${slot}) has no registered targets`);
    }
    await this.modifyListener(forwardOnlyTo(actions, targetGroupArn));
    this.context.logger.info({ from, to: slot, listenerArn: this.config.listenerArn, targetGroupArn }, "traffic switched: the listener forwards to the new target group");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /** Polls until the listener forwards to the slot's target group and every target in it is healthy. */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const clock = this.context.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const notConverged = await this.notConvergedOn(slot);
      if (!notConverged) return;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) throw new TimeoutError(`After ${formatDuration(timeoutMs)}, ${notConverged.problem}.`, notConverged.hint);
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) (await connection).client.destroy();
  }

  // ---- decisions ---------------------------------------------------------------------------

  private slotOf(targetGroupArn: string | undefined): Slot | undefined {
    const slot = SLOTS.find((candidate) => this.config.targetGroups[candidate] === targetGroupArn);
    if (targetGroupArn && !slot) this.context.logger.warn({ targetGroupArn }, "the listener forwards to a target group that is neither router.targetGroups.blue nor .green");
    return slot;
  }

  /** Why the data plane is not on `slot` yet, or undefined when it is. */
  private async notConvergedOn(slot: Slot): Promise<NotConverged | undefined> {
    const { listenerArn } = this.config;
    const targetGroupArn = this.config.targetGroups[slot];
    const actions = (await this.describeListener()).DefaultActions ?? [];
    if (forwardedTargetGroup(actions) !== targetGroupArn) {
      return {
        problem: `listener ${listenerArn} still does not forward to ${slot}'s target group ${targetGroupArn}: ${describeDefaultActions(actions)}`,
        hint: `Something other than this deployment changed the listener, or the switch did not happen; \`flip status\` shows what Flip sees, \`flip switch ${slot}\` points it again.`,
      };
    }
    const targets = await this.targetHealth(slot);
    const registered = countsAsRegistered(targets);
    const unhealthy = unhealthyTargets(targets);
    if (registered > 0 && unhealthy.length === 0) return undefined;
    const problem =
      registered === 0
        ? `${slot}'s target group ${targetGroupArn} has no registered targets`
        : `${unhealthy.length} of ${registered} targets in ${slot}'s target group ${targetGroupArn} are still not healthy: ${unhealthy.map(describeTarget).join(", ")}`;
    return {
      problem,
      hint: `\`aws elbv2 describe-target-health --target-group-arn ${targetGroupArn}\` shows the same. Fix the target group's health check (path, port, security group), or raise verifyTimeout if targets need longer to pass it.`,
    };
  }

  // ---- AWS calls ---------------------------------------------------------------------------

  private connect(): Promise<{ sdk: Sdk; client: ElasticLoadBalancingV2Client }> {
    this.connection ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.ElasticLoadBalancingV2Client({ region: this.region, maxAttempts: AWS_MAX_ATTEMPTS, ...this.tuning.clientConfig }),
    }));
    return this.connection;
  }

  private async describeListener(): Promise<Listener> {
    const { sdk, client } = await this.connect();
    const { listenerArn } = this.config;
    const output = await callAws(
      { action: "elasticloadbalancing:DescribeListeners", resource: listenerArn, router: this.kind },
      () => client.send(new sdk.DescribeListenersCommand({ ListenerArns: [listenerArn] })),
      (name) => (name === "ListenerNotFoundException" || name === "ListenerNotFound" ? this.listenerNotFound() : undefined),
    );
    const listener = output.Listeners?.find((candidate) => candidate.ListenerArn === listenerArn) ?? output.Listeners?.[0];
    if (!listener) throw this.listenerNotFound();
    return listener;
  }

  private async modifyListener(defaultActions: Action[]): Promise<void> {
    const { sdk, client } = await this.connect();
    const { listenerArn } = this.config;
    await callAws(
      { action: "elasticloadbalancing:ModifyListener", resource: listenerArn, router: this.kind },
      () => client.send(new sdk.ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: defaultActions })),
      (name) => (name === "ListenerNotFoundException" || name === "ListenerNotFound" ? this.listenerNotFound() : undefined),
    );
  }

  private async targetHealth(slot: Slot): Promise<TargetHealthDescription[]> {
    const { sdk, client } = await this.connect();
    const targetGroupArn = this.config.targetGroups[slot];
    const output = await callAws(
      { action: "elasticloadbalancing:DescribeTargetHealth", resource: targetGroupArn, router: this.kind },
      () => client.send(new sdk.DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
      (name) =>
        name === "TargetGroupNotFoundException" || name === "TargetGroupNotFound"
          ? new RouterError(
              `Target group ${targetGroupArn} (router.targetGroups.${slot} in flip.yaml) does not exist in ${this.region}.`,
              `Check it with \`aws elbv2 describe-target-groups --target-group-arns ${targetGroupArn} --region ${this.region}\` and put the right ARN in router.targetGroups.${slot}.`,
            )
          : undefined,
    );
    return output.TargetHealthDescriptions ?? [];
  }

  private listenerNotFound(): RouterError {
    const { listenerArn } = this.config;
    return new RouterError(
      `Listener ${listenerArn} (router.listenerArn in flip.yaml) does not exist in ${this.region}.`,
      `Check it with \`aws elbv2 describe-listeners --listener-arns ${listenerArn} --region ${this.region}\`; a re-created load balancer or listener has a new ARN: put that one in router.listenerArn.`,
    );
  }
}
