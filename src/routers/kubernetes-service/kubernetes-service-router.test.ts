// The kubernetes-service router against the Kubernetes API double (node:http on loopback), with the
// real kubectl reading and writing the same Service.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock, type Clock } from "../../core/clock.js";
import { ManualClock } from "../../core/clock.testing.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import type { Slot } from "../../core/slots.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { isReady } from "../../testing/kube-api/controller.js";
import { blueGreenApp, driveClock, eventually, kubectl, slotDeployment, type AppFixture } from "../../testing/kube-api/fixtures.js";
import type { KubeObject } from "../../testing/kube-api/objects.js";
import { startKubeApi, type KubeApiDouble } from "../../testing/kube-api/server.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { kubernetesServiceRouterSchema } from "./config.js";
import { endpointsView, hasConverged, KubernetesServiceRouter } from "./kubernetes-service-router.js";

const FAST = { observeDelayMs: 5, readyDelayMs: 30, endpointsDelayMs: 20 };

interface Setup {
  api: KubeApiDouble;
  dir: string;
  kubeconfig: string;
  app: AppFixture;
  router(options?: { config?: Record<string, unknown>; clock?: Clock; events?: RouterEvent[] }): KubernetesServiceRouter;
  /** Puts a version in a slot and waits until its pods are ready. */
  fill(slot: Slot): Promise<void>;
  kubectl(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

async function setup(app: AppFixture = { app: "shop" }): Promise<Setup> {
  const api = await startKubeApi(FAST);
  api.seed(...blueGreenApp(app));
  const dir = mkdtempSync(join(tmpdir(), "flip-kube-router-"));
  const kubeconfig = api.writeKubeconfig(dir);
  const images: Partial<Record<Slot, string>> = {};
  return {
    api,
    dir,
    kubeconfig,
    app,
    router({ config = {}, clock = systemClock, events } = {}) {
      const section = kubernetesServiceRouterSchema.parse({ kind: "kubernetes-service", pollInterval: "20ms", ...config });
      const context = { app: app.app, logger: silentLogger, clock, state: new MemoryDriverState(), ...(events ? { onEvent: (event: RouterEvent) => events.push(event) } : {}) };
      return new KubernetesServiceRouter(section, context, { configDir: dir, kubeconfig });
    },
    async fill(slot) {
      images[slot] = `registry.example/${app.app}:${slot}-1`;
      api.seed(slotDeployment({ ...app, images }, slot));
      const selector = `app=${app.app},${app.slotLabel ?? "version"}=${app.slotValues?.[slot] ?? slot}`;
      await eventually(() => api.list("Pod", selector).some(isReady), `${slot} pods ready`);
    },
    async kubectl(...args) {
      const result = await kubectl(kubeconfig, join(dir, "cache"), args);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
      return result.stdout;
    },
    async close() {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function kubeFixture(): RouterFixture {
  let current: Setup | undefined;
  const routers: Router[] = [];
  const make = () => {
    const router = (current as Setup).router();
    routers.push(router);
    return router;
  };
  return {
    async create() {
      current = await setup();
      return make();
    },
    fillSlot: (_router, slot) => (current as Setup).fill(slot),
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    async cleanup() {
      for (const router of routers.splice(0)) await router.close();
      await current?.close();
    },
  };
}

routerContract("kubernetes-service", kubeFixture);

describe("KubernetesServiceRouter", () => {
  const setups: Setup[] = [];
  afterEach(async () => {
    for (const item of setups.splice(0)) await item.close();
  });
  async function started(app?: AppFixture) {
    const item = await setup(app);
    setups.push(item);
    return item;
  }
  const patches = (api: KubeApiDouble) => api.requests.filter((request) => request.method === "PATCH");

  it("switches with one merge patch of the selector label, and not at all when already there", async () => {
    const s = await started();
    const events: RouterEvent[] = [];
    const router = s.router({ events });
    await s.fill("blue");
    await s.fill("green");

    await router.switchTo("green");
    expect(patches(s.api)).toHaveLength(1);
    expect(patches(s.api)[0]).toMatchObject({
      path: "/api/v1/namespaces/default/services/shop",
      contentType: "application/merge-patch+json",
      body: { spec: { selector: { version: "green" } } },
    });
    expect(s.api.find("Service", "shop")?.spec).toMatchObject({ selector: { app: "shop", version: "green" } });
    expect(events).toMatchObject([{ type: "switched", from: undefined, to: "green" }]);

    await router.switchTo("green");
    expect(patches(s.api)).toHaveLength(1);
    await router.verify("green", 5_000);
  });

  it("plans a switch (flip deploy --dry-run) as the exact patch, making none", async () => {
    const s = await started();
    const router = s.router();
    await s.fill("green");
    const plan = await router.planSwitch("green");
    expect(plan[0]).toBe("Service default/shop: selector app=shop → app=shop,version=green (2 ready pods match it now; the switch needs at least one)");
    expect(plan[1]).toMatch(/^one merge patch, conditional on resourceVersion \d+: kubectl -n default patch service shop --type=merge -p '\{"spec":\{"selector":\{"version":"green"\}\}\}'$/);
    expect(await router.planSwitch("blue")).toContain("Service default/shop: selector app=shop → app=shop,version=blue (0 ready pods match it now; the switch needs at least one)");
    expect(patches(s.api)).toHaveLength(0);
    await router.switchTo("green");
    expect(await router.planSwitch("green")).toEqual(["Service default/shop already selects green (version=green): no change"]);
  });

  it("shows kubectl the selector it set, and sees the selector kubectl sets", async () => {
    const s = await started();
    const router = s.router();
    await s.fill("blue");
    await s.fill("green");
    await router.switchTo("green");
    expect(JSON.parse(await s.kubectl("get", "svc", "shop", "-o", "jsonpath={.spec.selector}"))).toEqual({ app: "shop", version: "green" });

    await s.kubectl("patch", "service", "shop", "-p", '{"spec":{"selector":{"version":"blue"}}}');
    expect(await router.live()).toBe("blue");
    await router.verify("blue", 5_000);

    await s.kubectl("patch", "service", "shop", "-p", '{"spec":{"selector":{"version":"canary"}}}');
    expect(await router.live()).toBeUndefined();
  });

  it("uses the configured Service, label and values", async () => {
    const s = await started({ app: "shop", slotLabel: "track", slotValues: { blue: "stable-a", green: "stable-b" } });
    const router = s.router({ config: { service: "shop", label: "track", values: { blue: "stable-a", green: "stable-b" } } });
    await s.fill("green");
    await expect(router.switchTo("blue")).rejects.toThrow(/no ready pod matches the selector app=shop,track=stable-a/);
    await router.switchTo("green");
    expect(s.api.find("Service", "shop")?.spec).toMatchObject({ selector: { app: "shop", track: "stable-b" } });
    expect(await router.live()).toBe("green");
    await router.verify("green", 5_000);
    const wrongLabel = s.router({ config: { label: "version" } });
    expect(await wrongLabel.live()).toBeUndefined();
  });

  it("refuses an empty slot: a Deployment scaled to 0, or pods that are not ready", async () => {
    const s = await started();
    const router = s.router();
    const error = await router.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(EmptySlotError);
    expect((error as Error).message).toContain("app=shop,version=green");
    s.api.controller.options.podOutcome = () => ({ ready: false, reason: "ImagePullBackOff" });
    s.api.seed(slotDeployment({ ...s.app, images: { green: "r/shop:broken" } }, "green"));
    await eventually(() => s.api.list("Pod", "version=green").length === 2, "green pods");
    await expect(router.switchTo("green")).rejects.toBeInstanceOf(EmptySlotError);
    expect(patches(s.api)).toHaveLength(0);
  });

  it("fails without changing anything when the Service changes between its read and its patch (409)", async () => {
    const s = await started();
    const router = s.router();
    await s.fill("blue");
    s.api.intercept = (request) => {
      if (request.method === "PATCH") {
        const service = s.api.find("Service", "shop") as KubeObject;
        s.api.seed({ ...service, metadata: { ...service.metadata, labels: { edited: "by-someone" } } });
      }
      return undefined;
    };
    const error = await router.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as Error).message).toMatch(/changed while Flip was switching/);
    expect(s.api.find("Service", "shop")?.spec).toEqual(expect.objectContaining({ selector: { app: "shop" } }));
  });

  it("times out verify() on the injected clock while the endpoints still show the other slot", async () => {
    const s = await started();
    const router = s.router();
    await s.fill("blue");
    await s.fill("green");
    await router.switchTo("blue");
    const slices = () => JSON.stringify(s.api.list("EndpointSlice"));
    await eventually(() => slices().includes("shop-blue") && !slices().includes("shop-green"), "blue endpoints only");
    s.api.controller.options.endpointsStalled = true;
    await router.switchTo("green");

    const clock = new ManualClock();
    const stalled = s.router({ config: { pollInterval: "1s" }, clock });
    const error = await driveClock(clock, stalled.verify("green", 5_000).catch((thrown: unknown) => thrown), 1_000, 2);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/did not converge on green within 5.0s: 2 of its 2 ready endpoints are not green pods \(shop-blue-/);
    const reads = s.api.requests.filter((request) => request.path.endsWith("/endpointslices")).length;
    expect(reads).toBeGreaterThanOrEqual(5);

    const wrongSlot = await driveClock(clock, stalled.verify("blue", 2_000).catch((thrown: unknown) => thrown), 1_000, 2);
    expect((wrongSlot as Error).message).toMatch(/did not converge on blue within 2.0s: its selector does not pick blue \(version=blue\)/);
  });

  it("names the Service and what to do when it does not exist or access is denied", async () => {
    const s = await started();
    const missing = s.router({ config: { service: "nope" } });
    await expect(missing.start()).rejects.toThrow(/Service default\/nope does not exist/);

    s.api.intercept = () => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "Forbidden", message: 'services "shop" is forbidden: User "flip" cannot get resource "services"', code: 403 });
    const denied = await s.router().live().catch((thrown: unknown) => thrown);
    expect(denied).toBeInstanceOf(RouterError);
    expect((denied as RouterError).message).toMatch(/HTTP 403\): Forbidden: services "shop" is forbidden/);
    expect((denied as RouterError).hint).toMatch(/get services.*rbac\.yaml/);
  });
});

describe("endpointsView", () => {
  const slice = (endpoints: { name: string; ready?: boolean }[]) => ({
    addressType: "IPv4",
    endpoints: endpoints.map(({ name, ready }) => ({ addresses: ["10.0.0.1"], targetRef: { kind: "Pod", name }, ...(ready === undefined ? {} : { conditions: { ready } }) })),
  });

  it("counts endpoints whose readiness is unset as ready, and ignores the ones not ready", () => {
    const view = endpointsView(true, [slice([{ name: "g1" }, { name: "b1", ready: false }])], new Set(["g1"]));
    expect(view).toEqual({ selected: true, ready: ["g1"], foreign: [] });
    expect(hasConverged(view)).toBe(true);
  });

  it("has not converged with no ready endpoint, with one of another slot, or while the selector picks another slot", () => {
    expect(hasConverged(endpointsView(true, [], new Set()))).toBe(false);
    expect(hasConverged(endpointsView(true, [slice([{ name: "g1" }]), slice([{ name: "b1" }])], new Set(["g1"])))).toBe(false);
    expect(hasConverged(endpointsView(false, [slice([{ name: "g1" }])], new Set(["g1"])))).toBe(false);
  });
});
