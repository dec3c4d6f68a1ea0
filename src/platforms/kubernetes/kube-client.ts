// Access to the Kubernetes API for the `kubernetes` platform and the `kubernetes-service` router:
// credentials by kubectl's rules (KUBECONFIG, ~/.kube/config, then the in-cluster service account),
// the namespace by kubectl's rules too, and API failures turned into one readable line.
// @kubernetes/client-node is loaded on first use: it is large, and most `flip` commands never
// talk to a cluster.
import type { AppsV1Api, ConfigurationOptions, CoreV1Api, DiscoveryV1Api, V1LabelSelector } from "@kubernetes/client-node";
import path from "node:path";
import type { FlipError } from "../../core/errors.js";

export interface KubeAccess {
  /** A kubeconfig file (relative to flip.yaml); absent → KUBECONFIG, ~/.kube/config, in-cluster. */
  kubeconfig?: string | undefined;
  /** A context of that kubeconfig; absent → its current context. */
  context?: string | undefined;
  /** Absent → the context's namespace, else "default" (as kubectl). */
  namespace?: string | undefined;
}

export interface KubeClients {
  apps: AppsV1Api;
  core: CoreV1Api;
  discovery: DiscoveryV1Api;
  namespace: string;
  /** The API server's URL, for messages. */
  server: string;
  /** Request options that send a JSON merge patch (RFC 7386), the format of `kubectl patch --type=merge`. */
  mergePatch: ConfigurationOptions;
  /** Request options that send a strategic merge patch: lists such as `containers` merge by name (`kubectl patch`'s default). */
  strategicMergePatch: ConfigurationOptions;
}

type ErrorFactory = (message: string, hint?: string, options?: ErrorOptions) => FlipError;

/** Loads the kubeconfig and builds the API clients; a broken kubeconfig is a FlipError naming it. */
export async function connectKube(access: KubeAccess, configDir: string, fail: ErrorFactory): Promise<KubeClients> {
  const { AppsV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig, PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const kubeConfig = new KubeConfig();
  const file = access.kubeconfig === undefined ? undefined : path.resolve(configDir, access.kubeconfig);
  try {
    if (file) kubeConfig.loadFromFile(file);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw fail(`Cannot load the kubeconfig ${file ?? "(KUBECONFIG, ~/.kube/config or the in-cluster service account)"}: ${messageOf(error)}.`, "Check that `kubectl get pods` works with the same kubeconfig.", { cause: error });
  }
  if (access.context !== undefined) {
    if (!kubeConfig.getContextObject(access.context)) {
      const known = kubeConfig.getContexts().map((context) => context.name);
      throw fail(`The kubeconfig has no context "${access.context}" (it has: ${known.join(", ") || "none"}).`, "Fix `context` in flip.yaml, or see `kubectl config get-contexts`.");
    }
    kubeConfig.setCurrentContext(access.context);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw fail("The kubeconfig names no cluster for its current context.", "See `kubectl config view --minify`.");
  const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  return {
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    discovery: kubeConfig.makeApiClient(DiscoveryV1Api),
    namespace: access.namespace ?? (contextNamespace?.trim() || "default"),
    server: cluster.server,
    mergePatch: setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    strategicMergePatch: setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
  };
}

/** client-node's ApiException: an answer from the server with a non-2xx status (`code`) and its body. */
interface ApiAnswer {
  code: number;
  body: unknown;
}

function isApiAnswer(error: unknown): error is ApiAnswer {
  // Told apart by shape, so this module needs client-node only once connected. A failed connection
  // (node-fetch's FetchError) has a string code such as "ECONNREFUSED".
  return error instanceof Error && typeof (error as Partial<ApiAnswer>).code === "number" && "body" in error && "headers" in error;
}

/** The HTTP status of a failed API call, or undefined when the server was not reached. */
export function statusOf(error: unknown): number | undefined {
  return isApiAnswer(error) ? error.code : undefined;
}

/**
 * One line for a failed call: `what` (e.g. `reading Deployment shop/shop-green`) and the server's
 * own message from its Status answer, or why the server could not be reached.
 */
export function describeKubeError(error: unknown, what: string, server: string): string {
  if (isApiAnswer(error)) {
    const status = statusBody(error.body);
    const reason = status?.reason ? `${status.reason}: ` : "";
    return `${what} failed (HTTP ${error.code}): ${reason}${status?.message ?? String(error.body ?? "no details")}`;
  }
  return `${what} failed: cannot reach the Kubernetes API at ${server} (${messageOf(error)})`;
}

/** What to do about a failure, when there is something specific to say. */
export function hintFor(error: unknown, verbAndResource: string): string | undefined {
  const code = statusOf(error);
  if (code === 401) return "The API server did not accept the credentials: check the kubeconfig's user (`kubectl auth whoami`).";
  if (code === 403) return `Flip's service account or user may not ${verbAndResource}: grant it with a Role like examples/kubernetes/rbac.yaml.`;
  if (code === undefined) return "Check the cluster address in the kubeconfig and that `kubectl get pods` works from this machine.";
  return undefined;
}

function statusBody(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { reason, message } = value as { reason?: unknown; message?: unknown };
  return { ...(typeof reason === "string" ? { reason } : {}), ...(typeof message === "string" ? { message } : {}) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A Deployment's selector as the `labelSelector` query parameter writes it. */
export function formatLabelSelector(selector: V1LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(",");
    if (expression.operator === "In") terms.push(`${expression.key} in (${values})`);
    else if (expression.operator === "NotIn") terms.push(`${expression.key} notin (${values})`);
    else if (expression.operator === "Exists") terms.push(expression.key);
    else if (expression.operator === "DoesNotExist") terms.push(`!${expression.key}`);
  }
  return terms.join(",");
}
