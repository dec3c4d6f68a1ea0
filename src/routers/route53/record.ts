// Pure decisions about the one record the route53 router manages: the record set a slot wants,
// which slot a record set Route 53 returned answers for, and how to say either in a message.
import type { ResourceRecordSet } from "@aws-sdk/client-route-53";
import { SLOTS, type Slot } from "../../core/slots.js";
import type { Route53RouterConfig, SlotAnswer } from "./config.js";

/** Route 53 returns names lowercased, with a final dot, and a leading "*" as "\052". */
export function normalizeName(name: string): string {
  return name.replace(/\\052/g, "*").replace(/\.$/, "").toLowerCase();
}

/** ELB alias targets read back with a "dualstack." prefix the console adds; it is the same target. */
function normalizeHost(host: string): string {
  return normalizeName(host).replace(/^dualstack\./, "");
}

export function valuesOf(answer: SlotAnswer): string[] {
  if (answer.value === undefined) return [];
  return typeof answer.value === "string" ? [answer.value] : answer.value;
}

/** The record set switchTo(slot) writes with one UPSERT. */
export function desiredRecordSet(config: Route53RouterConfig, slot: Slot): ResourceRecordSet {
  const answer = config.slots[slot];
  const base = { Name: config.recordName, Type: config.recordType };
  if (answer.alias) {
    return { ...base, AliasTarget: { DNSName: answer.alias.dnsName, HostedZoneId: answer.alias.hostedZoneId, EvaluateTargetHealth: answer.alias.evaluateTargetHealth } };
  }
  return { ...base, TTL: config.ttl / 1000, ResourceRecords: valuesOf(answer).map((value) => ({ Value: value })) };
}

/** ListResourceRecordSets starts *at* a name, so the set it returns may be the next one in the zone. */
export function isTheRecord(set: ResourceRecordSet, config: Route53RouterConfig): boolean {
  return set.Type === config.recordType && normalizeName(set.Name ?? "") === normalizeName(config.recordName);
}

function answers(set: ResourceRecordSet, answer: SlotAnswer, recordType: string): boolean {
  if (answer.alias) return set.AliasTarget?.DNSName !== undefined && normalizeHost(set.AliasTarget.DNSName) === normalizeHost(answer.alias.dnsName);
  if (set.AliasTarget) return false;
  const normalize = recordType === "CNAME" ? normalizeName : (value: string) => value.toLowerCase();
  const actual = (set.ResourceRecords ?? []).map((record) => normalize(record.Value ?? "")).sort();
  const wanted = valuesOf(answer).map(normalize).sort();
  return actual.length === wanted.length && actual.every((value, index) => value === wanted[index]);
}

/**
 * The slot whose answer the record gives, or undefined: no record yet, another answer, or a record
 * with a routing policy (weighted, latency...) where no single answer gets all the traffic.
 */
export function slotOfRecord(set: ResourceRecordSet | undefined, config: Route53RouterConfig): Slot | undefined {
  if (!set || set.SetIdentifier !== undefined) return undefined;
  return SLOTS.find((slot) => answers(set, config.slots[slot], config.recordType));
}

/** "alias to shop-blue-1.eu-west-1.elb.amazonaws.com", "192.0.2.10 (TTL 60s)", "no record". */
export function describeRecordSet(set: ResourceRecordSet | undefined): string {
  if (!set) return "no record";
  const policy = set.SetIdentifier !== undefined ? ` (routing policy, set "${set.SetIdentifier}")` : "";
  if (set.AliasTarget) return `alias to ${set.AliasTarget.DNSName ?? "?"}${policy}`;
  return `${(set.ResourceRecords ?? []).map((record) => record.Value ?? "?").join(", ")} (TTL ${set.TTL ?? "?"}s)${policy}`;
}

/** The short id people type: "C2682N5HXP0BZ4" for "/change/C2682N5HXP0BZ4". */
export function shortChangeId(id: string): string {
  return id.replace(/^\/change\//, "");
}
