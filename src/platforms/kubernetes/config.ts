// `platform: { kind: kubernetes }` — each slot is a Deployment; a deploy sets its image.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

const url = z.string().regex(/^https?:\/\/[^/\s]+/, "expected a URL such as http://shop-{slot}.internal or http://shop-green.shop.svc:8080");

export const kubernetesPlatformSchema = z
  .object({
    kind: z.literal("kubernetes"),
    /** The image of a version; templated with {version}, {slot}, {app}. */
    image: z.string().min(1),
    /** The Deployment of a slot; templated with {app}, {slot}. */
    deployment: z.string().min(1).default("{app}-{slot}"),
    /** The container whose image changes; absent → the pod template's only container. */
    container: z.string().min(1).optional(),
    /** Absent → the kubeconfig context's namespace, else "default". */
    namespace: z.string().min(1).optional(),
    /** Replicas of a deployed slot; absent → the Deployment's own count (restored after a stop). */
    replicas: z.number().int().min(1).max(1000).optional(),
    /** Where checks reach a slot: a template ({slot} {app} {namespace} {deployment}) or a URL per slot. */
    endpoint: z.union([url, z.strictObject({ blue: url, green: url })]).default("http://{deployment}.{namespace}.svc"),
    /** A kubeconfig file, relative to flip.yaml; absent → KUBECONFIG, ~/.kube/config, in-cluster. */
    kubeconfig: z.string().min(1).optional(),
    /** A context of the kubeconfig; absent → its current context. */
    context: z.string().min(1).optional(),
    /** How often a rollout's progress is read while waiting for it. */
    pollInterval: durationOr("1s"),
  })
  .strict();

export type KubernetesPlatformConfig = z.output<typeof kubernetesPlatformSchema>;
