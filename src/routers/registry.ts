// Maps `router.kind` to its driver. Adding a router = a folder + one line here + one in schemas.ts.
import type { FlipConfig } from "../config/schema.js";
import { AwsAlbRouter } from "./aws-alb/aws-alb-router.js";
import { BuiltinRouter } from "./builtin/builtin-router.js";
import { CaddyRouter } from "./caddy/caddy-router.js";
import { DnsRouter } from "./dns/dns-router.js";
import { HaproxyRouter } from "./haproxy/haproxy-router.js";
import { createKubernetesServiceRouter } from "./kubernetes-service/kubernetes-service-router.js";
import { NginxRouter } from "./nginx/nginx-router.js";
import { Route53Router } from "./route53/route53-router.js";
import type { Router, RouterContext } from "./router.js";
import type { RouterConfig } from "./schemas.js";

type Factories = {
  [K in RouterConfig["kind"]]: (section: Extract<RouterConfig, { kind: K }>, config: FlipConfig, context: RouterContext) => Router;
};

const factories: Factories = {
  builtin: (section, config, context) => new BuiltinRouter(section, context, { checkPath: firstHttpCheckPath(config) }),
  "kubernetes-service": (section, config, context) => createKubernetesServiceRouter(section, config, context),
  "aws-alb": (section, _config, context) => new AwsAlbRouter(section, context),
  route53: (section, _config, context) => new Route53Router(section, context),
  dns: (section, _config, context) => new DnsRouter(section, context),
  nginx: (section, config, context) => new NginxRouter(section, context, { configDir: config.dir }),
  haproxy: (section, _config, context) => new HaproxyRouter(section, context),
  caddy: (section, config, context) => new CaddyRouter(section, context, { configDir: config.dir }),
};

export function createRouter(config: FlipConfig, context: RouterContext): Router {
  const section = config.router;
  const create = factories[section.kind] as (section: RouterConfig, config: FlipConfig, context: RouterContext) => Router;
  return create(section, config, context);
}

/** The builtin router's health checks default to the first http check, like the process platform's readiness. */
function firstHttpCheckPath(config: FlipConfig): string | undefined {
  return config.checks.find((check) => check.http)?.http?.path;
}
