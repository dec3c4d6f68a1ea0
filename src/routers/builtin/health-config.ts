// `router.health` of the builtin router: active health checks of every replica of both slots, and
// passive ejection of a replica that requests cannot reach. Turned into the proxy's options here.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import type { ReplicaHealthOptions } from "../../proxy/replica-health.js";

const count = (defaultValue: number, min: number) => z.number().int().min(min).max(1000).default(defaultValue);

export const healthSchema = z.strictObject({
  /** false: no active checks (passive ejection still applies). */
  enabled: z.boolean().default(true),
  /** Absent: the first http check's path; with no http check either, no active checks. */
  path: z.string().startsWith("/").optional(),
  // Probes closer together than this would be load, not insight.
  interval: durationOr("5s").refine((ms) => ms >= 100, { message: "expected at least 100ms" }),
  timeout: durationOr("2s").refine((ms) => ms > 0, { message: "expected more than 0ms" }),
  unhealthyAfter: count(2, 1),
  healthyAfter: count(1, 1),
  passive: z
    .strictObject({
      /** Consecutive requests that cannot reach a replica before it is ejected; 0 turns it off. */
      failures: count(3, 0),
      ejectFor: durationOr("10s"),
    })
    .prefault({}),
});

export type HealthConfig = z.output<typeof healthSchema>;

/** A path set under `health` is the app's health endpoint: it must answer 2xx or 3xx. */
const isSuccess = (status: number) => status >= 200 && status < 400;
/**
 * A path borrowed from a check comes without that check's headers and expectations (a token, a
 * POST), so a 401 or 404 there says nothing about the replica: only a 5xx (or no answer) fails it.
 */
const isNotServerError = (status: number) => status < 500;

/** The proxy's health options; `checkPath` is the first http check's path, if any. */
export function replicaHealthOptions(config: HealthConfig, checkPath: string | undefined): ReplicaHealthOptions {
  const path = config.path ?? checkPath;
  const active =
    config.enabled && path !== undefined
      ? {
          path,
          intervalMs: config.interval,
          timeoutMs: config.timeout,
          unhealthyAfter: config.unhealthyAfter,
          healthyAfter: config.healthyAfter,
          isHealthyStatus: config.path === undefined ? isNotServerError : isSuccess,
        }
      : undefined;
  const { failures, ejectFor } = config.passive;
  return { active, passive: failures > 0 ? { failures, ejectForMs: ejectFor } : undefined };
}
