// The legacy (unaggregated) discovery documents: kubectl reads them to map `svc`, `deploy`,
// `deployments.apps` to URLs. Aggregated discovery is asked for first; answering plain
// application/json makes kubectl (and client-go) fall back to these, as against an older server.
import { groupVersion, RESOURCE_TYPES } from "./objects.js";

const VERBS = ["create", "get", "list", "patch", "update"];

export function coreVersions(address: string): object {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: address }] };
}

function groupNames(): string[] {
  return [...new Set(RESOURCE_TYPES.map((type) => type.group).filter((group) => group !== ""))];
}

function groupDocument(group: string): object {
  const versions = [...new Set(RESOURCE_TYPES.filter((type) => type.group === group).map((type) => type.version))];
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { kind: "APIGroup", apiVersion: "v1", name: group, versions: entries, preferredVersion: entries[0] };
}

export function groupList(): object {
  return { kind: "APIGroupList", apiVersion: "v1", groups: groupNames().map((group) => groupDocument(group)) };
}

/** /apis/<group>, or undefined when the double does not serve the group. */
export function group(name: string): object | undefined {
  return groupNames().includes(name) ? groupDocument(name) : undefined;
}

/** /api/v1 or /apis/<group>/<version>, or undefined when not served. */
export function resourceList(groupName: string, version: string): object | undefined {
  const types = RESOURCE_TYPES.filter((type) => type.group === groupName && type.version === version);
  if (types.length === 0) return undefined;
  const first = types[0] as (typeof types)[number];
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion(first),
    resources: types.map((type) => ({
      name: type.plural,
      singularName: type.singular,
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: VERBS,
      ...(type.shortNames.length > 0 ? { shortNames: type.shortNames } : {}),
    })),
  };
}

export function versionInfo(): object {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.0-flip-kube-api-double",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "go1.23",
    compiler: "gc",
    platform: "linux/amd64",
  };
}
