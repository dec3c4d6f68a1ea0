// Objects for tests: the two Deployments of a blue-green app and the Service in front of them,
// shaped like examples/kubernetes/ (pods labelled app=<app>, version=<slot>).
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { ManualClock } from "../../core/clock.testing.js";
import type { KubeObject } from "./objects.js";

export interface AppFixture {
  app: string;
  namespace?: string;
  /** The container's name in both Deployments. */
  container?: string;
  /** Initial image per slot; a slot without one gets replicas 0. */
  images?: Partial<Record<"blue" | "green", string>>;
  replicas?: number;
  /** The Service's selector value of `version` at the start; absent → the Service selects no slot. */
  liveSlot?: "blue" | "green";
  /** The label key that tells the slots apart (default "version"). */
  slotLabel?: string;
  /** The label's value per slot (default: the slot's name). */
  slotValues?: Record<"blue" | "green", string>;
}

export function slotDeployment(fixture: AppFixture, slot: "blue" | "green"): KubeObject {
  const labels = { app: fixture.app, [fixture.slotLabel ?? "version"]: fixture.slotValues?.[slot] ?? slot };
  const image = fixture.images?.[slot];
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `${fixture.app}-${slot}`, namespace: fixture.namespace ?? "default", labels },
    spec: {
      replicas: image ? (fixture.replicas ?? 2) : 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            { name: fixture.container ?? fixture.app, image: image ?? `registry.example/${fixture.app}:none`, ports: [{ containerPort: 8080 }] },
            { name: "log-shipper", image: "registry.example/shipper:1" },
          ],
        },
      },
    },
  };
}

export function appService(fixture: AppFixture): KubeObject {
  const slotLabel = fixture.slotLabel ?? "version";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: fixture.app, namespace: fixture.namespace ?? "default" },
    spec: {
      selector: { app: fixture.app, ...(fixture.liveSlot ? { [slotLabel]: fixture.slotValues?.[fixture.liveSlot] ?? fixture.liveSlot } : {}) },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    },
  };
}

export function blueGreenApp(fixture: AppFixture): KubeObject[] {
  return [slotDeployment(fixture, "blue"), slotDeployment(fixture, "green"), appService(fixture)];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl against the double; never throws on a non-zero exit (tests assert on it). */
export function kubectl(kubeconfig: string, cacheDir: string, args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(
      process.env.KUBECTL ?? "kubectl",
      ["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, "--request-timeout", "10s", ...args],
      { timeout: 20_000, env: { ...process.env, KUBECONFIG: kubeconfig } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Waits (real time: the double's controller runs on real timers) until `check` holds. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Settles `promise` whose code polls the double on a ManualClock: whenever it sleeps, moves the
 * clock by `stepMs` after a short real pause, so the double's real-time controller keeps pace.
 */
export async function driveClock<T>(clock: ManualClock, promise: Promise<T>, stepMs: number, realPauseMs = 10): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5_000 && !settled; i++) {
    await sleep(realPauseMs);
    if (clock.pendingSleeps > 0) await clock.advance(stepMs);
  }
  return promise;
}
