// The objects the Kubernetes API double keeps, and the kinds it serves. Objects are plain JSON, as
// on the wire; the helpers read the few fields the double itself needs (labels, spec.replicas...).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** One kind the double serves, as discovery describes it. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  namespaced: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", shortNames: ["po"], namespaced: true },
  { group: "", version: "v1", plural: "services", singular: "service", kind: "Service", shortNames: ["svc"], namespaced: true },
  { group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace", shortNames: ["ns"], namespaced: false },
  { group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment", shortNames: ["deploy"], namespaced: true },
  { group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice", kind: "EndpointSlice", shortNames: [], namespaced: true },
];

export function groupVersion(type: ResourceType): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

/** `deployments.apps`, the way the API server names a resource in its messages. */
export function qualifiedName(type: ResourceType): string {
  return type.group === "" ? type.plural : `${type.plural}.${type.group}`;
}

export function typeOfKind(kind: string): ResourceType {
  const type = RESOURCE_TYPES.find((candidate) => candidate.kind === kind);
  if (!type) throw new Error(`the Kubernetes API double does not serve kind ${kind}`);
  return type;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Reads a nested field, e.g. field(deployment, "spec", "replicas"). */
export function field(object: unknown, ...path: string[]): unknown {
  let current: unknown = object;
  for (const key of path) {
    if (!isJsonObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function numberField(object: unknown, ...path: string[]): number {
  const value = field(object, ...path);
  return typeof value === "number" ? value : 0;
}

export function stringMap(value: unknown): Record<string, string> {
  if (!isJsonObject(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === "string") out[key] = entry;
  return out;
}
