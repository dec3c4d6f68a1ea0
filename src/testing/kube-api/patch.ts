// The three PATCH formats of the Kubernetes API: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and strategic merge patch — a merge patch where lists of known fields merge by a key
// (containers by `name`, ...) instead of being replaced. Only the fields of the kinds the double
// serves are known; every other list is replaced, as the real server does for unknown fields.
import { badRequest } from "./status.js";
import { clone, isJsonObject, type Json, type JsonObject } from "./objects.js";

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

/** RFC 7386: objects merge, null deletes, everything else (lists included) replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isJsonObject(patch)) return clone(patch);
  const result: JsonObject = isJsonObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** The merge key of a list field, by field name (enough for Pod, Service, Deployment and EndpointSlice). */
function mergeKeyOf(fieldName: string, items: Json[]): string | undefined {
  switch (fieldName) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
      return "name";
    case "volumeMounts":
      return "mountPath";
    case "conditions":
      return "type";
    case "ports":
      // container ports merge by containerPort, Service ports by port
      return items.some((item) => isJsonObject(item) && "containerPort" in item) ? "containerPort" : "port";
    default:
      return undefined;
  }
}

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isJsonObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _directive, ...rest } = patch;
    return clone(rest);
  }
  const result: JsonObject = isJsonObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$setElementOrder/") || key === "$retainKeys" || key === "$patch") continue;
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      const existing = result[key];
      const mergeKey = mergeKeyOf(key, [...value, ...(Array.isArray(existing) ? existing : [])]);
      result[key] = mergeKey && Array.isArray(existing) ? mergeList(existing, value, mergeKey) : clone(value);
    } else {
      result[key] = strategicMergePatch(result[key] ?? null, value);
    }
  }
  return result;
}

/** Items with the same merge key are patched in place; new ones are appended; `$patch: delete` removes. */
function mergeList(existing: Json[], patch: Json[], mergeKey: string): Json[] {
  const result = clone(existing);
  for (const item of patch) {
    if (!isJsonObject(item) || item[mergeKey] === undefined) throw badRequest(`strategic merge patch: every item needs its merge key "${mergeKey}"`);
    const index = result.findIndex((candidate) => isJsonObject(candidate) && candidate[mergeKey] === item[mergeKey]);
    if (item.$patch === "delete") {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMergePatch(result[index] ?? null, item);
    } else {
      result.push(strategicMergePatch(null, item));
    }
  }
  return result;
}

interface JsonPatchOperation {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

/** RFC 6902; a failed `test` or a missing path is a 422 in the real server, here an Error the caller maps. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw badRequest("a JSON patch must be a list of operations");
  let document = clone(target);
  for (const raw of operations) {
    if (!isJsonObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") throw badRequest(`malformed JSON patch operation ${JSON.stringify(raw)}`);
    const operation = raw as unknown as JsonPatchOperation;
    document = applyOperation(document, operation);
  }
  return document;
}

export class JsonPatchTestFailed extends Error {}

function applyOperation(document: Json, operation: JsonPatchOperation): Json {
  switch (operation.op) {
    case "add":
      return setAt(document, pointer(operation.path), clone(operation.value ?? null), "add");
    case "replace":
      return setAt(document, pointer(operation.path), clone(operation.value ?? null), "replace");
    case "remove":
      return removeAt(document, pointer(operation.path));
    case "test": {
      const found = getAt(document, pointer(operation.path));
      if (JSON.stringify(found) !== JSON.stringify(operation.value)) throw new JsonPatchTestFailed(`testing value ${operation.path} failed`);
      return document;
    }
    case "copy":
    case "move": {
      const from = pointer(operation.from ?? "");
      const value = clone(getAt(document, from));
      const without = operation.op === "move" ? removeAt(document, from) : document;
      return setAt(without, pointer(operation.path), value, "add");
    }
    default:
      throw badRequest(`unknown JSON patch operation "${operation.op}"`);
  }
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw badRequest(`JSON pointer "${path}" must start with /`);
  return path
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function getAt(document: Json, tokens: string[]): Json {
  let current: Json = document;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[Number(token)] ?? missing(tokens);
    else if (isJsonObject(current) && token in current) current = current[token] ?? null;
    else missing(tokens);
  }
  return current;
}

function missing(tokens: string[]): never {
  throw new JsonPatchTestFailed(`path /${tokens.join("/")} does not exist`);
}

function setAt(document: Json, tokens: string[], value: Json, mode: "add" | "replace"): Json {
  if (tokens.length === 0) return value;
  const parent = getAt(document, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length || (mode === "replace" && index >= parent.length)) missing(tokens);
    parent.splice(index, mode === "replace" ? 1 : 0, value);
  } else if (isJsonObject(parent)) {
    if (mode === "replace" && !(last in parent)) missing(tokens);
    parent[last] = value;
  } else {
    missing(tokens);
  }
  return document;
}

function removeAt(document: Json, tokens: string[]): Json {
  const parent = getAt(document, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent) && Number(last) < parent.length) parent.splice(Number(last), 1);
  else if (isJsonObject(parent) && last in parent) delete parent[last];
  else missing(tokens);
  return document;
}
