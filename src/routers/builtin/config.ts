// `router: { kind: builtin }` — Flip's own reverse proxy, the embedded default.
import { z } from "zod";
import { durationOr, listenAddress } from "../../config/fields.js";

export const builtinRouterSchema = z
  .object({
    kind: z.literal("builtin"),
    listen: listenAddress.default("127.0.0.1:8080"),
    /** Serves the idle slot only, for people and smoke tests before the switch. */
    preview: listenAddress.optional(),
    /** How long requests in flight on the old slot may take to finish after a switch. */
    drainTimeout: durationOr("30s"),
    /** Upstream connect / response-headers timeouts. */
    connectTimeout: durationOr("5s"),
    upstreamTimeout: durationOr("60s"),
  })
  .strict();

export type BuiltinRouterConfig = z.output<typeof builtinRouterSchema>;
