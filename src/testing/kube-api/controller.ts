// A tiny stand-in for kube-controller-manager: the Deployment controller (pods for the current pod
// template, old ones removed once the new ones are ready, status fields as a real rollout moves
// them) and the EndpointSlice controller (each Service's slice recomputed from its selector).
// It runs on real timers with small delays: it simulates another system, not Flip's own time.
import { createHash } from "node:crypto";
import { matchesMap } from "./labels.js";
import { field, numberField, stringMap, type KubeObject, typeOfKind } from "./objects.js";
import type { ObjectStore, StoreChange } from "./store.js";

export type PodOutcome = { ready: true } | { ready: false; reason: string; message?: string };

export interface ControllerOptions {
  /** How long after a spec change the controller observes it (creates pods, updates status). */
  observeDelayMs: number;
  /** How long new pods take to become ready (or to settle into their failure, see podOutcome). */
  readyDelayMs: number;
  /** How long EndpointSlices lag behind Services and pods. */
  endpointsDelayMs: number;
  /** The EndpointSlice controller is stuck: slices keep what they show. */
  endpointsStalled: boolean;
  /** Whether a new pod ever becomes ready; `{ ready: false }` keeps it waiting with that reason. */
  podOutcome: (pod: KubeObject, deployment: KubeObject) => PodOutcome;
}

export const DEFAULT_CONTROLLER_OPTIONS: ControllerOptions = {
  observeDelayMs: 10,
  readyDelayMs: 100,
  endpointsDelayMs: 50,
  endpointsStalled: false,
  podOutcome: () => ({ ready: true }),
};

const DEPLOYMENTS = typeOfKind("Deployment");
const PODS = typeOfKind("Pod");
const SERVICES = typeOfKind("Service");
const SLICES = typeOfKind("EndpointSlice");
/** Marks the pods the double's controller owns (a real cluster goes through a ReplicaSet). */
const OWNER_ANNOTATION = "kube-api-double/deployment";

export class SimulatedController {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pendingEndpoints = new Set<string>();
  private podCounter = 0;
  private ipCounter = 10;
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    readonly options: ControllerOptions,
  ) {
    store.onChange((change) => this.onChange(change));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(delayMs: number, action: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) action();
    }, delayMs);
    this.timers.add(timer);
  }

  private onChange({ type, before, after }: StoreChange): void {
    const namespace = (after ?? before)?.metadata.namespace ?? "default";
    if (type.kind === "Deployment" && after && before?.metadata.generation !== after.metadata.generation) {
      this.later(this.options.observeDelayMs, () => this.reconcile(namespace, after.metadata.name));
    }
    if (type.kind === "Service" && JSON.stringify(field(before, "spec", "selector")) !== JSON.stringify(field(after, "spec", "selector"))) {
      this.scheduleEndpoints(namespace);
    }
    if (type.kind === "Pod") this.scheduleEndpoints(namespace);
  }

  // ---- Deployments ---------------------------------------------------------------------------

  /** Observes the Deployment's spec: pods of the current template up to spec.replicas, not ready yet. */
  private reconcile(namespace: string, name: string): void {
    const deployment = this.store.find(DEPLOYMENTS, namespace, name);
    if (!deployment) return;
    const hash = templateHash(deployment);
    const replicas = desiredReplicas(deployment);
    const owned = this.ownedPods(deployment);
    const current = owned.filter((pod) => pod.metadata.labels?.["pod-template-hash"] === hash);
    for (let i = current.length; i < replicas; i++) current.push(this.store.create(this.newPod(deployment, hash)));
    for (const extra of current.splice(replicas)) this.store.delete(PODS, namespace, extra.metadata.name);
    if (replicas === 0) for (const pod of owned) this.store.delete(PODS, namespace, pod.metadata.name);
    this.writeStatus(namespace, name);
    if (current.some((pod) => !isReady(pod))) this.later(this.options.readyDelayMs, () => this.settle(namespace, name, hash));
    else this.finishRollout(namespace, name, hash);
  }

  /** The new pods become ready (or settle into their failure); once all are ready, old pods go. */
  private settle(namespace: string, name: string, hash: string): void {
    const deployment = this.store.find(DEPLOYMENTS, namespace, name);
    if (!deployment || templateHash(deployment) !== hash) return; // superseded by a newer spec
    for (const pod of this.ownedPods(deployment)) {
      if (pod.metadata.labels?.["pod-template-hash"] !== hash || isReady(pod)) continue;
      const outcome = this.options.podOutcome(pod, deployment);
      this.store.update(PODS, namespace, pod.metadata.name, { ...pod, status: podStatus(pod, outcome, String(field(pod, "status", "podIP"))) }, { keepStatus: false });
    }
    this.finishRollout(namespace, name, hash);
  }

  private finishRollout(namespace: string, name: string, hash: string): void {
    const deployment = this.store.find(DEPLOYMENTS, namespace, name);
    if (!deployment) return;
    const owned = this.ownedPods(deployment);
    const current = owned.filter((pod) => pod.metadata.labels?.["pod-template-hash"] === hash);
    if (current.length >= desiredReplicas(deployment) && current.every(isReady)) {
      for (const pod of owned) if (!current.includes(pod)) this.store.delete(PODS, namespace, pod.metadata.name);
    }
    this.writeStatus(namespace, name);
  }

  private ownedPods(deployment: KubeObject): KubeObject[] {
    return this.store
      .list(PODS, deployment.metadata.namespace)
      .filter((pod) => pod.metadata.annotations?.[OWNER_ANNOTATION] === deployment.metadata.name);
  }

  private newPod(deployment: KubeObject, hash: string): KubeObject {
    this.podCounter += 1;
    const name = deployment.metadata.name;
    const labels = { ...stringMap(field(deployment, "spec", "template", "metadata", "labels")), "pod-template-hash": hash };
    const pod: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${name}-${hash}-${this.podCounter.toString(36).padStart(5, "x")}`,
        namespace: deployment.metadata.namespace ?? "default",
        labels,
        annotations: { [OWNER_ANNOTATION]: name },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `${name}-${hash}`, uid: deployment.metadata.uid ?? "", controller: true }],
      },
      spec: field(deployment, "spec", "template", "spec") ?? {},
    };
    this.ipCounter += 1;
    pod.status = podStatus(pod, { ready: false, reason: "ContainerCreating" }, `10.244.0.${this.ipCounter % 250}`);
    return pod;
  }

  /** Status as a real Deployment reports it; zero counts are left out, as on the wire. */
  private writeStatus(namespace: string, name: string): void {
    const deployment = this.store.find(DEPLOYMENTS, namespace, name);
    if (!deployment) return;
    const hash = templateHash(deployment);
    const owned = this.ownedPods(deployment);
    const updated = owned.filter((pod) => pod.metadata.labels?.["pod-template-hash"] === hash).length;
    const ready = owned.filter(isReady).length;
    const counts = { replicas: owned.length, updatedReplicas: updated, readyReplicas: ready, availableReplicas: ready, unavailableReplicas: owned.length - ready };
    const status: Record<string, unknown> = { observedGeneration: deployment.metadata.generation ?? 1 };
    for (const [key, value] of Object.entries(counts)) if (value > 0) status[key] = value;
    status.conditions = [{ type: "Available", status: ready >= desiredReplicas(deployment) ? "True" : "False", reason: "MinimumReplicasAvailable" }];
    this.store.update(DEPLOYMENTS, namespace, name, { ...deployment, status }, { keepStatus: false });
  }

  // ---- EndpointSlices ------------------------------------------------------------------------

  private scheduleEndpoints(namespace: string): void {
    if (this.pendingEndpoints.has(namespace)) return;
    this.pendingEndpoints.add(namespace);
    this.later(this.options.endpointsDelayMs, () => {
      this.pendingEndpoints.delete(namespace);
      this.recomputeEndpoints(namespace);
    });
  }

  /** One slice per Service with a selector: every selected pod, with its readiness. */
  private recomputeEndpoints(namespace: string): void {
    if (this.options.endpointsStalled) return;
    const pods = this.store.list(PODS, namespace);
    for (const service of this.store.list(SERVICES, namespace)) {
      const selector = stringMap(field(service, "spec", "selector"));
      if (Object.keys(selector).length === 0) continue; // a Service without a selector has hand-made endpoints
      const selected = pods.filter((pod) => matchesMap(selector, pod.metadata.labels));
      const slice = endpointSliceFor(service, selected);
      const existing = this.store.find(SLICES, namespace, slice.metadata.name);
      if (existing) this.store.update(SLICES, namespace, slice.metadata.name, { ...slice, metadata: { ...existing.metadata, labels: slice.metadata.labels } }, { keepStatus: false });
      else this.store.create(slice);
    }
  }
}

function endpointSliceFor(service: KubeObject, pods: KubeObject[]): KubeObject {
  const serviceName = service.metadata.name;
  const suffix = createHash("sha256").update(serviceName).digest("hex").slice(0, 5);
  const ports = field(service, "spec", "ports");
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${serviceName}-${suffix}`,
      namespace: service.metadata.namespace ?? "default",
      labels: { "kubernetes.io/service-name": serviceName, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
    },
    addressType: "IPv4",
    endpoints: pods.map((pod) => ({
      addresses: [String(field(pod, "status", "podIP"))],
      conditions: { ready: isReady(pod), serving: isReady(pod), terminating: false },
      nodeName: "double-node-1",
      targetRef: { kind: "Pod", namespace: pod.metadata.namespace ?? "default", name: pod.metadata.name, uid: pod.metadata.uid ?? "" },
    })),
    ports: Array.isArray(ports)
      ? ports.map((port) => ({ name: field(port, "name") ?? "", port: numberField(port, "targetPort") || numberField(port, "port"), protocol: field(port, "protocol") ?? "TCP" }))
      : [],
  };
}

function podStatus(pod: KubeObject, outcome: PodOutcome, podIP: string): Record<string, unknown> {
  const containers = field(pod, "spec", "containers");
  const ready = outcome.ready;
  const state = outcome.ready ? { running: { startedAt: new Date().toISOString() } } : { waiting: { reason: outcome.reason, ...(outcome.message ? { message: outcome.message } : {}) } };
  return {
    phase: ready ? "Running" : "Pending",
    podIP,
    conditions: [
      { type: "Ready", status: ready ? "True" : "False" },
      { type: "ContainersReady", status: ready ? "True" : "False" },
    ],
    containerStatuses: (Array.isArray(containers) ? containers : []).map((container) => ({
      name: field(container, "name"),
      image: field(container, "image"),
      ready,
      restartCount: 0,
      state,
    })),
  };
}

export function isReady(pod: KubeObject): boolean {
  const conditions = field(pod, "status", "conditions");
  return Array.isArray(conditions) && conditions.some((condition) => field(condition, "type") === "Ready" && field(condition, "status") === "True");
}

function desiredReplicas(deployment: KubeObject): number {
  const replicas = field(deployment, "spec", "replicas");
  return typeof replicas === "number" ? replicas : 1;
}

/** Like pod-template-hash: a new value for every change of the pod template. */
function templateHash(deployment: KubeObject): string {
  return createHash("sha256").update(JSON.stringify(field(deployment, "spec", "template") ?? {})).digest("hex").slice(0, 10);
}
