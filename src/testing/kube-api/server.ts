// A Kubernetes API server double for tests: node:http on 127.0.0.1 port 0, speaking the subset
// Flip and kubectl use — discovery, GET/LIST (label selectors), POST, PUT and the three PATCH
// formats of Pods, Services, Deployments and EndpointSlices, resourceVersion conflicts, generation
// bumps, Status errors — with a simulated controller that rolls Deployments out and keeps
// EndpointSlices current. No real kube-apiserver can run on the test machines; kubectl drives this
// one in the tests too, so the double stays honest about the wire format.
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DEFAULT_CONTROLLER_OPTIONS, SimulatedController, type ControllerOptions } from "./controller.js";
import { coreVersions, group, groupList, resourceList, versionInfo } from "./discovery.js";
import { isJsonObject, RESOURCE_TYPES, typeOfKind, type Json, type KubeObject, type ResourceType } from "./objects.js";
import { JSON_PATCH, jsonPatch, JsonPatchTestFailed, MERGE_PATCH, mergePatch, STRATEGIC_MERGE_PATCH, strategicMergePatch } from "./patch.js";
import { ApiFailure, badRequest, invalid, methodNotSupported, notFoundPath, unsupportedMediaType, type StatusBody } from "./status.js";
import { ObjectStore } from "./store.js";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: Json | undefined;
}

export interface KubeApiDouble {
  url: string;
  port: number;
  store: ObjectStore;
  /** Mutable: tests change delays or make pods never ready. */
  controller: SimulatedController;
  /** Every request received, oldest first (discovery included). */
  requests: RecordedRequest[];
  /**
   * Called with each request before it is served: a test can change objects first (a concurrent
   * writer) or answer instead with a Status (a 403, say) by returning it.
   */
  intercept: ((request: RecordedRequest) => StatusBody | undefined) | undefined;
  /** Creates or replaces objects as they are given (status included), as `kubectl apply` would seed them. */
  seed(...objects: KubeObject[]): void;
  /** The object as stored, or undefined. */
  find(kind: string, name: string, namespace?: string): KubeObject | undefined;
  /** The objects of a kind as stored, e.g. list("Pod", "app=shop,version=green"). */
  list(kind: string, labelSelector?: string, namespace?: string): KubeObject[];
  /** Writes a kubeconfig for this server into `folder`; returns its path. */
  writeKubeconfig(folder: string, options?: { namespace?: string; token?: string }): string;
  close(): Promise<void>;
}

interface Target {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
}

export async function startKubeApi(options: Partial<ControllerOptions> = {}): Promise<KubeApiDouble> {
  const store = new ObjectStore();
  store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
  const controller = new SimulatedController(store, { ...DEFAULT_CONTROLLER_OPTIONS, ...options });
  const requests: RecordedRequest[] = [];
  let address = "127.0.0.1:0";
  const context: HandlerContext = { store, requests, address: () => address, intercept: () => double.intercept };
  const server = createServer((req, res) => {
    void handle(req, res, context);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const double: KubeApiDouble = {
    url,
    port,
    store,
    controller,
    requests,
    intercept: undefined,
    seed(...objects) {
      for (const object of objects) {
        const type = typeOfKind(object.kind);
        const namespace = type.namespaced ? (object.metadata.namespace ?? "default") : undefined;
        if (store.find(type, namespace, object.metadata.name)) store.update(type, namespace, object.metadata.name, object, { keepStatus: false });
        else store.create(object);
      }
    },
    find: (kind, name, namespace = "default") => {
      const type = typeOfKind(kind);
      return store.find(type, type.namespaced ? namespace : undefined, name);
    },
    list: (kind, labelSelector = "", namespace = "default") => {
      const type = typeOfKind(kind);
      return store.list(type, type.namespaced ? namespace : undefined, labelSelector);
    },
    writeKubeconfig(folder, kubeconfigOptions = {}) {
      const file = join(folder, "kubeconfig");
      writeFileSync(file, kubeconfigText(url, kubeconfigOptions.namespace ?? "default", kubeconfigOptions.token ?? "flip-test-token"), { mode: 0o600 });
      return file;
    },
    close() {
      controller.close();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return double;
}

function kubeconfigText(url: string, namespace: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: kube-api-double
    cluster:
      server: ${url}
      # client-node refuses plain http unless told the connection is insecure on purpose.
      insecure-skip-tls-verify: true
contexts:
  - name: kube-api-double
    context: { cluster: kube-api-double, user: flip-test, namespace: ${namespace} }
current-context: kube-api-double
users:
  - name: flip-test
    user: { token: ${token} }
`;
}

interface HandlerContext {
  store: ObjectStore;
  requests: RecordedRequest[];
  address: () => string;
  intercept: () => KubeApiDouble["intercept"];
}

async function handle(req: IncomingMessage, res: ServerResponse, context: HandlerContext): Promise<void> {
  const url = new URL(req.url ?? "/", "http://double");
  const contentType = req.headers["content-type"]?.split(";")[0]?.trim();
  let status = 200;
  let answer: unknown;
  try {
    const text = await readBody(req);
    const body = text === "" ? undefined : parseJson(text);
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      authorization: req.headers.authorization,
      body,
    };
    context.requests.push(recorded);
    const answeredByTest = context.intercept()?.(recorded);
    if (answeredByTest) throw new ApiFailure(answeredByTest);
    [status, answer] = route(req.method ?? "GET", url, contentType, body, context);
  } catch (error) {
    const failure = error instanceof ApiFailure ? error : internalError(error);
    status = failure.body.code;
    answer = failure.body;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(answer));
}

function internalError(error: unknown): ApiFailure {
  return new ApiFailure({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "InternalError", message: `the Kubernetes API double failed: ${String(error)}`, code: 500 });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw badRequest(`the body is not JSON: ${text.slice(0, 80)}`);
  }
}

function route(method: string, url: URL, contentType: string | undefined, body: Json | undefined, context: HandlerContext): [number, unknown] {
  const path = url.pathname.replace(/\/+$/, "");
  const discovery = discoveryDocument(path, context.address());
  if (discovery !== undefined) {
    if (method !== "GET") throw methodNotSupported(method, path);
    return [200, discovery];
  }
  const target = parseTarget(path);
  if (!target) throw notFoundPath(path);
  if (url.searchParams.has("dryRun")) throw badRequest("dryRun is not supported by the Kubernetes API double");
  const { store } = context;
  const { type, namespace, name } = target;
  switch (method) {
    case "GET":
      if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") throw methodNotSupported("WATCH", path);
      if (name) return [200, store.get(type, namespace, name)];
      return [200, listOf(type, filterByFields(store.list(type, namespace, url.searchParams.get("labelSelector") ?? ""), url.searchParams.get("fieldSelector")), store.latestVersion)];
    case "POST":
      if (name || !isJsonObject(body)) throw badRequest("POST needs a JSON object in the body and a collection path");
      return [201, store.create(objectFrom(body, type, namespace))];
    case "PUT":
      if (!name || !isJsonObject(body)) throw badRequest("PUT needs a JSON object in the body and an object path");
      return [200, store.update(type, namespace, name, objectFrom(body, type, namespace), { keepStatus: true })];
    case "PATCH": {
      if (!name || body === undefined) throw badRequest("PATCH needs a body and an object path");
      const current = store.get(type, namespace, name);
      const patched = applyPatch(current, body, contentType, type);
      if (!isJsonObject(patched) || !isJsonObject(patched.metadata)) throw badRequest("the patch removed the object's metadata");
      return [200, store.update(type, namespace, name, patched as unknown as KubeObject, { keepStatus: true })];
    }
    default:
      throw methodNotSupported(method, path);
  }
}

function applyPatch(current: KubeObject, body: Json, contentType: string | undefined, type: ResourceType): Json {
  const document = current as unknown as Json;
  switch (contentType) {
    case MERGE_PATCH:
      return mergePatch(document, body);
    case STRATEGIC_MERGE_PATCH:
      return strategicMergePatch(document, body);
    case JSON_PATCH:
      try {
        return jsonPatch(document, body);
      } catch (error) {
        if (error instanceof JsonPatchTestFailed) throw invalid(type, current.metadata.name, [{ field: "patch", message: error.message }]);
        throw error;
      }
    default:
      throw unsupportedMediaType(contentType ?? "");
  }
}

function objectFrom(body: { [key: string]: Json }, type: ResourceType, namespace: string | undefined): KubeObject {
  if (body.kind !== type.kind) throw badRequest(`the body is a ${String(body.kind)}, the path is for ${type.kind}`);
  const object = body as unknown as KubeObject;
  if (!isJsonObject(object.metadata) || typeof object.metadata.name !== "string") throw badRequest("metadata.name is required");
  return { ...object, metadata: { ...object.metadata, ...(namespace ? { namespace } : {}) } };
}

/** Only `metadata.name=<name>` (what `kubectl rollout status` asks for); anything else is refused, not ignored. */
function filterByFields(items: KubeObject[], fieldSelector: string | null): KubeObject[] {
  if (!fieldSelector) return items;
  const byName = /^metadata\.name=([^,]+)$/.exec(fieldSelector);
  if (!byName) throw badRequest(`fieldSelector ${fieldSelector} is not supported by the Kubernetes API double (only metadata.name=...)`);
  return items.filter((item) => item.metadata.name === byName[1]);
}

function listOf(type: ResourceType, items: KubeObject[], resourceVersion: string): object {
  const apiVersion = type.group === "" ? type.version : `${type.group}/${type.version}`;
  return { apiVersion, kind: `${type.kind}List`, metadata: { resourceVersion }, items };
}

function discoveryDocument(path: string, address: string): object | undefined {
  if (path === "/api") return coreVersions(address);
  if (path === "/apis") return groupList();
  if (path === "/version") return versionInfo();
  if (path === "/api/v1") return resourceList("", "v1");
  const groupPath = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (groupPath) return groupPath[2] ? resourceList(groupPath[1] as string, groupPath[2]) : group(groupPath[1] as string);
  return undefined; // /openapi/v2 and /openapi/v3 included: answered 404, as by a server without OpenAPI
}

/** /api/v1/[namespaces/<ns>/]<plural>[/<name>] and /apis/<group>/<version>/[namespaces/<ns>/]<plural>[/<name>] */
function parseTarget(path: string): Target | undefined {
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  let groupName: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api") [groupName, version, rest] = ["", segments[1] ?? "", segments.slice(2)];
  else if (segments[0] === "apis") [groupName, version, rest] = [segments[1] ?? "", segments[2] ?? "", segments.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  const type = RESOURCE_TYPES.find((candidate) => candidate.group === groupName && candidate.version === version && candidate.plural === plural);
  if (!type || subresource !== undefined || rest.length > 2) return undefined;
  if (type.namespaced && namespace === undefined && name !== undefined) return undefined;
  return { type, namespace: type.namespaced ? namespace : undefined, name };
}
