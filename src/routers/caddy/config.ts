// `router: { kind: caddy }` — a Caddy you run yourself, pointed at a slot through its admin API: Flip
// replaces the `upstreams` of one reverse_proxy handler, the one whose `"@id"` is `handlerId`.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

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
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.slots && sameSet(config.slots.blue, config.slots.green)) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green list the same dial addresses, so Flip could not tell which slot is live" });
    }
  });

export type CaddyRouterConfig = z.output<typeof caddyRouterSchema>;

export function sameSet(left: readonly string[], right: readonly string[]): boolean {
  const [a, b] = [[...new Set(left)].sort(), [...new Set(right)].sort()];
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
