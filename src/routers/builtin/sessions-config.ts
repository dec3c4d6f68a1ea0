// `router.sessions`: version-aware sessions of the built-in proxy (src/proxy/affinity.ts).
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import type { SessionOptions } from "../../proxy/affinity.js";

/** RFC 6265 cookie-name: an HTTP token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const sessionsSchema = z
  .object({
    /** `cookie`: a client keeps the slot that served it after a switch, for `drain`. */
    affinity: z.enum(["none", "cookie"]).default("none"),
    /** How long after a switch a client with a session may still be sent to the old slot. */
    drain: durationOr("15m"),
    cookie: z.string().regex(COOKIE_NAME, "expected a cookie name: letters, digits and !#$%&'*+-.^_`|~").default("flip_slot"),
  })
  .strict();

export type SessionsConfig = z.output<typeof sessionsSchema>;

export function sessionOptions(config: SessionsConfig): SessionOptions {
  return { affinity: config.affinity, drainMs: config.drain, cookieName: config.cookie };
}
