// The whole of flip.yaml as a zod schema. Driver sections come from the registries' schemas so
// adding a driver never touches this file's logic.
import { z } from "zod";
import { parseRequestRate } from "../core/request-rate.js";
import { parseRule } from "../core/rules.js";
import { parseSwitchWindow } from "../core/windows.js";
import { duration, durationOr, listenAddress, name } from "./fields.js";
import { metricsSourceConfigSchema } from "../metrics/schemas.js";
import { notifyTargetSchema } from "../notify/config.js";
import { platformConfigSchema } from "../platforms/schemas.js";
import { routerConfigSchema } from "../routers/schemas.js";

/** expectStatus: 200, [200, 204], "2xx" */
const statusMatcher = z.union([
  z.number().int().min(100).max(599),
  z.array(z.number().int().min(100).max(599)).min(1),
  z.string().regex(/^[1-5]xx$/, 'expected a status code, a list of codes, or a class like "2xx"'),
], { error: 'expected a status code (200), a list of codes ([200, 204]) or a class like "2xx"' });

const httpCheckSchema = z.strictObject({
  path: z.string().startsWith("/", "expected a path starting with /"),
  method: z.enum(["GET", "HEAD", "POST"]).default("GET"),
  expectStatus: statusMatcher.default("2xx"),
  /** Dotted paths into the JSON body → expected values (strings are templated, e.g. "{version}"). */
  expectJson: z.record(z.string(), z.unknown()).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const checkSchema = z
  .strictObject({
    name,
    http: httpCheckSchema.optional(),
    command: z.string().min(1).optional(),
    timeout: durationOr("10s"),
    retries: z.number().int().min(0).max(100).default(0),
    retryDelay: durationOr("1s"),
  })
  .superRefine((check, ctx) => {
    const kinds = [check.http, check.command].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: "custom", message: "a check needs exactly one of `http: { path: ... }` or `command: \"...\"`" });
    }
  });

const ruleText = z.string().superRefine((text, ctx) => {
  const parsed = parseRule(text);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
});

const monitorSchema = z.strictObject({
  duration: durationOr("5m"),
  interval: durationOr("10s"),
  minRequests: z.number().int().min(0).default(20),
  rules: z.array(ruleText).default(["errorRate < 5%"]),
  /** Where the rules' metrics come from; absent: the built-in proxy's own counters. */
  source: metricsSourceConfigSchema.optional(),
});

/** "Mon-Fri 02:00-05:00 Europe/Berlin" → a parsed SwitchWindow (its text kept for messages). */
const switchWindow = z.string().transform((text, ctx) => {
  const parsed = parseSwitchWindow(text);
  if (parsed.ok) return parsed.window;
  ctx.addIssue({ code: "custom", message: parsed.error });
  return z.NEVER;
});

/** "500/s" or "30000/m" → requests per second. A bare number is refused, as a duration's is: no unit. */
const requestRate = z.union([z.string(), z.number()], { error: 'expected a request rate such as "500/s" or "30000/m"' }).transform((text, ctx) => {
  const perSecond = typeof text === "string" ? parseRequestRate(text) : undefined;
  if (perSecond !== undefined && perSecond > 0) return perSecond;
  const got = typeof text === "number" ? `${text}, a number without a unit` : `"${text}"`;
  ctx.addIssue({ code: "custom", message: `expected a request rate such as "500/s" or "30000/m", got ${got}` });
  return z.NEVER;
});

/** The cheap standby: after a switch, the old live slot is scaled down, then stopped. */
const retireSchema = z
  .strictObject({
    /** This long after the switch (and never before the monitor has finished), keep only standbyReplicas. Absent: never. */
    scaleDownAfter: duration().optional(),
    standbyReplicas: z.number().int().min(0).default(1),
    /** This long after the switch, stop the standby; a rollback then redeploys its version. Absent: never. */
    retireAfter: duration().optional(),
  })
  .superRefine((retire, ctx) => {
    if (retire.scaleDownAfter !== undefined && retire.retireAfter !== undefined && retire.retireAfter <= retire.scaleDownAfter) {
      ctx.addIssue({ code: "custom", path: ["retireAfter"], message: "retireAfter must be longer than scaleDownAfter: the standby is scaled down first, then retired" });
    }
  });

/** Expand/contract for a database both slots share: commands Flip runs at the safe moments. */
const migrationsSchema = z
  .strictObject({
    /** Before the new version is deployed (phase expanding): make the schema work for old and new. */
    expand: z.string().min(1).optional(),
    /** Once no slot running the previous version can get traffic: remove what only it needed. */
    contract: z.string().min(1).optional(),
    /** Run contract by itself when the standby is retired (retire.retireAfter). */
    contractAfterRetire: z.boolean().default(false),
    /** The longest either command may run (then it is stopped, with its whole process group). */
    timeout: durationOr("10m"),
  })
  .superRefine((migrations, ctx) => {
    if (migrations.contractAfterRetire && migrations.contract === undefined) {
      ctx.addIssue({ code: "custom", path: ["contractAfterRetire"], message: "contractAfterRetire needs a `contract` command to run" });
    }
  });

const controlSchema = z.strictObject({
  listen: listenAddress.default("127.0.0.1:8787"),
  token: z.string().optional(),
});

export const configSchema = z.strictObject({
  app: name,
  platform: platformConfigSchema,
  router: routerConfigSchema.prefault({ kind: "builtin" }),
  checks: z.array(checkSchema).default([]),
  monitor: monitorSchema.prefault({}),
  control: controlSchema.prefault({}),
  /** SQLite file, relative to flip.yaml. */
  state: z.string().default(".flip/state.db"),
  /** Folder for replica logs, relative to flip.yaml. */
  logs: z.string().default(".flip/logs"),
  /** How long a slot may take to become ready. */
  readyTimeout: durationOr("60s"),
  /** How long verify-switch may take. */
  verifyTimeout: durationOr("30s"),
  /** manual: after the checks pass, wait in awaiting-approval until `flip promote`. */
  approval: z.enum(["auto", "manual"]).default("auto"),
  /** Waiting for approval longer than this aborts the deployment; absent: wait as long as it takes. */
  approvalTimeout: duration().optional(),
  /** When traffic may move; outside them a checked deployment waits in awaiting-window. Empty: any time. */
  switchWindows: z.array(switchWindow).default([]),
  /** Do not switch while the live slot serves more than this (requests per second). */
  maxRequestRate: requestRate.optional(),
  /** Waiting for the live slot's traffic to drop below maxRequestRate longer than this aborts. */
  maxRequestRateTimeout: durationOr("30m"),
  /** Webhooks told when a deployment starts, switches, rolls back, aborts, succeeds or fails. */
  notify: z.array(notifyTargetSchema).default([]),
  /** Absent: the standby keeps running at full size until the next deploy replaces it. */
  retire: retireSchema.optional(),
  /** Absent: Flip runs no database commands (and keeps no database in mind when rolling back). */
  migrations: migrationsSchema.optional(),
});

export type RawConfig = z.output<typeof configSchema>;
export type CheckConfig = RawConfig["checks"][number];
export type HttpCheckConfig = NonNullable<CheckConfig["http"]>;
export type MonitorConfig = RawConfig["monitor"];
export type StatusMatcher = z.output<typeof statusMatcher>;

/** The config as the rest of Flip sees it: paths absolute, where it came from recorded. */
export interface FlipConfig extends RawConfig {
  /** Absolute path of flip.yaml. */
  file: string;
  /** Its folder. */
  dir: string;
  /** Absolute paths of `state` and `logs`. */
  statePath: string;
  logDir: string;
}
