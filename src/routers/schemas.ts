// Every router's config section, keyed by `kind`. Adding a router = one line here and one in registry.ts.
import { z } from "zod";
import { awsAlbRouterSchema } from "./aws-alb/config.js";
import { builtinRouterSchema } from "./builtin/config.js";
import { caddyRouterSchema } from "./caddy/config.js";
import { dnsRouterSchema } from "./dns/config.js";
import { haproxyRouterSchema } from "./haproxy/config.js";
import { kubernetesServiceRouterSchema } from "./kubernetes-service/config.js";
import { nginxRouterSchema } from "./nginx/config.js";
import { route53RouterSchema } from "./route53/config.js";

export const routerConfigSchema = z.discriminatedUnion("kind", [builtinRouterSchema, kubernetesServiceRouterSchema, awsAlbRouterSchema, route53RouterSchema, dnsRouterSchema, nginxRouterSchema, haproxyRouterSchema, caddyRouterSchema]);
export type RouterConfig = z.output<typeof routerConfigSchema>;

/**
 * What a router's own counters give the monitor, the rate gate and the charts when no
 * monitor.source is set: "timed" (requests, 5xx answers, latencies: the built-in proxy, an nginx or
 * Caddy access log), "counted" (no latencies: HAProxy's stats) or "none". It must agree with the
 * router's `traffic` / `readTraffic` (src/routers/schemas.test.ts holds them together).
 */
export function ownTraffic(router: RouterConfig): "timed" | "counted" | "none" {
  switch (router.kind) {
    case "builtin":
      return "timed";
    case "haproxy":
      return "counted";
    case "nginx":
    case "caddy":
      return router.accessLog === undefined ? "none" : "timed";
    default:
      return "none";
  }
}
