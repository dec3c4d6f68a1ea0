import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { describeUnreadyPods, rolloutState } from "./rollout.js";

function deployment(spec: { generation?: number; replicas?: number }, status: V1Deployment["status"]): V1Deployment {
  return { metadata: { name: "shop-green", generation: spec.generation ?? 2 }, spec: { replicas: spec.replicas ?? 2, selector: {}, template: {} }, status };
}

describe("rolloutState", () => {
  it("waits until the controller has observed the latest generation", () => {
    const stale = deployment({ generation: 3 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    expect(rolloutState(stale)).toMatchObject({ done: false, failed: false, reason: expect.stringMatching(/observe the new spec/) });
  });

  it("waits for updated, then for old replicas to go, then for available ones", () => {
    expect(rolloutState(deployment({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 2 }))).toMatchObject({ reason: "1 of 2 new replicas updated" });
    expect(rolloutState(deployment({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }))).toMatchObject({ reason: "1 old replica pending termination" });
    expect(rolloutState(deployment({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }))).toMatchObject({ reason: "1 of 2 updated replicas available" });
  });

  it("is done when updated = available = replicas = spec.replicas", () => {
    expect(rolloutState(deployment({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }))).toEqual({ done: true });
  });

  it("reads absent counts as 0, as the API leaves zeros out", () => {
    expect(rolloutState(deployment({}, { observedGeneration: 2 }))).toMatchObject({ done: false, reason: "0 of 2 new replicas updated" });
  });

  it("fails at once when the Deployment exceeded its progress deadline", () => {
    const stuck = deployment({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "shop-green-7d9f" has timed out progressing.' }] });
    expect(rolloutState(stuck)).toMatchObject({ done: false, failed: true, reason: expect.stringMatching(/progress deadline.*timed out progressing/) });
  });
});

describe("describeUnreadyPods", () => {
  const pod = (name: string, ready: boolean, waiting?: { reason: string; message?: string }): V1Pod => ({
    metadata: { name },
    status: {
      phase: ready ? "Running" : "Pending",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [{ name: "web", image: "x", imageID: "", ready, restartCount: 0, ...(waiting ? { state: { waiting } } : {}) }],
    },
  });

  it("names each pod that is not ready with its container's waiting reason", () => {
    const text = describeUnreadyPods([pod("a", true), pod("b", false, { reason: "ImagePullBackOff", message: 'Back-off pulling image "r/shop:v3"' }), pod("c", false)]);
    expect(text).toBe('pods not ready: b (ImagePullBackOff: Back-off pulling image "r/shop:v3"), c (Pending)');
  });

  it("shows a few and counts the rest", () => {
    const pods = Array.from({ length: 8 }, (_, i) => pod(`p${i}`, false, { reason: "CrashLoopBackOff" }));
    expect(describeUnreadyPods(pods, 2)).toBe("pods not ready: p0 (CrashLoopBackOff), p1 (CrashLoopBackOff), and 6 more");
  });
});
