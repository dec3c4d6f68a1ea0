// `platform: { kind: kubernetes }`: each slot is a Deployment (`<app>-blue`, `<app>-green`) that
// Flip does not create: it sets the container's image (one strategic merge patch, the change of
// `kubectl set image`), waits with `kubectl rollout status` semantics, and scales. The version is
// also written as the annotation flip.dev/version, so a restarted controller reads it back: the
// cluster keeps the state, there is nothing to adopt.
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { formatDuration } from "../../core/duration.js";
import { PlatformError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";
import type { Platform, PlatformContext, SlotRuntime } from "../platform.js";
import type { KubernetesPlatformConfig } from "./config.js";
import { connectKube, describeKubeError, formatLabelSelector, hintFor, statusOf, type KubeClients } from "./kube-client.js";
import { describeUnreadyPods, rolloutState } from "./rollout.js";

/** The version deployed to a Deployment, read back by describe() and after a restart. */
export const VERSION_ANNOTATION = "flip.dev/version";
/** The replicas a Deployment had when Flip stopped it, restored by the next deploy. */
export const REPLICAS_ANNOTATION = "flip.dev/replicas";
/** A deploy retries this many times when the Deployment changed between its read and its patch (409). */
const DEPLOY_ATTEMPTS = 3;

/** The strategic merge patch of a deploy: the container's image, the version annotations, maybe replicas. */
export function deployPatch(options: { version: string; image: string; container: string; resourceVersion?: string; replicas?: number }): object {
  const annotations = { [VERSION_ANNOTATION]: options.version };
  return {
    // The resourceVersion makes the patch conditional: it fails (409) if the Deployment changed since it was read.
    metadata: { annotations, ...(options.resourceVersion ? { resourceVersion: options.resourceVersion } : {}) },
    spec: {
      ...(options.replicas !== undefined ? { replicas: options.replicas } : {}),
      // On the pod template too: pods say which version they run, and a redeploy of the same image restarts them.
      template: { metadata: { annotations }, spec: { containers: [{ name: options.container, image: options.image }] } },
    },
  };
}

export class KubernetesPlatform implements Platform {
  readonly kind = "kubernetes";
  private connecting: Promise<KubeClients> | undefined;

  constructor(
    private readonly config: KubernetesPlatformConfig,
    private readonly context: PlatformContext,
  ) {}

  /** Connects on first use, so building the platform never touches the kubeconfig; a failed connect is tried again next time. */
  private kube(): Promise<KubeClients> {
    this.connecting ??= connectKube(this.config, this.context.configDir, (message, hint, options) => new PlatformError(message, hint, options)).catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  deploymentName(slot: Slot): string {
    return renderTemplate(this.config.deployment, { app: this.context.app, slot });
  }

  private where(kube: KubeClients, slot: Slot): string {
    return `Deployment ${kube.namespace}/${this.deploymentName(slot)}`;
  }

  /** The cluster keeps the state: nothing to adopt. Reads each slot once so a bad setup shows at start. */
  async recover(signal: AbortSignal): Promise<void> {
    const kube = await this.kube();
    for (const slot of SLOTS) {
      signal.throwIfAborted();
      const deployment = await this.readDeployment(slot);
      if (!deployment) {
        this.context.logger.warn({ slot }, `${this.where(kube, slot)} does not exist yet; create it before deploying (see examples/kubernetes/)`);
        continue;
      }
      const runtime = runtimeOf(deployment);
      this.context.logger.info({ slot, ...runtime }, `${this.where(kube, slot)}: ${runtime.version ?? "no version"}, ${runtime.runningReplicas}/${runtime.replicas} ready`);
    }
  }

  /** `flip deploy --dry-run`: the patch deploy() would send, as kubectl would send it; only reads. */
  async planDeploy(slot: Slot, version: string): Promise<string[]> {
    const kube = await this.kube();
    const image = renderTemplate(this.config.image, { version, slot, app: this.context.app });
    const current = await this.requireDeployment(slot, `deploy ${version} to ${slot}`);
    const container = this.containerOf(current);
    const before = current.spec?.template?.spec?.containers?.find((candidate) => candidate.name === container)?.image ?? "?";
    const replicas = this.replicasToDeploy(current);
    const patch = JSON.stringify(deployPatch({ version, image, container, ...(replicas !== undefined ? { replicas } : {}) }));
    const name = this.deploymentName(slot);
    return [
      `${this.where(kube, slot)}: container ${container} image ${before} → ${image}, annotation ${VERSION_ANNOTATION}=${version}${replicas !== undefined ? `, replicas ${current.spec?.replicas ?? 1} → ${replicas}` : ""}`,
      `one strategic merge patch, conditional on resourceVersion ${current.metadata?.resourceVersion ?? "?"}: kubectl -n ${kube.namespace} patch deployment ${name} --type=strategic -p '${patch}'`,
      `then read it every ${formatDuration(this.config.pollInterval)} until its rollout is complete (kubectl -n ${kube.namespace} rollout status deployment/${name})`,
    ];
  }

  async deploy(slot: Slot, version: string, signal: AbortSignal): Promise<void> {
    const kube = await this.kube();
    const image = renderTemplate(this.config.image, { version, slot, app: this.context.app });
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      const current = await this.requireDeployment(slot, `deploy ${version} to ${slot}`);
      const body = deployPatch({
        version,
        image,
        container: this.containerOf(current),
        resourceVersion: current.metadata?.resourceVersion,
        replicas: this.replicasToDeploy(current),
      });
      try {
        await kube.apps.patchNamespacedDeployment({ name: this.deploymentName(slot), namespace: kube.namespace, body }, kube.strategicMergePatch);
        this.log(slot, `${this.where(kube, slot)}: image set to ${image}`);
        return;
      } catch (error) {
        if (statusOf(error) === 409 && attempt < DEPLOY_ATTEMPTS) continue; // changed under us: read it again
        throw this.failure(kube, error, `patching ${this.where(kube, slot)}`, "patch deployments");
      }
    }
  }

  /** `config.replicas`, else the Deployment's own count; after a stop, the count it had before. */
  private replicasToDeploy(current: V1Deployment): number | undefined {
    if (this.config.replicas !== undefined) return this.config.replicas;
    if ((current.spec?.replicas ?? 1) > 0) return undefined;
    const before = Number(current.metadata?.annotations?.[REPLICAS_ANNOTATION]);
    return Number.isInteger(before) && before > 0 ? before : 1;
  }

  private containerOf(deployment: V1Deployment): string {
    const names = deployment.spec?.template?.spec?.containers?.map((container) => container.name) ?? [];
    const name = deployment.metadata?.name ?? "?";
    if (this.config.container !== undefined) {
      if (names.includes(this.config.container)) return this.config.container;
      throw new PlatformError(`Deployment ${name} has no container "${this.config.container}" (it has: ${names.join(", ") || "none"}).`, "Fix `platform.container` in flip.yaml.");
    }
    if (names.length === 1) return names[0] as string;
    throw new PlatformError(`Deployment ${name} has ${names.length} containers (${names.join(", ")}); Flip does not know whose image to set.`, "Name it with `platform.container` in flip.yaml.");
  }

  async waitReady(slot: Slot, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const { clock } = this.context;
    const kube = await this.kube();
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      signal.throwIfAborted();
      const deployment = await this.requireDeployment(slot, `wait for ${slot}`);
      if ((deployment.spec?.replicas ?? 1) === 0) {
        throw new PlatformError(`${this.where(kube, slot)} is scaled to 0, so it cannot become ready.`, `Deploy a version to ${slot} (or scale it up) first.`);
      }
      const state = rolloutState(deployment);
      if (state.done) return;
      if (state.failed || clock.now() >= deadline) {
        const pods = describeUnreadyPods(await this.podsOf(deployment));
        const version = deployment.metadata?.annotations?.[VERSION_ANNOTATION] ?? "?";
        const message = `${slot} (${this.where(kube, slot)}, ${version}) ${state.failed ? "failed" : `is not ready after ${formatDuration(timeoutMs)}`}: ${state.reason}; ${pods}.`;
        const hint = `See \`kubectl -n ${kube.namespace} describe pods -l ${formatLabelSelector(deployment.spec?.selector)}\`.`;
        throw state.failed ? new PlatformError(message, hint) : new TimeoutError(message, hint);
      }
      await clock.sleep(Math.min(this.config.pollInterval, deadline - clock.now()), signal);
    }
  }

  private async podsOf(deployment: V1Deployment): Promise<V1Pod[]> {
    const kube = await this.kube();
    const labelSelector = formatLabelSelector(deployment.spec?.selector);
    try {
      return (await kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector })).items;
    } catch (error) {
      throw this.failure(kube, error, `listing the pods of Deployment ${deployment.metadata?.name ?? "?"}`, "list pods");
    }
  }

  async scale(slot: Slot, replicas: number): Promise<void> {
    await this.patchDeployment(slot, { spec: { replicas } }, `scaling to ${replicas}`);
  }

  /** Scales to 0, remembering the replica count for the next deploy. A missing Deployment is already stopped. */
  async stop(slot: Slot): Promise<void> {
    const deployment = await this.readDeployment(slot);
    const replicas = deployment?.spec?.replicas ?? 0;
    if (!deployment || replicas === 0) return;
    const body = { metadata: { annotations: { [REPLICAS_ANNOTATION]: String(replicas) } }, spec: { replicas: 0 } };
    await this.patchDeployment(slot, body, `scaling to 0 (was ${replicas})`);
  }

  /** The slot's URL while its Deployment asks for replicas; nothing when it is missing or scaled to 0. */
  async endpoints(slot: Slot): Promise<Endpoint[]> {
    const deployment = await this.readDeployment(slot);
    if (!deployment || (deployment.spec?.replicas ?? 1) === 0) return [];
    const template = typeof this.config.endpoint === "string" ? this.config.endpoint : this.config.endpoint[slot];
    const { namespace } = await this.kube();
    const url = renderTemplate(template, { slot, app: this.context.app, namespace, deployment: this.deploymentName(slot) }).replace(/\/+$/, "");
    const parsed = new URL(url);
    const port = parsed.port === "" ? (parsed.protocol === "https:" ? 443 : 80) : Number(parsed.port);
    return [{ slot, replica: 0, host: parsed.hostname, port, url }];
  }

  async describe(slot: Slot): Promise<SlotRuntime> {
    const deployment = await this.readDeployment(slot);
    return deployment ? runtimeOf(deployment) : { version: undefined, replicas: 0, runningReplicas: 0 };
  }

  async close(): Promise<void> {
    // Nothing to release: no watches, and the pods belong to the cluster.
  }

  // ---- API calls -----------------------------------------------------------------------------

  private async readDeployment(slot: Slot): Promise<V1Deployment | undefined> {
    const kube = await this.kube();
    try {
      return await kube.apps.readNamespacedDeployment({ name: this.deploymentName(slot), namespace: kube.namespace });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.failure(kube, error, `reading ${this.where(kube, slot)}`, "get deployments");
    }
  }

  private async requireDeployment(slot: Slot, purpose: string): Promise<V1Deployment> {
    const deployment = await this.readDeployment(slot);
    if (deployment) return deployment;
    throw new PlatformError(
      `Cannot ${purpose}: ${this.where(await this.kube(), slot)} does not exist.`,
      `Flip deploys into existing Deployments: create ${this.deploymentName("blue")} and ${this.deploymentName("green")} first (see examples/kubernetes/), or fix \`platform.deployment\` / \`platform.namespace\`.`,
    );
  }

  /** A merge patch; `change` says what it does, e.g. "scaling to 3". */
  private async patchDeployment(slot: Slot, body: object, change: string): Promise<void> {
    const kube = await this.kube();
    try {
      await kube.apps.patchNamespacedDeployment({ name: this.deploymentName(slot), namespace: kube.namespace, body }, kube.mergePatch);
    } catch (error) {
      throw this.failure(kube, error, `${this.where(kube, slot)}: ${change}`, "patch deployments");
    }
    this.log(slot, `${this.where(kube, slot)}: ${change}`);
  }

  private failure(kube: KubeClients, error: unknown, what: string, verbAndResource: string): PlatformError {
    if (error instanceof PlatformError) return error;
    return new PlatformError(describeKubeError(error, what, kube.server), hintFor(error, verbAndResource), { cause: error });
  }

  private log(slot: Slot, message: string): void {
    this.context.logger.info({ slot }, message);
    this.context.onEvent?.({ type: "log", slot, message });
  }
}

function runtimeOf(deployment: V1Deployment): SlotRuntime {
  return {
    version: deployment.metadata?.annotations?.[VERSION_ANNOTATION],
    replicas: deployment.spec?.replicas ?? 1,
    runningReplicas: deployment.status?.readyReplicas ?? 0,
  };
}
