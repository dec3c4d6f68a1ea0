// Every router's config section, keyed by `kind`. Adding a router = one line here and one in registry.ts.
import { z } from "zod";
import { builtinRouterSchema } from "./builtin/config.js";

export const routerConfigSchema = z.discriminatedUnion("kind", [builtinRouterSchema]);
export type RouterConfig = z.output<typeof routerConfigSchema>;
