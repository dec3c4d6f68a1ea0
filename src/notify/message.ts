// What a notification says, decided from the engine's event stream and the deployment's record.
// Pure: the event and the stored detail in, a notification (or nothing) out, then its body in the
// target's format. Rolled back names the rule that fired and its value; aborted, the failing check.
import { formatMetric, type RuleResult } from "../core/rules.js";
import type { DeploymentDetail, DeploymentSummary, FlowEvent } from "../engine/views.js";
import type { NotifyEvent } from "./config.js";

export interface Notification {
  event: NotifyEvent;
  app: string;
  /** ISO time of the event. */
  at: string;
  deployment: DeploymentSummary;
  /** One line for people (the Slack text). */
  text: string;
  /** rolled-back: the rule that broke, with the value that broke it. */
  rule?: { rule: string; metric: string; value: number | undefined; threshold: number; display: string };
  /** aborted: the check that failed. */
  check?: { name: string; message: string; replica?: number };
}

/**
 * The notification one engine event calls for, if any. `detail` reads the deployment as stored
 * (called only when needed). "started" is the first phase after queued: a deployment resumed after
 * a restart enters later phases again, but never its first one.
 */
export function notificationFor(event: FlowEvent, app: string, detail: () => DeploymentDetail, now: number): Notification | undefined {
  if (event.type === "finished") {
    const record = detail();
    const base = { app, at: iso(now), deployment: event.deployment };
    const ending = `${event.reason ?? "no reason recorded"}`;
    switch (event.outcome) {
      case "succeeded":
        return { ...base, event: "succeeded", text: `✅ ${app}: ${describe(event.deployment)} succeeded — ${ending}` };
      case "failed":
        return { ...base, event: "failed", text: `🛑 ${app}: ${describe(event.deployment)} failed — ${ending}` };
      case "aborted": {
        const check = failedCheckOf(record);
        return { ...base, event: "aborted", text: `⚠️ ${app}: ${describe(event.deployment)} aborted before the switch — ${ending}`, ...(check ? { check } : {}) };
      }
      case "rolled-back": {
        const rule = breachedRuleOf(record);
        const why = rule ? `${rule.display}` : ending;
        return { ...base, event: "rolled-back", text: `↩️ ${app}: ${event.deployment.version} rolled back to ${event.deployment.fromSlot ?? "the standby"} — ${why}`, ...(rule ? { rule } : {}) };
      }
      default:
        return undefined;
    }
  }
  if (event.type !== "phase") return undefined;
  if (event.phase === "awaiting-approval") {
    const record = detail();
    return notification("awaiting-approval", record, app, event.at, `✋ ${app}: ${record.version} on ${record.slot} passed its checks and waits for approval (\`flip promote\`) — ${record.id}`);
  }
  if (event.phase === "verifying-switch") {
    const record = detail();
    return notification("switched", record, app, event.at, `🔀 ${app}: traffic switched from ${record.fromSlot ?? "nothing"} to ${record.slot} (${record.version}) — ${record.id}`);
  }
  const record = detail();
  const entered = record.phases.filter((phase) => phase.phase !== "queued");
  if (entered.length === 1 && entered[0]?.phase === event.phase) {
    return notification("started", record, app, event.at, `🚀 ${app}: ${record.actor} started ${describe(record)} — ${record.id}`);
  }
  return undefined;
}

/** The body posted to the target. */
export function bodyFor(notification: Notification, format: "json" | "slack"): unknown {
  if (format === "slack") return { text: notification.text };
  return notification;
}

function notification(event: NotifyEvent, record: DeploymentDetail, app: string, at: number, text: string): Notification {
  const { phases: _phases, checks: _checks, samples: _samples, ...deployment } = record;
  return { event, app, at: iso(at), deployment, text };
}

function describe(deployment: Pick<DeploymentSummary, "kind" | "version" | "slot">): string {
  return deployment.kind === "rollback" ? `rollback to ${deployment.version} on ${deployment.slot}` : `${deployment.kind} ${deployment.version} to ${deployment.slot}`;
}

/** The breached rule of the last unhealthy window. */
function breachedRuleOf(record: DeploymentDetail): Notification["rule"] {
  const window = [...record.samples].reverse().find((sample) => sample.judged && !sample.healthy);
  const result: RuleResult | undefined = window?.results.find((r) => !r.ok);
  if (!result) return undefined;
  return {
    rule: result.rule,
    metric: result.metric,
    value: result.value,
    threshold: result.threshold,
    display: `${result.metric} ${formatMetric(result.metric, result.value)} broke ${result.rule}`,
  };
}

/** The first failure of the last run of the checks. */
function failedCheckOf(record: DeploymentDetail): Notification["check"] {
  const failed = [...record.checks].reverse().find((check) => !check.ok);
  if (!failed) return undefined;
  return { name: failed.name, message: failed.message, ...(failed.replica === undefined ? {} : { replica: failed.replica }) };
}

function iso(at: number): string {
  return new Date(at).toISOString();
}
