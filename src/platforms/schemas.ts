// Every platform's config section, keyed by `kind`. Adding a platform = one line here and one in registry.ts.
import { z } from "zod";
import { processPlatformSchema } from "./process/config.js";
import { commandPlatformSchema } from "./command/config.js";
import { staticPlatformSchema } from "./static/config.js";
import { kubernetesPlatformSchema } from "./kubernetes/config.js";

export const platformConfigSchema = z.discriminatedUnion("kind", [processPlatformSchema, commandPlatformSchema, staticPlatformSchema, kubernetesPlatformSchema]);
export type PlatformConfig = z.output<typeof platformConfigSchema>;
