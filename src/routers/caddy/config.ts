// `router: { kind: caddy }` — a Caddy you run yourself, pointed at a slot through its admin API: Flip
// replaces the `upstreams` of one reverse_proxy handler, the one whose `"@id"` is `handlerId`. With
// `srv`, the handler takes its upstreams from an SRV record instead (Caddy's dynamic upstreams) and
// Flip switches that record with a signed DNS UPDATE: Caddy's config never changes, so no reload.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import { dnsName, serverAddress, tsigSchema } from "../dns/config.js";

/** A Caddy dial address: host:port (a name, IPv4, or [IPv6]), optionally with a network such as tcp/. */
const dialAddress = z
  .string()
  .trim()
  // Caddy takes any string here and fails only when it dials: the check is Flip's to make.
  .refine((text) => {
    const port = /^([a-z0-9]+\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(text)?.[3];
    return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
  }, 'expected a Caddy dial address host:port, e.g. "10.0.0.5:8080" or "app-blue.internal:8080"');

export const caddyRouterSchema = z
  .object({
    kind: z.literal("caddy"),
    /** Caddy's admin endpoint (`admin.listen` in Caddy's config; Caddy's default is localhost:2019). */
    adminUrl: z.url({ protocol: /^https?$/, error: "expected the admin API's URL, e.g. http://127.0.0.1:2019" }).default("http://127.0.0.1:2019"),
    /** The `"@id"` of the reverse_proxy handler whose upstreams Flip replaces; absent → the app's name. */
    handlerId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "expected the handler's @id: letters, digits, '_', '.', '-'")
      .optional(),
    /**
     * Each slot's dial addresses, fixed in flip.yaml. Absent → the addresses of the slot's replicas,
     * as the platform reports them (host:port of each).
     */
    slots: z.object({ blue: z.array(dialAddress).min(1), green: z.array(dialAddress).min(1) }).strict().optional(),
    /** A URL served through Caddy (through the handler): verify() asks it which slot answers. */
    probeUrl: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL served by Caddy, e.g. http://127.0.0.1:8080/health" }).optional(),
    /** The response header naming the slot that answered: the slot's name, or the upstream Caddy used ({http.reverse_proxy.upstream.hostport}). */
    slotHeader: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name, e.g. x-flip-slot")
      .default("x-flip-slot"),
    /** While verify() waits for the probe to see the new slot, how often it asks. */
    pollInterval: durationOr("100ms"),
    /** How long one admin API call or probe may take. */
    timeout: durationOr("10s"),
    /**
     * Caddy's JSON access log of the server (`"logs"` in the server, a file writer in `logging`);
     * relative to flip.yaml's folder. With it and no monitor.source, the monitor and the rate gate
     * count each slot's requests, 5xx answers and latencies from it (by the slotHeader of each answer).
     */
    accessLog: z.string().min(1).optional(),
    /** Zero-reload switching: the SRV record the handler's `dynamic_upstreams` reads, and where to update it. */
    srv: z
      .object({
        /** The DNS server that holds the record and takes RFC 2136 updates (its primary). */
        server: serverAddress,
        zone: dnsName,
        /** The SRV record's full name, as Caddy looks it up: `_<service>._<proto>.<name>`, e.g. _http._tcp.shop.example.com. */
        name: dnsName,
        /** The TTL written on the records; Caddy itself asks again every `refresh` of its handler. */
        ttl: durationOr("5s"),
        tsig: tsigSchema.optional(),
        /** How long one DNS message may take to be answered. */
        timeout: durationOr("5s"),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const srv = config.srv;
    if (srv && srv.name !== srv.zone && !srv.name.endsWith(`.${srv.zone}`)) {
      ctx.addIssue({ code: "custom", path: ["srv", "name"], message: `${srv.name} is not in zone ${srv.zone}` });
    }
    if (srv && (srv.ttl % 1000 !== 0 || srv.ttl > 2_147_483_647_000)) ctx.addIssue({ code: "custom", path: ["srv", "ttl"], message: "expected whole seconds, e.g. 5s" });
    if (config.slots && sameSet(config.slots.blue, config.slots.green)) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green list the same dial addresses, so Flip could not tell which slot is live" });
    }
  });

export type CaddyRouterConfig = z.output<typeof caddyRouterSchema>;

export function sameSet(left: readonly string[], right: readonly string[]): boolean {
  const [a, b] = [[...new Set(left)].sort(), [...new Set(right)].sort()];
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
