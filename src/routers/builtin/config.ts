// `router: { kind: builtin }` — Flip's own reverse proxy, the embedded default.
import { z } from "zod";
import { durationOr, listenAddress } from "../../config/fields.js";
import { healthSchema } from "./health-config.js";
import { limitsSchema } from "./limits-config.js";
import { sessionsSchema } from "./sessions-config.js";

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
    /** After a switch, how long WebSocket and server-sent-event connections to the old slot stay up. */
    longLivedGrace: durationOr("30s"),
    /** Version-aware sessions (see sessions-config.ts). */
    sessions: sessionsSchema.prefault({}),
    /** Active health checks and passive ejection of replicas (see health-config.ts). */
    health: healthSchema.prefault({}),
    /** Header size and count, request and idle timeouts of the listeners (see limits-config.ts). */
    limits: limitsSchema.prefault({}),
    /** Processes serving the listeners: 1 serves them in the controller itself, N > 1 in N node:cluster workers. */
    workers: z.number().int().min(1).max(64).default(1),
  })
  .strict();

export type BuiltinRouterConfig = z.output<typeof builtinRouterSchema>;
