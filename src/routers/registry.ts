// Maps `router.kind` to its driver. Adding a router = a folder + one line here + one in schemas.ts.
import type { FlipConfig } from "../config/schema.js";
import { BuiltinRouter } from "./builtin/builtin-router.js";
import type { Router, RouterContext } from "./router.js";
import type { RouterConfig } from "./schemas.js";

type Factories = {
  [K in RouterConfig["kind"]]: (section: Extract<RouterConfig, { kind: K }>, config: FlipConfig, context: RouterContext) => Router;
};

const factories: Factories = {
  builtin: (section, _config, context) => new BuiltinRouter(section, context),
};

export function createRouter(config: FlipConfig, context: RouterContext): Router {
  const section = config.router;
  const create = factories[section.kind] as (section: RouterConfig, config: FlipConfig, context: RouterContext) => Router;
  return create(section, config, context);
}
