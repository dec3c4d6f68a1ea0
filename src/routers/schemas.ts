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
