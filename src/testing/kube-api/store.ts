// The double's object store: what etcd and the API server's write path do for the subset Flip
// uses. Every write bumps a cluster-wide resourceVersion; a write that carries a stale one is a 409;
// a spec change bumps metadata.generation; a write that changes nothing changes nothing (no bump),
// as in the real server. Writes through the API keep `status` (the status subresource is the
// controllers' business); the simulated controller writes status directly.
import { randomUUID } from "node:crypto";
import { matchesSelector, parseLabelSelector } from "./labels.js";
import { clone, field, isJsonObject, type KubeObject, type ResourceType, typeOfKind } from "./objects.js";
import { alreadyExists, conflict, invalid, notFound } from "./status.js";

export interface StoreChange {
  type: ResourceType;
  before: KubeObject | undefined;
  after: KubeObject | undefined;
}

export class ObjectStore {
  private revision = 1000;
  private readonly objects = new Map<string, KubeObject>();
  private readonly listeners: ((change: StoreChange) => void)[] = [];

  onChange(listener: (change: StoreChange) => void): void {
    this.listeners.push(listener);
  }

  get latestVersion(): string {
    return String(this.revision);
  }

  find(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(keyOf(type, namespace, name));
    return found && clone(found);
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.find(type, namespace, name);
    if (!found) throw notFound(type, name);
    return found;
  }

  /** `namespace` undefined lists every namespace; `labelSelector` as in the query parameter. */
  list(type: ResourceType, namespace: string | undefined, labelSelector = ""): KubeObject[] {
    const requirements = parseLabelSelector(labelSelector);
    return [...this.objects.values()]
      .filter((object) => object.kind === type.kind && (namespace === undefined || object.metadata.namespace === namespace))
      .filter((object) => matchesSelector(requirements, object.metadata.labels))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .map(clone);
  }

  create(input: KubeObject): KubeObject {
    const type = typeOfKind(input.kind);
    const namespace = type.namespaced ? (input.metadata.namespace ?? "default") : undefined;
    if (this.objects.has(keyOf(type, namespace, input.metadata.name))) throw alreadyExists(type, input.metadata.name);
    const object = clone(input);
    object.metadata = {
      ...object.metadata,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      ...("spec" in object ? { generation: 1 } : {}),
    };
    validate(type, object);
    return this.commit(type, undefined, object);
  }

  /**
   * Replaces an object with `next` as the API write path does: identity fields and status kept,
   * 409 when `next` carries a resourceVersion other than the current one, 422 when invalid.
   */
  update(type: ResourceType, namespace: string | undefined, name: string, next: KubeObject, options: { keepStatus: boolean }): KubeObject {
    const current = this.get(type, namespace, name);
    const carried = next.metadata?.resourceVersion;
    if (carried !== undefined && carried !== current.metadata.resourceVersion) throw conflict(type, name);
    const object: KubeObject = { ...clone(next), apiVersion: current.apiVersion, kind: current.kind };
    object.metadata = {
      ...(isJsonObject(next.metadata) ? clone(next.metadata) : {}),
      name: current.metadata.name,
      ...(current.metadata.namespace ? { namespace: current.metadata.namespace } : {}),
      ...(current.metadata.uid ? { uid: current.metadata.uid } : {}),
      ...(current.metadata.creationTimestamp ? { creationTimestamp: current.metadata.creationTimestamp } : {}),
      resourceVersion: current.metadata.resourceVersion,
      ...(current.metadata.generation !== undefined ? { generation: current.metadata.generation } : {}),
    };
    if (options.keepStatus) {
      if (current.status === undefined) delete object.status;
      else object.status = current.status;
    }
    if (JSON.stringify(object) === JSON.stringify(current)) return current;
    validate(type, object);
    if (JSON.stringify(field(object, "spec")) !== JSON.stringify(field(current, "spec")) && object.metadata.generation !== undefined) {
      object.metadata.generation += 1;
    }
    return this.commit(type, current, object);
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): void {
    const current = this.find(type, namespace, name);
    if (!current) return;
    this.objects.delete(keyOf(type, namespace, name));
    this.revision += 1;
    this.emit({ type, before: current, after: undefined });
  }

  private commit(type: ResourceType, before: KubeObject | undefined, object: KubeObject): KubeObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.objects.set(keyOf(type, object.metadata.namespace, object.metadata.name), clone(object));
    this.emit({ type, before, after: clone(object) });
    return object;
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.plural}/${namespace ?? ""}/${name}`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The few validation rules that a driver bug would trip: bad label values, replicas, containers. */
function validate(type: ResourceType, object: KubeObject): void {
  const causes: { field: string; message: string }[] = [];
  const checkLabels = (path: string, labels: unknown) => {
    if (labels === undefined) return;
    if (!isJsonObject(labels)) return causes.push({ field: path, message: "must be a map of strings" });
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
        causes.push({ field: `${path}.${key}`, message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'` });
      }
    }
  };
  checkLabels("metadata.labels", object.metadata.labels);
  if (type.kind === "Service") checkLabels("spec.selector", field(object, "spec", "selector"));
  if (type.kind === "Deployment") validateDeployment(object, causes, checkLabels);
  if (causes.length > 0) throw invalid(type, object.metadata.name, causes);
}

function validateDeployment(object: KubeObject, causes: { field: string; message: string }[], checkLabels: (path: string, labels: unknown) => void): void {
  const replicas = field(object, "spec", "replicas");
  if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
    causes.push({ field: "spec.replicas", message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` });
  }
  checkLabels("spec.template.metadata.labels", field(object, "spec", "template", "metadata", "labels"));
  const containers = field(object, "spec", "template", "spec", "containers");
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ field: "spec.template.spec.containers", message: "Required value" });
    return;
  }
  containers.forEach((container, index) => {
    if (typeof field(container, "name") !== "string" || field(container, "name") === "") causes.push({ field: `spec.template.spec.containers[${index}].name`, message: "Required value" });
    if (typeof field(container, "image") !== "string" || field(container, "image") === "") causes.push({ field: `spec.template.spec.containers[${index}].image`, message: "Required value" });
  });
}
