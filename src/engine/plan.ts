// `flip deploy --dry-run`: the phases a deployment would go through, each with the exact changes
// it would make. Pure: the drivers describe their own changes; this adds the engine's part.
import type { FlipConfig } from "../config/schema.js";
import { formatDuration } from "../core/duration.js";
import { formatRequestRate } from "../core/request-rate.js";
import { renderTemplate } from "../core/template.js";
import { shellQuote } from "../platforms/command/shell.js";
import type { Slot } from "../core/slots.js";
import type { DeploymentPlan } from "./views.js";

export interface PlanInput {
  idle: Slot;
  live: Slot | undefined;
  version: string;
  /** The platform's own description of its deploy. */
  deploy: string[];
  /** The router's own description of its switch. */
  switchTraffic: string[];
  /** The live slot's version, for the expand command's {previousVersion}. */
  previousVersion?: string;
}

export function planSteps(config: FlipConfig, input: PlanInput): DeploymentPlan["steps"] {
  const { idle, live, version } = input;
  const { monitor } = config;
  const checks = config.checks.map((check) =>
    check.http
      ? `http check ${check.name}: ${check.http.method} ${check.http.path} on every replica of ${idle}, expecting ${describeStatus(check.http.expectStatus)}${check.http.expectJson ? ` and JSON ${JSON.stringify(check.http.expectJson).replaceAll("{version}", version)}` : ""} (timeout ${formatDuration(check.timeout)}, ${check.retries} retries)`
      : `command check ${check.name}: ${check.command ?? ""} (timeout ${formatDuration(check.timeout)}, ${check.retries} retries)`,
  );
  const expand = config.migrations?.expand;
  return [
    ...(expand === undefined
      ? []
      : [{ phase: "expanding" as const, changes: [`run \`${renderTemplate(expand, { version: shellQuote(version), previousVersion: shellQuote(input.previousVersion ?? ""), app: shellQuote(config.app) })}\` in ${config.dir} (a failure aborts before anything else changes)`] }]),
    { phase: "deploying", changes: input.deploy },
    { phase: "waiting-ready", changes: [`wait up to ${formatDuration(config.readyTimeout)} for every replica of ${idle} to answer its readiness probe`] },
    { phase: "checking", changes: checks.length > 0 ? checks : ["no checks configured: the switch would be untested (--force)"] },
    ...gateSteps(config, live),
    { phase: "switching", changes: input.switchTraffic },
    { phase: "verifying-switch", changes: [`wait up to ${formatDuration(config.verifyTimeout)} for the router to confirm traffic reaches ${idle}`] },
    {
      phase: "monitoring",
      changes: [
        `judge ${monitor.rules.join(", ")} every ${formatDuration(monitor.interval)} for ${formatDuration(monitor.duration)} (windows under ${monitor.minRequests} requests are not judged)`,
        live ? `on a breach, switch traffic back to ${live}` : "on a breach there is no standby to switch back to: the deployment would end failed",
      ],
    },
  ];
}

/** awaiting-approval and awaiting-window, when configured. */
function gateSteps(config: FlipConfig, live: Slot | undefined): DeploymentPlan["steps"] {
  const steps: DeploymentPlan["steps"] = [];
  const again = "then run the checks again, right before the switch";
  if (config.approval === "manual") {
    const timeout = config.approvalTimeout === undefined ? "" : ` (abort after ${formatDuration(config.approvalTimeout)})`;
    steps.push({ phase: "awaiting-approval", changes: [`wait for \`flip promote\`${timeout}`, again] });
  }
  const waits: string[] = [];
  if (config.switchWindows.length > 0) waits.push(`wait until inside a switch window: ${config.switchWindows.map((w) => w.text).join("; ")} (unless --now)`);
  if (config.maxRequestRate !== undefined && live) {
    waits.push(`wait until live slot ${live} serves at most ${formatRequestRate(config.maxRequestRate)} (abort after ${formatDuration(config.maxRequestRateTimeout)}; unless --now)`);
  }
  if (waits.length > 0) steps.push({ phase: "awaiting-window", changes: [...waits, `if it waited, ${again}`] });
  return steps;
}

function describeStatus(expect: number | number[] | string): string {
  if (Array.isArray(expect)) return expect.join(" or ");
  return String(expect);
}
