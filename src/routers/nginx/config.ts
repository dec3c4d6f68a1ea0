// `router: { kind: nginx }` — an nginx you run yourself, pointed at a slot through one file Flip
// owns: an upstream block included by your nginx.conf, rewritten on each switch, checked with
// `nginx -t` and applied with a graceful reload.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

/**
 * What goes after `server ` in an upstream block: an address and optional parameters, e.g.
 * "10.0.0.5:8080" or "app-blue.internal:8080 max_fails=3". No `;`, braces, `#` or line breaks, so
 * one entry can never close the block or add a directive of its own.
 */
const serverEntry = z
  .string()
  .trim()
  .min(1)
  .regex(/^[^;{}#\n\r]+$/, 'expected an nginx server address (and parameters), e.g. "127.0.0.1:3001" or "app-blue.internal:8080 max_fails=3"');

/** The upstream block, with `{servers}` (the slot's `server …;` lines), `{slot}`, `{upstream}` and `{app}` filled in. */
export const DEFAULT_TEMPLATE = "upstream {upstream} {\n{servers}\n}\n";

export const nginxRouterSchema = z
  .object({
    kind: z.literal("nginx"),
    /** The file Flip owns, included by nginx.conf in the `http` block; relative to flip.yaml's folder. */
    file: z.string().min(1),
    /** The upstream's name in the default template, i.e. what `proxy_pass http://<name>` uses; absent → the app's name. */
    upstream: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "expected an nginx upstream name: letters, digits, '_', '.', '-'")
      .optional(),
    /** What Flip writes into `file` (below a marker comment naming the live slot). */
    template: z.string().min(1).default(DEFAULT_TEMPLATE),
    /**
     * Each slot's servers, fixed in flip.yaml. Absent → the addresses of the slot's replicas, as
     * the platform reports them (host:port of each).
     */
    slots: z.object({ blue: z.array(serverEntry).min(1), green: z.array(serverEntry).min(1) }).strict().optional(),
    /** Checks the whole configuration with the new file in place; run by /bin/sh in flip.yaml's folder. */
    testCommand: z.string().min(1).default("nginx -t"),
    /** Applies it: a graceful reload (new workers take new connections, old ones finish theirs). */
    reloadCommand: z.string().min(1).default("nginx -s reload"),
    /** How long each of the two commands may run. */
    commandTimeout: durationOr("30s"),
    /** A URL served through nginx (and the file): live() and verify() ask it which slot answers. */
    probeUrl: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL served by nginx, e.g. http://127.0.0.1/health" }).optional(),
    /** The response header naming the slot that answered: the slot's name, or the upstream address nginx used ($upstream_addr). */
    slotHeader: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name, e.g. x-flip-slot")
      .default("x-flip-slot"),
    /** How often the probe asks while switchTo and verify wait. */
    pollInterval: durationOr("100ms"),
    /** After the reload command, how long switchTo waits for the probe to see the new slot. */
    reloadTimeout: durationOr("10s"),
    /**
     * An access log nginx writes in the `flip` format (see access-log.ts); relative to flip.yaml's
     * folder. With it, the monitor and the rate gate count each slot's requests, 5xx answers and
     * latencies from it when no monitor.source is set.
     */
    accessLog: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!config.template.includes("{servers}") && !config.template.includes("{slot}")) {
      ctx.addIssue({ code: "custom", path: ["template"], message: "needs {servers} or {slot}: otherwise the file would be the same for both slots" });
    }
    if (config.slots && JSON.stringify(config.slots.blue) === JSON.stringify(config.slots.green)) {
      ctx.addIssue({ code: "custom", path: ["slots"], message: "blue and green list the same servers, so a switch would change nothing" });
    }
  });

export type NginxRouterConfig = z.output<typeof nginxRouterSchema>;
