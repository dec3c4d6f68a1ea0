// `router: { kind: haproxy }` — an HAProxy you run yourself, switched over its runtime API without a
// reload: one map entry names the backend that gets the traffic (`use_backend %[str(<key>),map(<map>)]`),
// one backend per slot, and Flip sets the entry to the slot's backend.
import { isAbsolute } from "node:path";
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import { parseRuntimeApiAddress } from "./runtime-api.js";

/** HAProxy's own rule for proxy names. */
const backendName = z.string().regex(/^[A-Za-z0-9_.:-]+$/, "expected an HAProxy backend name: letters, digits, '-', '_', '.', ':'");

export const haproxyRouterSchema = z
  .object({
    kind: z.literal("haproxy"),
    /** Where `stats socket … level admin` listens: a unix socket path, or host:port. */
    runtimeApi: z.string().refine((text) => parseRuntimeApiAddress(text) !== undefined, {
      message: "expected the address of HAProxy's `stats socket`: a socket path (/run/haproxy/admin.sock) or host:port (127.0.0.1:9999)",
    }),
    /** The map file exactly as haproxy.cfg names it: the runtime API knows a map by that path. */
    map: z.string().refine(isAbsolute, { message: "expected the absolute path haproxy.cfg loads the map from, e.g. /etc/haproxy/flip.map" }),
    /** The key whose value is the live backend; absent → the app's name. */
    key: z
      .string()
      .regex(/^\S+$/, "expected a map key without spaces")
      .optional(),
    /** The backend of each slot; absent → "<app>-blue" and "<app>-green". */
    backends: z.strictObject({ blue: backendName.optional(), green: backendName.optional() }).prefault({}),
    /** Also write the entry into the map file (temp file + rename), so a reload or restart of HAProxy keeps the live slot. */
    persistMap: z.boolean().default(true),
    /** How long one runtime API command may take. */
    timeout: durationOr("5s"),
    /** How often verify() reads the map and the backend's servers while it waits. */
    pollInterval: durationOr("100ms"),
  })
  .strict()
  .refine((config) => config.backends.blue === undefined || config.backends.blue !== config.backends.green, {
    path: ["backends"],
    message: "blue and green need two different backends: the switch moves traffic from one to the other",
  });

export type HaproxyRouterConfig = z.output<typeof haproxyRouterSchema>;
