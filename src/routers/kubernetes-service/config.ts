// `router: { kind: kubernetes-service }` — traffic follows a Service's selector label.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";

/** A label value: what Kubernetes accepts in a selector. */
const labelValue = z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "expected a label value: letters, digits, '-', '_', '.', at most 63");

export const kubernetesServiceRouterSchema = z
  .object({
    kind: z.literal("kubernetes-service"),
    /** The Service whose selector flips; absent → the app's name. */
    service: z.string().min(1).optional(),
    /** The selector label that tells the slots apart. */
    label: z.string().min(1).default("version"),
    /** The label's value for each slot. */
    values: z.strictObject({ blue: labelValue.default("blue"), green: labelValue.default("green") }).prefault({}),
    /** Absent → platform.namespace when the platform is kubernetes, else the kubeconfig context's, else "default". */
    namespace: z.string().min(1).optional(),
    /** Absent → platform.kubeconfig when the platform is kubernetes, else KUBECONFIG, ~/.kube/config, in-cluster. */
    kubeconfig: z.string().min(1).optional(),
    /** Absent → platform.context when the platform is kubernetes, else the kubeconfig's current context. */
    context: z.string().min(1).optional(),
    /** How often verify-switch reads the Service's EndpointSlices. */
    pollInterval: durationOr("1s"),
  })
  .strict()
  .refine((config) => config.values.blue !== config.values.green, { message: "values.blue and values.green must differ", path: ["values"] });

export type KubernetesServiceRouterConfig = z.output<typeof kubernetesServiceRouterSchema>;
