// Pure decisions about a Deployment's rollout, with `kubectl rollout status` semantics, and the
// words that say which pods hold it up.
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";

export type RolloutState =
  | { done: true }
  | { done: false; failed: false; reason: string }
  /** The Deployment controller gave up (progressDeadlineSeconds): waiting longer cannot help. */
  | { done: false; failed: true; reason: string };

/** Done when the controller saw the latest spec and every desired replica is updated and available. */
export function rolloutState(deployment: V1Deployment): RolloutState {
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) return { done: false, failed: false, reason: "waiting for the Deployment controller to observe the new spec" };
  const progressing = status.conditions?.find((condition) => condition.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { done: false, failed: true, reason: `the Deployment exceeded its progress deadline (${progressing.message ?? "no progress"})` };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const replicas = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) return { done: false, failed: false, reason: `${updated} of ${desired} new replicas updated` };
  if (replicas > updated) return { done: false, failed: false, reason: `${replicas - updated} old replica${replicas - updated === 1 ? "" : "s"} pending termination` };
  if (available < updated) return { done: false, failed: false, reason: `${available} of ${updated} updated replicas available` };
  return { done: true };
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false;
}

/** `shop-green-7d9f-x2 (ImagePullBackOff: Back-off pulling image "r/shop:v3")` for each pod not ready. */
export function describeUnreadyPods(pods: V1Pod[], limit = 5): string {
  const unready = pods.filter((pod) => !isPodReady(pod));
  if (unready.length === 0) return "every pod is ready";
  const shown = unready.slice(0, limit).map((pod) => {
    const waiting = pod.status?.containerStatuses?.map((status) => status.state?.waiting).find((state) => state?.reason);
    const terminated = pod.status?.containerStatuses?.map((status) => status.state?.terminated).find((state) => state?.reason);
    const why = waiting ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}` : terminated ? `${terminated.reason}` : (pod.status?.phase ?? "not ready");
    return `${pod.metadata?.name ?? "?"} (${why})`;
  });
  const more = unready.length > limit ? `, and ${unready.length - limit} more` : "";
  return `pods not ready: ${shown.join(", ")}${more}`;
}
