// Every platform's config section, keyed by `kind`. Adding a platform = one line here and one in registry.ts.
import { z } from "zod";
import { processPlatformSchema } from "./process/config.js";

export const platformConfigSchema = z.discriminatedUnion("kind", [processPlatformSchema]);
export type PlatformConfig = z.output<typeof platformConfigSchema>;
