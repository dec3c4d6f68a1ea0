// `router: { kind: aws-alb }` — an AWS Application Load Balancer listener whose default action
// forwards to one of two target groups, one per slot. Credentials never appear here: the AWS SDK's
// default chain finds them.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

// arn:<partition>:elasticloadbalancing:<region>:<account>:<resource>
const ELB_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):(.+)$/;

/** The region and resource of an Elastic Load Balancing ARN, or undefined when it is not one. */
export function parseElbArn(arn: string): { region: string; account: string; resource: string } | undefined {
  const match = ELB_ARN.exec(arn);
  if (!match) return undefined;
  return { region: match[1] as string, account: match[2] as string, resource: match[3] as string };
}

const listenerArn = z.string().refine((arn) => parseElbArn(arn)?.resource.startsWith("listener/app/") === true, {
  message: "expected the ARN of an Application Load Balancer listener, e.g. arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2",
});

const targetGroupArn = z.string().refine((arn) => parseElbArn(arn)?.resource.startsWith("targetgroup/") === true, {
  message: "expected the ARN of a target group, e.g. arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067",
});

export const awsAlbRouterSchema = z
  .object({
    kind: z.literal("aws-alb"),
    /** The listener whose default action Flip points at a slot's target group. */
    listenerArn,
    /** One target group per slot; the platform (ECS, an Auto Scaling group, ...) registers the targets. */
    targetGroups: z.object({ blue: targetGroupArn, green: targetGroupArn }).strict(),
    /** Defaults to the listener ARN's region (the only one where the listener exists). */
    region: z.string().min(1).optional(),
    /** How often verify() asks for the target health while it waits. */
    pollInterval: durationOr("5s"),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.targetGroups.blue === config.targetGroups.green) {
      ctx.addIssue({ code: "custom", path: ["targetGroups"], message: "blue and green need two different target groups: the switch moves traffic from one to the other" });
    }
    const listenerRegion = parseElbArn(config.listenerArn)?.region;
    if (!listenerRegion) return;
    for (const slot of ["blue", "green"] as const) {
      const region = parseElbArn(config.targetGroups[slot])?.region;
      if (region && region !== listenerRegion) {
        ctx.addIssue({ code: "custom", path: ["targetGroups", slot], message: `is in ${region}, but the listener is in ${listenerRegion}: a listener forwards only to target groups of its own region` });
      }
    }
    if (config.region && config.region !== listenerRegion) {
      ctx.addIssue({ code: "custom", path: ["region"], message: `is ${config.region}, but the listener ARN is in ${listenerRegion}; leave region out to use the ARN's` });
    }
  });

export type AwsAlbRouterConfig = z.output<typeof awsAlbRouterSchema>;
