// The real Engine driving the kubernetes platform and the kubernetes-service router against the
// Kubernetes API double, built from a parsed flip.yaml through the registries — with the real
// kubectl asked, after each step, whether the cluster says what Flip says. The slots' Services are
// stood in for by two node:http servers (the platform's per-slot `endpoint`) that answer as the
// version the double says runs in that slot. One ManualClock drives every wait of Flip's.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, parseConfigText } from "../src/config/load.js";
import { ManualClock } from "../src/core/clock.testing.js";
import { SLOTS, type Slot } from "../src/core/slots.js";
import { MemoryDriverState } from "../src/core/state.js";
import { Engine } from "../src/engine/engine.js";
import { silentLogger } from "../src/logging.js";
import type { MetricsSource } from "../src/metrics/source.js";
import { createPlatform } from "../src/platforms/registry.js";
import { createRouter } from "../src/routers/registry.js";
import type { TrafficSnapshot } from "../src/routers/router.js";
import type { DeploymentRecord } from "../src/store/records.js";
import { Store } from "../src/store/store.js";
import { blueGreenApp, kubectl } from "../src/testing/kube-api/fixtures.js";
import { startKubeApi, type KubeApiDouble } from "../src/testing/kube-api/server.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The version the double says runs in a slot (its Deployment's flip.dev/version annotation). */
function versionIn(api: KubeApiDouble, slot: Slot): string {
  return api.find("Deployment", `shop-${slot}`)?.metadata.annotations?.["flip.dev/version"] ?? "none";
}

/** Stands in for the slot's Service: /health, and /version answered as the version deployed there. */
async function slotService(api: KubeApiDouble, slot: Slot): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.url === "/version" ? JSON.stringify({ version: versionIn(api, slot) }) : '{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * A test double of a metrics source (the prometheus source comes later): every read adds 100
 * requests to a slot, half of them errors when the slot's version contains "errors". The source is
 * not what this test is about; the flow around it is.
 */
function errorsByVersion(api: KubeApiDouble, clock: ManualClock): MetricsSource {
  const totals: Record<Slot, { requests: number; errors: number }> = { blue: { requests: 0, errors: 0 }, green: { requests: 0, errors: 0 } };
  return {
    name: "test-double",
    async read(slot): Promise<TrafficSnapshot> {
      totals[slot].requests += 100;
      if (versionIn(api, slot).includes("errors")) totals[slot].errors += 50;
      return { at: clock.now(), requests: totals[slot].requests, errors: totals[slot].errors, inFlight: 0, latencyCounts: [] };
    },
  };
}

async function harness() {
  const api = await startKubeApi({ observeDelayMs: 10, readyDelayMs: 100, endpointsDelayMs: 50 });
  api.seed(...blueGreenApp({ app: "shop" })); // both Deployments empty, the Service picking no slot
  const dir = mkdtempSync(join(tmpdir(), "flip-kube-e2e-"));
  const kubeconfig = api.writeKubeconfig(dir);
  const services = { blue: await slotService(api, "blue"), green: await slotService(api, "green") };
  cleanups.push(async () => {
    await api.close();
    for (const { server } of Object.values(services)) await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  const config = parseConfigText(
    `app: shop
platform:
  kind: kubernetes
  image: "registry.example/shop:{version}"
  container: shop
  kubeconfig: ${kubeconfig}
  endpoint: { blue: "${services.blue.url}", green: "${services.green.url}" }
router: { kind: kubernetes-service }
checks:
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /version, expectJson: { version: "{version}" } } }
monitor: { duration: 3s, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }
readyTimeout: 60s
verifyTimeout: 30s
`,
    join(dir, "flip.yaml"),
  );
  const clock = new ManualClock(Date.now());
  const store = Store.open(config.statePath, { clock });
  const context = { app: "shop", logger: silentLogger, clock };
  const platform = createPlatform(config, { ...context, configDir: dir, logDir: config.logDir, state: store.driverState("platform.kubernetes") });
  const router = createRouter(config, { ...context, state: store.driverState("router.kubernetes-service") });
  await platform.recover(new AbortController().signal);
  await router.start();
  const engine = new Engine({ config, store, platform, router, metrics: errorsByVersion(api, clock), clock, logger: silentLogger });
  await engine.start();
  cleanups.push(async () => {
    await engine.stop();
    store.close();
  });

  /** Runs the deployment to its end: every time Flip sleeps on the clock, time moves on (after a real pause for the double). */
  const finish = async (id: string): Promise<DeploymentRecord> => {
    for (let i = 0; i < 3_000; i++) {
      const record = store.deployment(id);
      if (!record) throw new Error(`no deployment ${id}`);
      if (record.outcome !== "running") return record;
      await sleep(10);
      if (clock.pendingSleeps > 0) await clock.advance(1_000);
    }
    throw new Error(`deployment ${id} did not finish`);
  };
  const run = async (...args: string[]) => {
    const result = await kubectl(kubeconfig, join(dir, "cache"), args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  const servicePatches = () => api.requests.filter((r) => r.method === "PATCH" && r.path.endsWith("/services/shop")).length;
  return { api, engine, store, clock, finish, kubectl: run, servicePatches, deploy: async (version: string) => finish((await engine.deploy(version, { actor: "test" })).id) };
}

describe("Kubernetes end to end (API double + kubectl)", () => {
  it("deploys, checks, flips the selector, verifies the endpoints, and rolls back a release that breaks", async () => {
    const h = await harness();
    const selector = async () => JSON.parse(await h.kubectl("get", "svc", "shop", "-o", "jsonpath={.spec.selector}")) as Record<string, string>;
    const image = (slot: Slot) => h.kubectl("get", "deploy", `shop-${slot}`, "-o", 'jsonpath={.spec.template.spec.containers[?(@.name=="shop")].image}');
    const endpointPods = async () => (await h.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=shop", "-o", "jsonpath={.items[*].endpoints[*].targetRef.name}")).split(" ");

    const v1 = await h.deploy("v1");
    expect(v1).toMatchObject({ outcome: "succeeded", slot: "blue" });
    expect(await selector()).toEqual({ app: "shop", version: "blue" });

    const v2 = await h.deploy("v2");
    expect(v2).toMatchObject({ outcome: "succeeded", slot: "green" });
    expect(h.store.phasesOf(v2.id).map((p) => p.phase)).toEqual(["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring", "succeeded"]);
    expect(h.store.checksOf(v2.id).map((c) => [c.name, c.ok])).toEqual(expect.arrayContaining([["health", true], ["version", true]]));
    // The image was patched on the idle Deployment only; the selector flipped; the endpoints followed.
    expect(await image("green")).toBe("registry.example/shop:v2");
    expect(await image("blue")).toBe("registry.example/shop:v1");
    expect(await selector()).toEqual({ app: "shop", version: "green" });
    const pods = await endpointPods();
    expect(pods.length).toBeGreaterThan(0);
    expect(pods.every((pod) => pod.startsWith("shop-green-"))).toBe(true);
    expect(h.store.samplesOf(v2.id).filter((s) => s.judged)).toHaveLength(3);

    // flip deploy --dry-run: the exact patches, and none made.
    const patchesBefore = h.api.requests.filter((r) => r.method === "PATCH").length;
    const plan = await h.engine.planDeploy("v3-errors", { actor: "test" });
    const changes = (phase: string) => plan.steps.find((step) => step.phase === phase)?.changes.join("\n") ?? "";
    expect(changes("deploying")).toContain("kubectl -n default patch deployment shop-blue --type=strategic");
    expect(changes("switching")).toContain(`kubectl -n default patch service shop --type=merge -p '{"spec":{"selector":{"version":"blue"}}}'`);
    expect(h.api.requests.filter((r) => r.method === "PATCH").length).toBe(patchesBefore);

    const v3 = await h.deploy("v3-errors");
    expect(v3.outcome).toBe("rolled-back");
    expect(v3.reason).toMatch(/errorRate .*50.*traffic back on green/);
    expect(await selector()).toEqual({ app: "shop", version: "green" });
    expect(await image("blue")).toBe("registry.example/shop:v3-errors"); // kept running for inspection
    expect(h.servicePatches()).toBe(4); // v1, v2, v3 and the rollback: one patch each

    // kubectl and Flip tell the same story; a restarted controller reads it from the cluster.
    const status = await h.engine.status();
    expect(status.live).toBe("green");
    expect(status.slots.green).toMatchObject({ version: "v2", replicas: 1, runningReplicas: 1 });
    for (const slot of SLOTS) expect(status.slots[slot].version).toBe(versionIn(h.api, slot));
  });

  it("aborts when the pods never become ready, names them, and leaves the selector alone", async () => {
    const h = await harness();
    expect((await h.deploy("v1")).outcome).toBe("succeeded");
    h.api.controller.options.podOutcome = (pod) =>
      JSON.stringify(pod.spec).includes("broken") ? { ready: false, reason: "ErrImagePull", message: "manifest unknown" } : { ready: true };
    const patchesBefore = h.servicePatches();

    const broken = await h.deploy("v2-broken");
    expect(broken.outcome).toBe("aborted");
    expect(broken.reason).toMatch(/green \(Deployment default\/shop-green, v2-broken\) is not ready after 1m: .*pods not ready: shop-green-\w+-\w+ \(ErrImagePull: manifest unknown\).*traffic stayed on blue/);
    expect(h.servicePatches()).toBe(patchesBefore);
    expect(await h.kubectl("get", "svc", "shop", "-o", "jsonpath={.spec.selector.version}")).toBe("blue");
    expect(await h.kubectl("get", "deploy", "shop-green", "-o", "jsonpath={.spec.replicas}")).toBe("0"); // the failed slot is stopped
  });
});

describe("examples/kubernetes", () => {
  it("loads, and its manifests created with kubectl are what its flip.yaml drives", async () => {
    const api = await startKubeApi({ observeDelayMs: 5, readyDelayMs: 20, endpointsDelayMs: 10 });
    const dir = mkdtempSync(join(tmpdir(), "flip-kube-example-"));
    cleanups.push(async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const kubeconfig = api.writeKubeconfig(dir);
    const example = new URL("../examples/kubernetes/", import.meta.url).pathname;
    // The double serves no OpenAPI, so client-side validation is off; RBAC kinds are not served.
    const created = await kubectl(kubeconfig, join(dir, "cache"), ["create", "--validate=false", "-f", join(example, "app.yaml")]);
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain("service/hello-green created");

    const config = await loadConfig(join(example, "flip.yaml"), { env: {} });
    expect(config.platform).toMatchObject({ kind: "kubernetes", container: "hello", image: "registry.example.com/hello:{version}" });
    const withDouble = { ...config, platform: { ...config.platform, kubeconfig } } as typeof config;
    const clock = new ManualClock();
    const platform = createPlatform(withDouble, { app: "hello", configDir: dir, logDir: dir, logger: silentLogger, clock, state: new MemoryDriverState() });
    const router = createRouter(withDouble, { app: "hello", logger: silentLogger, clock, state: new MemoryDriverState() });
    expect(await router.live()).toBe("blue");
    expect(await platform.describe("blue")).toMatchObject({ replicas: 2 });
    expect(await platform.endpoints("green")).toEqual([]);
    await platform.deploy("green", "v2", new AbortController().signal);
    const green = api.find("Deployment", "hello-green");
    expect(green?.spec).toMatchObject({ replicas: 2, template: { spec: { containers: [{ name: "hello", image: "registry.example.com/hello:v2" }] } } });
    expect((await platform.endpoints("green"))[0]?.url).toBe("http://hello-green.default.svc");
  });
});
