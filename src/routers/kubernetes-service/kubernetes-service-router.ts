// `router: { kind: kubernetes-service }`: traffic goes where a Service's selector points. A switch
// is one merge patch of one selector label — the change of
// `kubectl patch service shop -p '{"spec":{"selector":{"version":"green"}}}'` — and verify-switch
// reads the Service's EndpointSlices until every ready endpoint is a pod of the new slot. The
// router keeps no state of its own: the Service is the truth, after a restart too.
import type { V1EndpointSlice, V1Pod, V1Service } from "@kubernetes/client-node";
import type { FlipConfig } from "../../config/schema.js";
import { formatDuration } from "../../core/duration.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import { connectKube, describeKubeError, hintFor, statusOf, type KubeAccess, type KubeClients } from "../../platforms/kubernetes/kube-client.js";
import { isPodReady } from "../../platforms/kubernetes/rollout.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import type { KubernetesServiceRouterConfig } from "./config.js";

/** Where the Service's ready endpoints point, as seen in one read of its EndpointSlices. */
export interface EndpointsView {
  /** The Service's selector picks the slot being verified (else the endpoints may just lag behind). */
  selected: boolean;
  /** Pod names of the ready endpoints (an endpoint without a pod is named by its address). */
  ready: string[];
  /** Those that are not pods of the slot being verified. */
  foreign: string[];
}

/** Converged when the selector picks the slot, and every ready endpoint (at least one) is one of its pods. */
export function hasConverged(view: EndpointsView): boolean {
  return view.selected && view.ready.length > 0 && view.foreign.length === 0;
}

/** Ready endpoints of the slices, split by whether their pod is one of `slotPods`. */
export function endpointsView(selected: boolean, slices: V1EndpointSlice[], slotPods: ReadonlySet<string>): EndpointsView {
  // conditions.ready unset means ready (the EndpointSlice API's own rule).
  const ready = slices.flatMap((slice) => slice.endpoints.filter((endpoint) => endpoint.conditions?.ready !== false));
  const names = ready.map((endpoint) => (endpoint.targetRef?.kind === "Pod" && endpoint.targetRef.name ? endpoint.targetRef.name : endpoint.addresses.join(",")));
  return { selected, ready: names, foreign: names.filter((name) => !slotPods.has(name)) };
}

export class KubernetesServiceRouter implements Router {
  readonly kind = "kubernetes-service";
  readonly capabilities: RouterCapabilities = { weights: false, mirror: false, verify: true, traffic: false };
  private connecting: Promise<KubeClients> | undefined;
  private readonly serviceName: string;

  constructor(
    private readonly config: KubernetesServiceRouterConfig,
    private readonly context: RouterContext,
    private readonly access: KubeAccess & { configDir: string },
  ) {
    this.serviceName = config.service ?? context.app;
  }

  /** Connects on first use; a failed connect is tried again next time. */
  private kube(): Promise<KubeClients> {
    this.connecting ??= connectKube(this.access, this.access.configDir, (message, hint, options) => new RouterError(message, hint, options)).catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private where(kube: KubeClients): string {
    return `Service ${kube.namespace}/${this.serviceName}`;
  }

  /** Reads the Service once, so a missing one or missing permissions show when flip serve starts. */
  async start(): Promise<void> {
    const live = await this.live();
    const kube = await this.kube();
    this.context.logger.info({ live }, `${this.where(kube)}: selector ${this.config.label}=${live ? this.config.values[live] : "(neither slot)"}`);
  }

  /** The Service selects pods itself: the platform's endpoints are not needed to route. */
  async setTargets(_slot: Slot, _endpoints: Endpoint[]): Promise<void> {}

  async live(): Promise<Slot | undefined> {
    return this.slotOf(await this.readService(await this.kube()));
  }

  async switchTo(slot: Slot): Promise<void> {
    const kube = await this.kube();
    const service = await this.readService(kube);
    const from = this.slotOf(service);
    if (from === slot) return; // already there: no patch, so no new resourceVersion either
    const value = this.config.values[slot];
    const selector = { ...(service.spec?.selector ?? {}), [this.config.label]: value };
    const readyPods = (await this.listPods(kube, selector)).filter(isPodReady);
    if (readyPods.length === 0) throw new EmptySlotError(slot, `no ready pod matches the selector ${formatSelector(selector)} in namespace ${kube.namespace}`);
    // One patch of one label; the resourceVersion makes it fail (409) rather than overwrite a concurrent change.
    const body = { metadata: { resourceVersion: service.metadata?.resourceVersion }, spec: { selector: { [this.config.label]: value } } };
    try {
      await kube.core.patchNamespacedService({ name: this.serviceName, namespace: kube.namespace, body }, kube.mergePatch);
    } catch (error) {
      if (statusOf(error) === 409) {
        throw new RouterError(`${this.where(kube)} changed while Flip was switching it to ${slot}; Flip changed nothing.`, "Someone else is editing it: check `kubectl get service -o yaml`, then switch again.", { cause: error });
      }
      throw this.failure(kube, error, `patching the selector of ${this.where(kube)}`, "patch services");
    }
    this.context.logger.info({ from, to: slot }, `${this.where(kube)}: selector ${this.config.label}=${value}`);
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /** `flip deploy --dry-run`: the patch switchTo() would send, as kubectl would send it; only reads. */
  async planSwitch(slot: Slot): Promise<string[]> {
    const kube = await this.kube();
    const service = await this.readService(kube);
    const value = this.config.values[slot];
    if (this.slotOf(service) === slot) return [`${this.where(kube)} already selects ${slot} (${this.config.label}=${value}): no change`];
    const selector = { ...(service.spec?.selector ?? {}), [this.config.label]: value };
    const ready = (await this.listPods(kube, selector)).filter(isPodReady).length;
    const patch = JSON.stringify({ spec: { selector: { [this.config.label]: value } } });
    return [
      `${this.where(kube)}: selector ${formatSelector(service.spec?.selector ?? {})} → ${formatSelector(selector)} (${ready} ready pod${ready === 1 ? "" : "s"} match${ready === 1 ? "es" : ""} it now; the switch needs at least one)`,
      `one merge patch, conditional on resourceVersion ${service.metadata?.resourceVersion ?? "?"}: kubectl -n ${kube.namespace} patch service ${this.serviceName} --type=merge -p '${patch}'`,
      `then read its EndpointSlices every ${formatDuration(this.config.pollInterval)} until they list only ${slot} pods`,
    ];
  }

  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const { clock } = this.context;
    const kube = await this.kube();
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const view = await this.readEndpoints(kube, slot);
      if (hasConverged(view)) return;
      if (clock.now() >= deadline) {
        throw new TimeoutError(
          `${this.where(kube)} did not converge on ${slot} within ${formatDuration(timeoutMs)}: ${this.describeView(view, slot)}.`,
          `See \`kubectl -n ${kube.namespace} get endpointslices -l kubernetes.io/service-name=${this.serviceName} -o wide\`.`,
        );
      }
      await clock.sleep(Math.min(this.config.pollInterval, deadline - clock.now()));
    }
  }

  private describeView(view: EndpointsView, slot: Slot): string {
    if (!view.selected) return `its selector does not pick ${slot} (${this.config.label}=${this.config.values[slot]})`;
    if (view.ready.length === 0) return "it has no ready endpoint";
    return `${view.foreign.length} of its ${view.ready.length} ready endpoints are not ${slot} pods (${view.foreign.slice(0, 5).join(", ")})`;
  }

  async close(): Promise<void> {
    // No connections or watches are kept open.
  }

  // ---- API calls -----------------------------------------------------------------------------

  private slotOf(service: V1Service): Slot | undefined {
    const value = service.spec?.selector?.[this.config.label];
    if (value === this.config.values.blue) return "blue";
    if (value === this.config.values.green) return "green";
    return undefined;
  }

  private async readService(kube: KubeClients): Promise<V1Service> {
    try {
      return await kube.core.readNamespacedService({ name: this.serviceName, namespace: kube.namespace });
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new RouterError(`${this.where(kube)} does not exist.`, "Create it first (see examples/kubernetes/), or fix `router.service` / `router.namespace` in flip.yaml.", { cause: error });
      }
      throw this.failure(kube, error, `reading ${this.where(kube)}`, "get services");
    }
  }

  private async readEndpoints(kube: KubeClients, slot: Slot): Promise<EndpointsView> {
    const service = await this.readService(kube);
    const slotPods = await this.listPods(kube, { ...(service.spec?.selector ?? {}), [this.config.label]: this.config.values[slot] });
    let slices: V1EndpointSlice[];
    try {
      const labelSelector = `kubernetes.io/service-name=${this.serviceName}`;
      slices = (await kube.discovery.listNamespacedEndpointSlice({ namespace: kube.namespace, labelSelector })).items;
    } catch (error) {
      throw this.failure(kube, error, `listing the EndpointSlices of ${this.where(kube)}`, "list endpointslices");
    }
    return endpointsView(this.slotOf(service) === slot, slices, new Set(slotPods.map((pod) => pod.metadata?.name ?? "")));
  }

  private async listPods(kube: KubeClients, selector: Record<string, string>): Promise<V1Pod[]> {
    try {
      return (await kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector: formatSelector(selector) })).items;
    } catch (error) {
      throw this.failure(kube, error, `listing the pods of ${this.where(kube)}`, "list pods");
    }
  }

  private failure(kube: KubeClients, error: unknown, what: string, verbAndResource: string): RouterError {
    return new RouterError(describeKubeError(error, what, kube.server), hintFor(error, verbAndResource), { cause: error });
  }
}

function formatSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** The router's namespace and credentials default to the kubernetes platform's, so they are written once. */
export function createKubernetesServiceRouter(config: KubernetesServiceRouterConfig, flipConfig: FlipConfig, context: RouterContext): KubernetesServiceRouter {
  const platform = flipConfig.platform.kind === "kubernetes" ? flipConfig.platform : undefined;
  return new KubernetesServiceRouter(config, context, {
    configDir: flipConfig.dir,
    namespace: config.namespace ?? platform?.namespace,
    kubeconfig: config.kubeconfig ?? platform?.kubeconfig,
    context: config.context ?? platform?.context,
  });
}
