// `router.limits` of the builtin router: what its listeners accept from clients and how long they
// wait for them (src/proxy/limits.ts). Defaults are safe in front of the public internet.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import type { ProxyLimits } from "../../proxy/limits.js";

export const limitsSchema = z
  .strictObject({
    /** Request line plus headers, in bytes. */
    maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
    /** Header fields per request. */
    maxHeaders: z.number().int().min(8).max(10_000).default(100),
    headersTimeout: durationOr("10s").refine((ms) => ms > 0, { message: "expected more than 0ms" }),
    /** 0 turns the limit off. */
    requestTimeout: durationOr("5m"),
    /** 0 keeps idle keep-alive connections open for good. */
    idleTimeout: durationOr("60s"),
  })
  .refine((limits) => limits.requestTimeout === 0 || limits.headersTimeout <= limits.requestTimeout, {
    message: "headersTimeout must not be longer than requestTimeout (the headers are part of the request)",
    path: ["headersTimeout"],
  });

export type LimitsConfig = z.output<typeof limitsSchema>;

export function proxyLimits(config: LimitsConfig): ProxyLimits {
  return {
    maxHeaderBytes: config.maxHeaderBytes,
    maxHeaders: config.maxHeaders,
    headersTimeoutMs: config.headersTimeout,
    requestTimeoutMs: config.requestTimeout,
    idleTimeoutMs: config.idleTimeout,
  };
}
