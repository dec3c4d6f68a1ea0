// `router: { kind: dns }` — one record in a zone on a DNS server that accepts dynamic updates
// (RFC 2136: BIND, Knot, PowerDNS, many providers), switched between the two slots' answers by a
// TSIG-signed UPDATE. Both answers are in flip.yaml, so a slot is never "empty" for this router.
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import { TSIG_ALGORITHMS, type TsigAlgorithm } from "./tsig.js";

export const dnsName = z
  .string()
  .min(1)
  .regex(/^[a-zA-Z0-9*_.-]+\.?$/, "expected a DNS name such as shop.example.com")
  .transform((name) => name.replace(/\.$/, "").toLowerCase());

const slotAnswer = z
  .object({
    /** One value or a list: IPv4 addresses for A, IPv6 for AAAA, one host name for CNAME. */
    value: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  })
  .strict();

export const tsigSchema = z
  .object({
    /** The key's name, as in named.conf's `key "flip-key" { ... }`. */
    name: dnsName,
    algorithm: z.enum(Object.keys(TSIG_ALGORITHMS) as [TsigAlgorithm, ...TsigAlgorithm[]]).default("hmac-sha256"),
    /** The shared secret in base64, as in named.conf (usually "${FLIP_TSIG_SECRET}", read from the environment). */
    secret: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, "expected the key's secret in base64, as in named.conf (e.g. from `tsig-keygen flip-key`)"),
  })
  .strict();

/** host, host:port, [v6]:port; the port defaults to 53. */
export const serverAddress = z
  .string()
  .trim()
  .min(1)
  .transform((text, ctx) => {
    const parsed = parseServer(text);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: 'expected the DNS server as host or host:port, e.g. "ns1.example.com" or "127.0.0.1:5353"' });
      return z.NEVER;
    }
    return parsed;
  });

export const dnsRouterSchema = z
  .object({
    kind: z.literal("dns"),
    /** The server Flip sends the UPDATE to and asks for the record: the zone's primary. */
    server: serverAddress,
    /** The zone that holds the record, e.g. example.com (the UPDATE's zone section). */
    zone: dnsName,
    /** The record Flip points at a slot, e.g. shop.example.com. */
    recordName: dnsName,
    recordType: z.enum(["A", "AAAA", "CNAME"]).default("A"),
    slots: z.object({ blue: slotAnswer, green: slotAnswer }).strict(),
    /** The TTL written on the record, and how long verify() waits after the server answers the new value. */
    ttl: durationOr("60s"),
    /** The key the UPDATE is signed with. Absent: unsigned (only for servers that allow updates by address). */
    tsig: tsigSchema.optional(),
    /** While verify() waits for the server to answer the new value, how often it asks. */
    pollInterval: durationOr("1s"),
    /** How long one DNS message may take to be answered. */
    timeout: durationOr("5s"),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.ttl % 1000 !== 0 || config.ttl > 2_147_483_647_000) ctx.addIssue({ code: "custom", path: ["ttl"], message: "expected whole seconds, e.g. 60s" });
    if (config.recordName !== config.zone && !config.recordName.endsWith(`.${config.zone}`)) {
      ctx.addIssue({ code: "custom", path: ["recordName"], message: `${config.recordName} is not in zone ${config.zone}` });
    }
    for (const slot of ["blue", "green"] as const) {
      const problem = valueProblem(config.recordType, valuesOf(config.slots[slot]));
      if (problem) ctx.addIssue({ code: "custom", path: ["slots", slot, "value"], message: problem });
    }
    if (sameAnswer(config.recordType, valuesOf(config.slots.blue), valuesOf(config.slots.green))) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green give the same answer, so Flip could not tell which slot is live" });
    }
  });

export type DnsRouterConfig = z.output<typeof dnsRouterSchema>;
export type DnsRecordType = DnsRouterConfig["recordType"];

export function valuesOf(answer: { value: string | string[] }): string[] {
  return typeof answer.value === "string" ? [answer.value] : answer.value;
}

/** One spelling per value: IPv6 compressed and lowercase, host names lowercase without the final dot. */
export function normalizeValue(recordType: DnsRecordType, value: string): string {
  if (recordType === "AAAA" && isIPv6(value)) return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  return value.toLowerCase().replace(/\.$/, "");
}

/** Whether two answers are the same set of values. */
export function sameAnswer(recordType: DnsRecordType, left: readonly string[], right: readonly string[]): boolean {
  const normalize = (values: readonly string[]) => [...new Set(values.map((value) => normalizeValue(recordType, value)))].sort();
  const [a, b] = [normalize(left), normalize(right)];
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function valueProblem(recordType: DnsRecordType, values: string[]): string | undefined {
  if (recordType === "CNAME") {
    if (values.length !== 1) return "a CNAME record has exactly one value";
    return /^[a-zA-Z0-9_.-]+\.?$/.test(values[0] as string) ? undefined : `"${values[0]}" is not a host name (recordType: CNAME)`;
  }
  const valid = recordType === "A" ? isIPv4 : isIPv6;
  const bad = values.find((text) => !valid(text));
  return bad === undefined ? undefined : `"${bad}" is not an ${recordType === "A" ? "IPv4" : "IPv6"} address (recordType: ${recordType})`;
}

export function parseServer(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(text) ?? /^([0-9a-fA-F:]+)$/.exec(text);
  if (!match) return undefined;
  const host = (match[1] ?? match[2]) as string;
  const port = match[3] === undefined ? 53 : Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}
