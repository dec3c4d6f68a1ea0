// The Kubernetes API double must behave like the real API server where Flip and kubectl look:
// these tests pin that down, with the real kubectl as the second client.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { isReady } from "./controller.js";
import { blueGreenApp, eventually, kubectl } from "./fixtures.js";
import { matchesSelector, parseLabelSelector } from "./labels.js";
import type { Json } from "./objects.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { startKubeApi, type KubeApiDouble } from "./server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(): Promise<{ api: KubeApiDouble; kubeconfig: string; cacheDir: string }> {
  const api = await startKubeApi({ observeDelayMs: 5, readyDelayMs: 30, endpointsDelayMs: 20 });
  api.seed(...blueGreenApp({ app: "shop", images: { blue: "r/shop:v1" }, liveSlot: "blue" }));
  const dir = mkdtempSync(join(tmpdir(), "flip-kube-api-"));
  cleanups.push(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { api, kubeconfig: api.writeKubeconfig(dir), cacheDir: join(dir, "cache") };
}

async function call(api: KubeApiDouble, method: string, path: string, body?: unknown, contentType = "application/merge-patch+json") {
  const response = await request(`${api.url}${path}`, {
    method: method as "GET",
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": contentType } }),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

const SERVICE = "/api/v1/namespaces/default/services/shop";
const GREEN = "/apis/apps/v1/namespaces/default/deployments/shop-green";

describe("patch formats", () => {
  it("merge patch: objects merge, null deletes, lists are replaced", () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({ a: { c: 2, d: 3 }, l: [3] });
  });

  it("strategic merge patch: containers merge by name, other lists are replaced, $patch: delete removes", () => {
    const pod: Json = { containers: [{ name: "web", image: "a", ports: [{ containerPort: 80 }] }, { name: "side", image: "s" }], args: ["x"] };
    expect(strategicMergePatch(pod, { containers: [{ name: "web", image: "b" }], args: ["y"] })).toEqual({
      containers: [{ name: "web", image: "b", ports: [{ containerPort: 80 }] }, { name: "side", image: "s" }],
      args: ["y"],
    });
    expect(strategicMergePatch(pod, { containers: [{ name: "side", $patch: "delete" }, { name: "new", image: "n" }] })).toMatchObject({
      containers: [{ name: "web" }, { name: "new", image: "n" }],
    });
  });

  it("JSON patch: add, replace, remove, test", () => {
    const doc = { spec: { replicas: 1, list: ["a"] } };
    expect(jsonPatch(doc, [{ op: "replace", path: "/spec/replicas", value: 3 }, { op: "add", path: "/spec/list/-", value: "b" }, { op: "test", path: "/spec/list/0", value: "a" }])).toEqual({ spec: { replicas: 3, list: ["a", "b"] } });
    expect(jsonPatch(doc, [{ op: "remove", path: "/spec/list" }])).toEqual({ spec: { replicas: 1 } });
    expect(() => jsonPatch(doc, [{ op: "test", path: "/spec/replicas", value: 2 }])).toThrow(/testing value/);
  });
});

describe("label selectors", () => {
  it("matches =, !=, in, notin, exists and !exists", () => {
    const labels = { app: "shop", version: "green" };
    const matches = (text: string) => matchesSelector(parseLabelSelector(text), labels);
    expect(matches("app=shop,version==green")).toBe(true);
    expect(matches("version!=green")).toBe(false);
    expect(matches("version in (blue, green),app")).toBe(true);
    expect(matches("version notin (green)")).toBe(false);
    expect(matches("!tier,app")).toBe(true);
  });
});

describe("Kubernetes API double", () => {
  it("answers in the Status format, bumps resourceVersion on change only, and refuses a stale one with 409", async () => {
    const { api } = await started();
    const missing = await call(api, "GET", "/api/v1/namespaces/default/services/nope");
    expect(missing).toEqual({ status: 404, body: expect.objectContaining({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message: 'services "nope" not found' }) });

    const before = (await call(api, "GET", SERVICE)).body as { metadata: { resourceVersion: string } };
    const same = await call(api, "PATCH", SERVICE, { spec: { selector: { version: "blue" } } });
    expect(same.body).toMatchObject({ metadata: { resourceVersion: before.metadata.resourceVersion } });
    const changed = await call(api, "PATCH", SERVICE, { metadata: { resourceVersion: before.metadata.resourceVersion }, spec: { selector: { version: "green" } } });
    expect(Number((changed.body as typeof before).metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    const stale = await call(api, "PATCH", SERVICE, { metadata: { resourceVersion: before.metadata.resourceVersion }, spec: { selector: { version: "blue" } } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ kind: "Status", reason: "Conflict", message: expect.stringContaining('services "shop": the object has been modified') });
    expect(api.find("Service", "shop")?.spec).toMatchObject({ selector: { version: "green" } });

    const current = (await call(api, "GET", SERVICE)).body as { metadata: { resourceVersion: string }; spec: object };
    const put = (resourceVersion: string) => call(api, "PUT", SERVICE, { ...current, metadata: { ...current.metadata, resourceVersion }, spec: { ...current.spec, selector: { app: "shop" } } }, "application/json");
    expect((await put(before.metadata.resourceVersion)).status).toBe(409);
    expect((await put(current.metadata.resourceVersion)).body).toMatchObject({ spec: { selector: { app: "shop" } } });
  });

  it("answers 422 for an invalid object and 415 for an unknown patch type", async () => {
    const { api } = await started();
    const invalid = await call(api, "PATCH", SERVICE, { spec: { selector: { version: "not valid!" } } });
    expect(invalid).toMatchObject({ status: 422, body: { kind: "Status", reason: "Invalid", code: 422, message: expect.stringMatching(/^Service "shop" is invalid: spec.selector.version/) } });
    const json = await call(api, "PATCH", GREEN, [{ op: "replace", path: "/spec/replicas", value: -1 }], "application/json-patch+json");
    expect(json).toMatchObject({ status: 422, body: { reason: "Invalid", message: expect.stringContaining("spec.replicas") } });
    expect((await call(api, "PATCH", SERVICE, {}, "application/json")).status).toBe(415);
  });

  it("bumps metadata.generation on spec changes only, and rolls a Deployment out like its controller", async () => {
    const { api } = await started();
    await eventually(() => api.list("Pod", "version=blue").filter(isReady).length === 2, "blue pods ready");
    const generation = api.find("Deployment", "shop-blue")?.metadata.generation ?? 0;
    await call(api, "PATCH", "/apis/apps/v1/namespaces/default/deployments/shop-blue", { metadata: { labels: { team: "a" } } });
    expect(api.find("Deployment", "shop-blue")?.metadata.generation).toBe(generation);
    await call(api, "PATCH", "/apis/apps/v1/namespaces/default/deployments/shop-blue", { spec: { template: { spec: { containers: [{ name: "shop", image: "r/shop:v2" }] } } } }, "application/strategic-merge-patch+json");
    expect(api.find("Deployment", "shop-blue")?.metadata.generation).toBe(generation + 1);
    await eventually(() => (api.find("Deployment", "shop-blue")?.status as { observedGeneration?: number }).observedGeneration === generation + 1, "observed");
    expect(api.list("Pod", "version=blue")).toHaveLength(4); // surge: the new pods start beside the old ones
    await eventually(() => api.list("Pod", "version=blue").length === 2, "old pods gone");
    expect(api.list("Pod", "version=blue").map((pod) => (pod.spec as { containers: { image: string }[] }).containers[0]?.image)).toEqual(["r/shop:v2", "r/shop:v2"]);
    expect(api.find("Deployment", "shop-blue")?.status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
  });

  it("keeps each Service's EndpointSlice to the pods its selector picks, with their readiness", async () => {
    const { api } = await started();
    const endpoints = () => {
      const slice = api.list("EndpointSlice", "kubernetes.io/service-name=shop")[0];
      return ((slice?.endpoints ?? []) as { targetRef: { name: string }; conditions: { ready: boolean } }[]).map((e) => `${e.targetRef.name.split("-")[1]}:${e.conditions.ready}`);
    };
    await eventually(() => endpoints().join() === "blue:true,blue:true", "blue endpoints ready");
    await call(api, "PATCH", SERVICE, { spec: { selector: { version: "green" } } });
    await eventually(() => endpoints().length === 0, "green has no pods");
  });

  it("is driven by the real kubectl: discovery without OpenAPI, get with jsonpath, every patch type, errors", async () => {
    const { api, kubeconfig, cacheDir } = await started();
    const run = (...args: string[]) => kubectl(kubeconfig, cacheDir, args);
    expect(await run("get", "svc", "shop", "-o", "jsonpath={.spec.selector}")).toMatchObject({ code: 0, stdout: '{"app":"shop","version":"blue"}' });
    expect((await run("patch", "service", "shop", "-p", '{"spec":{"selector":{"version":"green"}}}')).code).toBe(0);
    expect((await run("patch", "deployment", "shop-green", "--type=merge", "-p", '{"spec":{"replicas":1}}')).code).toBe(0);
    expect((await run("patch", "deployment", "shop-green", "--type=json", "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"r/shop:v9"}]')).code).toBe(0);
    expect((await run("set", "image", "deployment/shop-green", "shop=r/shop:v10")).code).toBe(0);
    expect(await run("get", "deployment", "shop-green", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image}")).toMatchObject({ stdout: "1 r/shop:v10 registry.example/shipper:1" });
    expect(api.find("Service", "shop")?.spec).toMatchObject({ selector: { app: "shop", version: "green" } });
    const missing = await run("get", "deployment", "nope");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('Error from server (NotFound): deployments.apps "nope" not found');
    const openapi = api.requests.filter((r) => r.path.startsWith("/openapi"));
    expect(openapi.every((r) => r.method === "GET")).toBe(true); // asked for and refused (404), and kubectl coped

  });
});
