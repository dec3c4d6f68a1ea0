// `router: { kind: route53 }` — one DNS record in a Route 53 hosted zone whose answer is either
// slot's: an alias to a load balancer (or any alias target) per slot, or plain values per slot.
// Both slots are always given, so a slot is never "empty" for this router.
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

const aliasTarget = z
  .object({
    /** The target's DNS name, e.g. the ALB's `dualstack.shop-blue-123.eu-west-1.elb.amazonaws.com`. */
    dnsName: z.string().min(1),
    /** The target's own hosted zone (for an ALB: its CanonicalHostedZoneId), not the record's zone. */
    hostedZoneId: z.string().regex(/^[A-Z0-9]+$/, "expected a hosted zone id such as Z32O12XQLNTSW2"),
    evaluateTargetHealth: z.boolean().default(false),
  })
  .strict();

const slotAnswer = z
  .object({
    alias: aliasTarget.optional(),
    /** One value or a list: IPv4 addresses for A, IPv6 for AAAA, one host name for CNAME. */
    value: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  })
  .strict()
  .superRefine((answer, ctx) => {
    if ((answer.alias === undefined) === (answer.value === undefined)) {
      ctx.addIssue({ code: "custom", message: 'needs exactly one of `alias: { dnsName: ..., hostedZoneId: ... }` or `value: "192.0.2.10"`' });
    }
  });

export const route53RouterSchema = z
  .object({
    kind: z.literal("route53"),
    /** The zone that holds the record; `/hostedzone/` in front (as the API writes it) is dropped. */
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?[A-Z0-9]+$/, "expected a hosted zone id such as Z1D633PJN98FT9")
      .transform((id) => id.replace(/^\/hostedzone\//, "")),
    /** The record Flip points at a slot, e.g. `shop.example.com`. */
    recordName: z
      .string()
      .min(1)
      .regex(/^[a-zA-Z0-9*_.-]+\.?$/, "expected a DNS name such as shop.example.com"),
    recordType: z.enum(["A", "AAAA", "CNAME"]).default("A"),
    slots: z.object({ blue: slotAnswer, green: slotAnswer }).strict(),
    /**
     * The TTL written on plain records, and how long verify() waits after the change is INSYNC for
     * resolvers to drop the old answer (alias records have no TTL of their own: 60s for an ELB).
     */
    ttl: durationOr("60s"),
    /** How often verify() asks GetChange while the change is PENDING. */
    pollInterval: durationOr("5s"),
    /** Route 53 is global; the region only picks the endpoint's partition. Default: AWS_REGION, else us-east-1. */
    region: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.ttl % 1000 !== 0 || config.ttl > 172_800_000) ctx.addIssue({ code: "custom", path: ["ttl"], message: "expected whole seconds up to 48h, e.g. 60s" });
    const { blue, green } = config.slots;
    if ((blue.alias === undefined) !== (green.alias === undefined)) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green must both be alias targets or both plain values: the switch rewrites one record" });
    }
    for (const slot of ["blue", "green"] as const) {
      const problem = valueProblem(config.recordType, config.slots[slot].value);
      if (problem) ctx.addIssue({ code: "custom", path: ["slots", slot, "value"], message: problem });
    }
    if (JSON.stringify(blue) === JSON.stringify(green)) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green give the same answer, so Flip could not tell which slot is live" });
    }
  });

function valueProblem(recordType: "A" | "AAAA" | "CNAME", value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const values = typeof value === "string" ? [value] : value;
  if (recordType === "CNAME") return values.length === 1 ? undefined : "a CNAME record has exactly one value";
  const valid = recordType === "A" ? isIPv4 : isIPv6;
  const bad = values.find((text) => !valid(text));
  return bad === undefined ? undefined : `"${bad}" is not an ${recordType === "A" ? "IPv4" : "IPv6"} address (recordType: ${recordType})`;
}

export type Route53RouterConfig = z.output<typeof route53RouterSchema>;
export type SlotAnswer = Route53RouterConfig["slots"]["blue"];
