// A small stateful stand-in for the Elastic Load Balancing API behind aws-sdk-client-mock: listeners
// with default actions, target groups with targets whose health follows a script. It keeps state
// across router instances (a restarted controller sees what the previous one changed) and behaves
// like AWS where Flip depends on it: targets of a group no listener forwards to are "unused".
import {
  DescribeListenersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ListenerNotFoundException,
  ModifyListenerCommand,
  TargetGroupNotFoundException,
  type Action,
  type DescribeListenersCommandInput,
  type DescribeListenersCommandOutput,
  type DescribeTargetHealthCommandInput,
  type DescribeTargetHealthCommandOutput,
  type ModifyListenerCommandInput,
  type ModifyListenerCommandOutput,
  type TargetHealthDescription,
  type TargetHealthReasonEnum,
  type TargetHealthStateEnum,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";

export const LISTENER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";
export const BLUE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067";
export const GREEN_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-green/2453ed029918f21f";

/** What a fresh listener does before Flip touches it. */
export const FIXED_503: Action = { Type: "fixed-response", FixedResponseConfig: { StatusCode: "503", ContentType: "text/plain", MessageBody: "no slot yet" } };

const REASONS: Partial<Record<TargetHealthStateEnum, { Reason: TargetHealthReasonEnum; Description: string }>> = {
  initial: { Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress" },
  unhealthy: { Reason: "Target.FailedHealthChecks", Description: "Health checks failed" },
  unused: { Reason: "Target.NotInUse", Description: "Target group is not configured to receive traffic from the load balancer" },
};

interface FakeTarget {
  id: string;
  port: number;
  /** States reported once the group gets traffic, one per DescribeTargetHealth; the last repeats. */
  script: TargetHealthStateEnum[];
}

type CommandName = "DescribeListeners" | "ModifyListener" | "DescribeTargetHealth";

const meta = { $metadata: { httpStatusCode: 200, attempts: 1 } };

export class FakeElb {
  readonly mock: AwsClientStub<ElasticLoadBalancingV2Client>;
  private readonly listeners = new Map<string, Action[]>();
  private readonly groups = new Map<string, FakeTarget[]>();
  private readonly failures: { command: CommandName; error: Error }[] = [];

  constructor() {
    this.mock = mockClient(ElasticLoadBalancingV2Client);
    this.mock.on(DescribeListenersCommand).callsFake((input: DescribeListenersCommandInput) => this.describeListeners(input));
    this.mock.on(ModifyListenerCommand).callsFake((input: ModifyListenerCommandInput) => this.modifyListener(input));
    this.mock.on(DescribeTargetHealthCommand).callsFake((input: DescribeTargetHealthCommandInput) => this.describeTargetHealth(input));
    this.listeners.set(LISTENER_ARN, [FIXED_503]);
    this.groups.set(BLUE_TG, []);
    this.groups.set(GREEN_TG, []);
  }

  /** Puts the mock's `send` back; call in afterEach. */
  restore(): void {
    this.mock.restore();
  }

  setDefaultActions(actions: Action[], listenerArn = LISTENER_ARN): void {
    this.listeners.set(listenerArn, actions);
  }

  defaultActions(listenerArn = LISTENER_ARN): Action[] | undefined {
    return this.listeners.get(listenerArn);
  }

  removeListener(listenerArn = LISTENER_ARN): void {
    this.listeners.delete(listenerArn);
  }

  register(targetGroupArn: string, id: string, script: TargetHealthStateEnum[] = ["healthy"], port = 8080): void {
    this.groups.get(targetGroupArn)?.push({ id, port, script: [...script] });
  }

  /** The next call of `command` fails with `error` (after the SDK's retries, as the router sees it). */
  failNext(command: CommandName, error: Error): void {
    this.failures.push({ command, error });
  }

  /** Every call the router made, in order, as [command, input]. */
  calls(): [string, unknown][] {
    return this.mock.calls().map((call) => [call.args[0].constructor.name.replace(/Command$/, ""), call.args[0].input]);
  }

  private failure(command: CommandName): Error | undefined {
    const index = this.failures.findIndex((failure) => failure.command === command);
    return index < 0 ? undefined : this.failures.splice(index, 1)[0]?.error;
  }

  private describeListeners(input: DescribeListenersCommandInput): DescribeListenersCommandOutput {
    const failure = this.failure("DescribeListeners");
    if (failure) throw failure;
    const arns = input.ListenerArns ?? [];
    if (arns.some((arn) => !this.listeners.has(arn))) throw new ListenerNotFoundException({ message: "One or more listeners not found", $metadata: { httpStatusCode: 400 } });
    return { ...meta, Listeners: arns.map((arn) => ({ ListenerArn: arn, Port: 443, Protocol: "HTTPS", DefaultActions: structuredClone(this.listeners.get(arn)) })) };
  }

  private modifyListener(input: ModifyListenerCommandInput): ModifyListenerCommandOutput {
    const failure = this.failure("ModifyListener");
    if (failure) throw failure;
    const arn = input.ListenerArn ?? "";
    if (!this.listeners.has(arn)) throw new ListenerNotFoundException({ message: "One or more listeners not found", $metadata: { httpStatusCode: 400 } });
    const actions = structuredClone(input.DefaultActions ?? []);
    for (const action of actions) {
      if (action.TargetGroupArn && !this.groups.has(action.TargetGroupArn)) {
        throw new TargetGroupNotFoundException({ message: "One or more target groups not found", $metadata: { httpStatusCode: 400 } });
      }
    }
    this.listeners.set(arn, actions);
    return { ...meta, Listeners: [{ ListenerArn: arn, DefaultActions: structuredClone(actions) }] };
  }

  private describeTargetHealth(input: DescribeTargetHealthCommandInput): DescribeTargetHealthCommandOutput {
    const failure = this.failure("DescribeTargetHealth");
    if (failure) throw failure;
    const arn = input.TargetGroupArn ?? "";
    const targets = this.groups.get(arn);
    if (!targets) throw new TargetGroupNotFoundException({ message: "One or more target groups not found", $metadata: { httpStatusCode: 400 } });
    const inUse = [...this.listeners.values()].some((actions) => actions.some((action) => action.TargetGroupArn === arn || action.ForwardConfig?.TargetGroups?.some((group) => group.TargetGroupArn === arn)));
    const descriptions: TargetHealthDescription[] = targets.map((target) => {
      const state: TargetHealthStateEnum = inUse ? ((target.script.length > 1 ? target.script.shift() : target.script[0]) ?? "healthy") : "unused";
      return { Target: { Id: target.id, Port: target.port }, HealthCheckPort: String(target.port), TargetHealth: { State: state, ...REASONS[state] } };
    });
    return { ...meta, TargetHealthDescriptions: descriptions };
  }
}
