// The live progress of one deployment as lines of text: a line when a phase starts (with how long
// the previous one took), each check result, each monitor sample, and the outcome. It only formats;
// the watcher decides what reaches it (repeats are dropped before).
import { formatDuration } from "../core/duration.js";
import { isTerminal } from "../core/phases.js";
import type { Phase } from "../core/phases.js";
import { formatMetric } from "../core/rules.js";
import type { RuleResult } from "../core/rules.js";
import type { CheckResult } from "../checks/types.js";
import type { DeploymentPlan, DeploymentSummary } from "../engine/views.js";
import type { SampleRecord } from "../store/records.js";
import type { StreamEvent } from "../api/sse.js";
import type { Colors } from "./output.js";

/** How many lines of a failed check's output to show. */
const OUTPUT_TAIL_LINES = 10;

/** The first line after a deploy, switch or rollback was accepted. */
export function describeStart(summary: DeploymentSummary, colors: Colors): string {
  const live = summary.fromSlot ? `, ${summary.fromSlot} is live` : ", nothing is live yet";
  const what =
    summary.kind === "deploy"
      ? `Deploying ${colors.bold(summary.version)} to ${summary.slot}${live}`
      : summary.kind === "switch"
        ? `Switching traffic to ${summary.slot} (${colors.bold(summary.version)})`
        : summary.kind === "contract"
          ? `Contracting the database schema for ${colors.bold(summary.version)}`
          : `Rolling back to ${summary.slot} (${colors.bold(summary.version)})`;
  return `${what} ${colors.dim(`— deployment ${summary.id}`)}`;
}

export class ProgressView {
  /** The phase under way (never a terminal one: those are reported by the outcome line). */
  private current: { phase: Phase; at: number } | undefined;
  /** When the terminal phase began, if the stream sent it (a replay does). */
  private endedAt: number | undefined;

  constructor(private readonly colors: Colors) {}

  /** The lines one event adds (none for a terminal phase: the `finished` event reports the end). */
  lines(event: StreamEvent): string[] {
    switch (event.type) {
      case "phase":
        return this.phaseLines(event.phase, event.at, event.detail);
      case "check":
        return checkLines(event.result, this.colors);
      case "sample":
        return [sampleLine(event.sample, event.remainingMs, this.colors)];
      case "log":
        return [this.colors.dim(`  · ${event.message}`)];
      case "finished":
        return [this.outcomeLine(event.deployment)];
    }
  }

  private phaseLines(phase: Phase, at: number, detail: string | undefined): string[] {
    // The outcome line reports how a deployment ended; a replayed terminal phase only marks the time.
    if (isTerminal(phase)) {
      this.endedAt = at;
      return [];
    }
    const previous = this.current;
    this.current = { phase, at };
    const took = previous ? this.colors.dim(`  (${previous.phase} took ${formatDuration(Math.max(0, at - previous.at))})`) : "";
    return [`${this.colors.cyan("▸")} ${this.colors.bold(phase)}${detail ? `  ${detail}` : ""}${took}`];
  }

  private outcomeLine(deployment: DeploymentSummary): string {
    const { colors } = this;
    const finishedAt = this.endedAt ?? (deployment.finishedAt ? Date.parse(deployment.finishedAt) : undefined);
    const last = this.current;
    const lastTook = last && finishedAt !== undefined ? `; ${last.phase} took ${formatDuration(Math.max(0, finishedAt - last.at))}` : "";
    const total = deployment.durationMs === undefined ? "" : ` after ${formatDuration(deployment.durationMs)}`;
    const reason = deployment.reason ? `: ${deployment.reason}` : "";
    const timing = colors.dim(`(${deployment.id}${total}${lastTook})`);
    // The engine's reason already says where traffic is; say it here only when there is none.
    switch (deployment.outcome) {
      case "succeeded":
        return `${colors.green("✓ succeeded")}${reason || ` — ${deployment.version} is live on ${deployment.slot}`} ${timing}`;
      case "aborted":
        return `${colors.yellow("✗ aborted")}${reason || " — traffic was not touched"} ${timing}`;
      case "rolled-back":
        return `${colors.magenta("↺ rolled back")}${reason || (deployment.fromSlot ? ` — traffic is back on ${deployment.fromSlot}` : "")} ${timing}`;
      case "failed":
        return `${colors.red("✗ failed")}${reason} ${timing}`;
      case "running":
        return `${colors.cyan("… still running")} ${timing}`;
    }
  }
}

export function checkLines(result: CheckResult, colors: Colors): string[] {
  const mark = result.ok ? colors.green("✓") : colors.red("✗");
  // Check messages usually name the replica already ("… on green replica 0 → 200").
  const replica = result.replica === undefined || result.message.includes(`replica ${result.replica}`) ? "" : colors.dim(`  replica ${result.replica}`);
  const attempts = result.attempts > 1 ? colors.dim(`  (${result.attempts} attempts)`) : "";
  const lines = [`  ${mark} ${result.name}${replica}  ${result.message}${attempts}`];
  if (!result.ok && result.output) {
    const tail = result.output.trimEnd().split(/\r?\n/).slice(-OUTPUT_TAIL_LINES);
    for (const line of tail) lines.push(colors.dim(`      ${line}`));
  }
  return lines;
}

/** "monitoring  errorRate 0.0% (< 5%)  p99 12ms (< 800ms)  412 req  4m10s left" */
export function sampleLine(sample: SampleRecord, remainingMs: number | undefined, colors: Colors): string {
  const parts = [colors.dim("  monitoring")];
  // A window that was not judged has no values worth showing, only why it was not judged.
  if (sample.judged) for (const result of sample.results) parts.push(ruleText(result, colors));
  parts.push(`${sample.requests} req`);
  if (!sample.judged) parts.push(colors.dim(`not judged${sample.note ? `: ${sample.note}` : ""}`));
  else if (!sample.healthy && sample.note) parts.push(colors.red(sample.note));
  if (remainingMs !== undefined) parts.push(colors.dim(`${formatDuration(remainingMs)} left`));
  return parts.join("  ");
}

/** "errorRate 0.0% (< 5%)", red when the rule is broken. */
function ruleText(result: RuleResult, colors: Colors): string {
  const bound = result.rule.startsWith(result.metric) ? result.rule.slice(result.metric.length).trim() : result.rule;
  const text = `${result.metric} ${formatMetric(result.metric, result.value)} (${bound})`;
  return result.ok ? text : colors.red(`${text} ✗`);
}

/** `flip deploy --dry-run`: the phases and the exact changes each would make. */
export function planText(plan: DeploymentPlan): string {
  const lines = [`Dry run: deploying ${plan.version} would go to ${plan.slot}${plan.fromSlot ? `, ${plan.fromSlot} is live` : ", nothing is live yet"}. Nothing was changed.`];
  for (const step of plan.steps) {
    lines.push(`▸ ${step.phase}`);
    for (const change of step.changes) lines.push(`    ${change}`);
  }
  return lines.join("\n") + "\n";
}
