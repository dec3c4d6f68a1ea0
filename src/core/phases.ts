// The phases of one deployment and the pure rules about them (which are terminal, which come
// before traffic moves, what exit code an outcome maps to).

export const PHASES = [
  "queued",
  "expanding",
  "deploying",
  "waiting-ready",
  "checking",
  "awaiting-approval",
  "awaiting-window",
  "switching",
  "contracting",
  "verifying-switch",
  "monitoring",
  "rolling-back",
  "succeeded",
  "aborted",
  "rolled-back",
  "failed",
] as const;
export type Phase = (typeof PHASES)[number];

export type Outcome = "running" | "succeeded" | "aborted" | "rolled-back" | "failed";

/**
 * What started a deployment: a new version, a manual switch, a rollback to the standby, or the
 * database contract (`flip contract`, which moves no traffic).
 */
export type DeploymentKind = "deploy" | "switch" | "rollback" | "contract";

const TERMINAL: ReadonlySet<Phase> = new Set(["succeeded", "aborted", "rolled-back", "failed"]);
const BEFORE_SWITCH: ReadonlySet<Phase> = new Set([
  "queued",
  "expanding",
  "deploying",
  "waiting-ready",
  "checking",
  "awaiting-approval",
  "awaiting-window",
]);

export function isTerminal(phase: Phase): boolean {
  return TERMINAL.has(phase);
}

/** True while the live slot has not been touched yet: failing now means "aborted", exit code 2. */
export function isBeforeSwitch(phase: Phase): boolean {
  return BEFORE_SWITCH.has(phase);
}

export function outcomeOf(phase: Phase): Outcome {
  switch (phase) {
    case "succeeded":
    case "aborted":
    case "rolled-back":
    case "failed":
      return phase;
    default:
      return "running";
  }
}

/** CLI exit codes: 0 success, 1 error, 2 aborted before the switch, 3 rolled back. */
export function exitCodeFor(outcome: Outcome): number {
  switch (outcome) {
    case "succeeded":
      return 0;
    case "aborted":
      return 2;
    case "rolled-back":
      return 3;
    default:
      return 1;
  }
}
