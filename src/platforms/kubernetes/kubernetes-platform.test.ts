// The kubernetes platform against the Kubernetes API double (node:http on loopback), with the real
// kubectl reading what Flip wrote. Flip's waits run on a ManualClock; the double's controller on
// real timers with small delays.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.testing.js";
import { PlatformError, TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { blueGreenApp, driveClock, kubectl, type AppFixture } from "../../testing/kube-api/fixtures.js";
import type { KubeObject } from "../../testing/kube-api/objects.js";
import { startKubeApi, type KubeApiDouble } from "../../testing/kube-api/server.js";
import { kubernetesPlatformSchema } from "./config.js";
import { KubernetesPlatform, REPLICAS_ANNOTATION, VERSION_ANNOTATION } from "./kubernetes-platform.js";

const FAST = { observeDelayMs: 5, readyDelayMs: 40, endpointsDelayMs: 20 };
const APP: AppFixture = { app: "shop", images: { blue: "registry.example/shop:v1" }, liveSlot: "blue" };

interface Setup {
  api: KubeApiDouble;
  dir: string;
  kubeconfig: string;
  clock: ManualClock;
  platform(config?: Record<string, unknown>): KubernetesPlatform;
  kubectl(...args: string[]): Promise<string>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(app: AppFixture = APP): Promise<Setup> {
  const api = await startKubeApi(FAST);
  api.seed(...blueGreenApp(app));
  const dir = mkdtempSync(join(tmpdir(), "flip-kube-platform-"));
  cleanups.push(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = api.writeKubeconfig(dir);
  const clock = new ManualClock();
  return {
    api,
    dir,
    kubeconfig,
    clock,
    platform(config = {}) {
      const section = kubernetesPlatformSchema.parse({ kind: "kubernetes", image: "registry.example/shop:{version}", container: "shop", kubeconfig, ...config });
      return new KubernetesPlatform(section, { app: "shop", configDir: dir, logDir: dir, logger: silentLogger, clock, state: new MemoryDriverState() });
    },
    async kubectl(...args) {
      const result = await kubectl(kubeconfig, join(dir, "cache"), args);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
      return result.stdout;
    },
  };
}

const signal = new AbortController().signal;
const patches = (api: KubeApiDouble) => api.requests.filter((request) => request.method === "PATCH");
const containers = (object: KubeObject | undefined) => (object?.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;

describe("KubernetesPlatform", () => {
  it("deploys by patching the container's image, waits for the rollout, and reads the version back", async () => {
    const s = await setup();
    const platform = s.platform();
    await platform.deploy("green", "v2", signal);

    expect(patches(s.api)).toHaveLength(1);
    expect(patches(s.api)[0]).toMatchObject({
      path: "/apis/apps/v1/namespaces/default/deployments/shop-green",
      contentType: "application/strategic-merge-patch+json",
      authorization: "Bearer flip-test-token", // the kubeconfig's user
    });
    const green = s.api.find("Deployment", "shop-green");
    expect(containers(green)).toEqual([
      { name: "shop", image: "registry.example/shop:v2", ports: [{ containerPort: 8080 }] },
      { name: "log-shipper", image: "registry.example/shipper:1" }, // merged by name: the other container is untouched
    ]);
    expect(green?.metadata.annotations).toMatchObject({ [VERSION_ANNOTATION]: "v2" });
    expect(green?.spec).toMatchObject({ replicas: 1, template: { metadata: { annotations: { [VERSION_ANNOTATION]: "v2" } } } });
    expect(await s.kubectl("get", "deploy", "shop-green", "-o", 'jsonpath={.spec.template.spec.containers[?(@.name=="shop")].image}')).toBe("registry.example/shop:v2");

    await driveClock(s.clock, platform.waitReady("green", 60_000, signal), 1_000);
    expect(await platform.describe("green")).toEqual({ version: "v2", replicas: 1, runningReplicas: 1 });
    // A restarted controller has nothing to adopt: it reads the same answer from the cluster.
    const restarted = s.platform();
    await restarted.recover(signal);
    expect(await restarted.describe("green")).toEqual({ version: "v2", replicas: 1, runningReplicas: 1 });
    expect(patches(s.api)).toHaveLength(1);
  });

  it("plans a deploy (flip deploy --dry-run) as the exact patch, making none", async () => {
    const s = await setup();
    const plan = await s.platform().planDeploy("green", "v2");
    expect(plan[0]).toBe("Deployment default/shop-green: container shop image registry.example/shop:none → registry.example/shop:v2, annotation flip.dev/version=v2, replicas 0 → 1");
    expect(plan[1]).toMatch(/^one strategic merge patch, conditional on resourceVersion \d+: kubectl -n default patch deployment shop-green --type=strategic -p '\{"metadata":\{"annotations":\{"flip\.dev\/version":"v2"\}\},"spec":\{"replicas":1,/);
    expect(patches(s.api)).toHaveLength(0);
    // The command it shows makes the change it describes.
    const command = /-p '(.*)'$/.exec(plan[1] ?? "")?.[1] as string;
    await s.kubectl("patch", "deployment", "shop-green", "--type=strategic", "-p", command);
    expect(containers(s.api.find("Deployment", "shop-green"))[0]?.image).toBe("registry.example/shop:v2");
  });

  it("times out waiting for pods that never become ready, naming them and why", async () => {
    const s = await setup();
    s.api.controller.options.podOutcome = () => ({ ready: false, reason: "ImagePullBackOff", message: 'Back-off pulling image "registry.example/shop:v3"' });
    const platform = s.platform({ replicas: 2 });
    await platform.deploy("green", "v3", signal);
    const error = await driveClock(s.clock, platform.waitReady("green", 5_000, signal).catch((thrown: unknown) => thrown), 1_000);
    expect(error).toBeInstanceOf(TimeoutError);
    const message = (error as TimeoutError).message;
    expect(message).toMatch(/^green \(Deployment default\/shop-green, v3\) is not ready after 5\.0s: 0 of 2 updated replicas available; pods not ready: /);
    expect(message.match(/shop-green-\w+-\w+ \(ImagePullBackOff: Back-off pulling image "registry.example\/shop:v3"\)/g)).toHaveLength(2);
    expect((error as TimeoutError).hint).toBe("See `kubectl -n default describe pods -l app=shop,version=green`.");
  });

  it("stops by scaling to 0, and the next deploy brings back the replicas it had", async () => {
    const s = await setup();
    const platform = s.platform();
    expect(await platform.describe("blue")).toMatchObject({ replicas: 2 });
    await platform.stop("blue");
    const blue = s.api.find("Deployment", "shop-blue");
    expect(blue?.spec).toMatchObject({ replicas: 0 });
    expect(blue?.metadata.annotations).toMatchObject({ [REPLICAS_ANNOTATION]: "2" });
    expect(await platform.endpoints("blue")).toEqual([]);
    await platform.stop("blue"); // already stopped: nothing to do
    expect(patches(s.api)).toHaveLength(1);

    await platform.deploy("blue", "v4", signal);
    expect(s.api.find("Deployment", "shop-blue")?.spec).toMatchObject({ replicas: 2 });
    await platform.scale("blue", 3);
    expect(await s.kubectl("get", "deploy", "shop-blue", "-o", "jsonpath={.spec.replicas}")).toBe("3");
  });

  it("sets the configured replicas on every deploy", async () => {
    const s = await setup();
    await s.platform({ replicas: 4 }).deploy("blue", "v2", signal);
    expect(s.api.find("Deployment", "shop-blue")?.spec).toMatchObject({ replicas: 4 });
  });

  it("gives the slot's Service URL, a configured template, or a URL per slot", async () => {
    const s = await setup();
    expect(await s.platform().endpoints("blue")).toEqual([{ slot: "blue", replica: 0, host: "shop-blue.default.svc", port: 80, url: "http://shop-blue.default.svc" }]);
    expect(await s.platform({ endpoint: "https://{app}-{slot}.{namespace}.internal:8443/" }).endpoints("blue")).toEqual([
      { slot: "blue", replica: 0, host: "shop-blue.default.internal", port: 8443, url: "https://shop-blue.default.internal:8443" },
    ]);
    const perSlot = s.platform({ endpoint: { blue: "http://127.0.0.1:9001", green: "http://127.0.0.1:9002" } });
    expect((await perSlot.endpoints("blue")).map((endpoint) => endpoint.url)).toEqual(["http://127.0.0.1:9001"]);
    expect(await perSlot.endpoints("green")).toEqual([]); // scaled to 0: nothing runs there
  });

  it("reads the namespace from the kubeconfig's context, and names a context it does not have", async () => {
    const s = await setup({ ...APP, namespace: "shop-prod" });
    s.api.writeKubeconfig(s.dir, { namespace: "shop-prod" });
    expect(await s.platform().describe("blue")).toMatchObject({ replicas: 2 });
    await expect(s.platform({ context: "prod" }).describe("blue")).rejects.toThrow(/The kubeconfig has no context "prod" \(it has: kube-api-double\)/);
  });

  it("asks to choose a container when the pod template has several", async () => {
    const s = await setup();
    await expect(s.platform({ container: undefined }).deploy("green", "v2", signal)).rejects.toThrow(/shop-green has 2 containers \(shop, log-shipper\)/);
    await expect(s.platform({ container: "web" }).deploy("green", "v2", signal)).rejects.toThrow(/has no container "web" \(it has: shop, log-shipper\)/);
    expect(patches(s.api)).toHaveLength(0);
  });

  it("reads again and retries when the Deployment changed between its read and its patch (409)", async () => {
    const s = await setup();
    let concurrentWrites = 0;
    s.api.intercept = (request) => {
      if (request.method === "PATCH" && concurrentWrites < 1) {
        concurrentWrites += 1;
        const green = s.api.find("Deployment", "shop-green") as KubeObject;
        s.api.seed({ ...green, metadata: { ...green.metadata, labels: { ...green.metadata.labels, team: "payments" } } });
      }
      return undefined;
    };
    await s.platform().deploy("green", "v2", signal);
    // At least the refused patch and its retry; the double's controller may bump the
    // resourceVersion once more (a status update), which costs one more honest retry.
    expect(patches(s.api).length).toBeGreaterThanOrEqual(2);
    const green = s.api.find("Deployment", "shop-green");
    expect(green?.metadata.labels).toMatchObject({ team: "payments" });
    expect(containers(green)[0]?.image).toBe("registry.example/shop:v2");
  });

  it("says what is missing: a Deployment, or the API server", async () => {
    const s = await setup({ app: "shop" });
    const missing = s.platform({ deployment: "web-{slot}" });
    expect(await missing.describe("green")).toEqual({ version: undefined, replicas: 0, runningReplicas: 0 });
    const error = await missing.deploy("green", "v2", signal).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as PlatformError).message).toBe("Cannot deploy v2 to green: Deployment default/web-green does not exist.");
    expect((error as PlatformError).hint).toMatch(/create web-blue and web-green first/);

    const platform = s.platform();
    await s.api.close();
    const unreachable = await platform.describe("blue").catch((thrown: unknown) => thrown);
    expect((unreachable as PlatformError).message).toMatch(/^reading Deployment default\/shop-blue failed: cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+/);
    expect((unreachable as PlatformError).hint).toMatch(/kubectl get pods/);
  });
});
