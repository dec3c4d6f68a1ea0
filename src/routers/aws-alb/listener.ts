// Pure decisions about a listener's default actions and a target group's health: where the
// listener sends traffic, what the default actions become after a switch, which targets are not
// healthy yet. No I/O here; aws-alb-router.ts reads and writes AWS.
import type { Action, TargetHealthDescription } from "@aws-sdk/client-elastic-load-balancing-v2";

const AUTHENTICATE = new Set(["authenticate-oidc", "authenticate-cognito"]);

/**
 * The target group that gets all the traffic of the listener's default forward action: the one of
 * a plain forward, or, for a weighted forward, the only group with a weight above 0. A split
 * (two groups with weight) or no forward action at all → undefined: traffic is on no single slot.
 */
export function forwardedTargetGroup(actions: readonly Action[]): string | undefined {
  const forward = actions.find((action) => action.Type === "forward");
  if (!forward) return undefined;
  if (forward.TargetGroupArn) return forward.TargetGroupArn;
  // A group listed without a weight gets traffic: AWS fills in 1 for a lone group.
  const weighted = (forward.ForwardConfig?.TargetGroups ?? []).filter((group) => group.TargetGroupArn && (group.Weight ?? 1) > 0);
  return weighted.length === 1 ? weighted[0]?.TargetGroupArn : undefined;
}

/** "forward to <arn>", "forward split blue 80 / green 20", "fixed-response" — for messages. */
export function describeDefaultActions(actions: readonly Action[]): string {
  const forward = actions.find((action) => action.Type === "forward");
  if (!forward) return actions.map((action) => action.Type ?? "?").join(" + ") || "no default action";
  const single = forwardedTargetGroup(actions);
  if (single) return `forward to ${single}`;
  const groups = (forward.ForwardConfig?.TargetGroups ?? []).map((group) => `${group.TargetGroupArn ?? "?"} (weight ${group.Weight ?? 1})`);
  return `forward split between ${groups.join(" and ")}`;
}

/**
 * The default actions after a switch: one plain forward to `targetGroupArn`. Authentication
 * actions in front of it are kept — dropping them would open the app to everyone.
 */
export function forwardOnlyTo(current: readonly Action[], targetGroupArn: string): Action[] {
  const authentication = current.filter((action) => action.Type !== undefined && AUTHENTICATE.has(action.Type)).map(keepAuthentication);
  if (authentication.length === 0) return [{ Type: "forward", TargetGroupArn: targetGroupArn }];
  // With several actions each needs an Order, and the forward must come last.
  const order = Math.max(...authentication.map((action) => action.Order ?? 1)) + 1;
  return [...authentication, { Type: "forward", TargetGroupArn: targetGroupArn, Order: order }];
}

function keepAuthentication(action: Action): Action {
  // DescribeListeners never returns the OIDC client secret; without this flag ModifyListener would
  // demand it again.
  if (!action.AuthenticateOidcConfig) return action;
  const { ClientSecret: _secret, ...oidc } = action.AuthenticateOidcConfig;
  return { ...action, AuthenticateOidcConfig: { ...oidc, UseExistingClientSecret: true } };
}

/**
 * Targets that keep the group from serving: every registered target must be healthy. Draining
 * targets are on their way out and do not count; a group with no target left is never ready.
 */
export function unhealthyTargets(descriptions: readonly TargetHealthDescription[]): TargetHealthDescription[] {
  return descriptions.filter((description) => description.TargetHealth?.State !== "healthy" && description.TargetHealth?.State !== "draining");
}

export function countsAsRegistered(descriptions: readonly TargetHealthDescription[]): number {
  return descriptions.filter((description) => description.TargetHealth?.State !== "draining").length;
}

/** "i-0abc:80 unhealthy (Target.FailedHealthChecks: Health checks failed)". */
export function describeTarget(description: TargetHealthDescription): string {
  const target = description.Target;
  const where = `${target?.Id ?? "?"}${target?.Port ? `:${target.Port}` : ""}`;
  const health = description.TargetHealth;
  const reason = [health?.Reason, health?.Description].filter(Boolean).join(": ");
  return `${where} ${health?.State ?? "unknown"}${reason ? ` (${reason})` : ""}`;
}
