// `platform: { kind: process }` — versions run as local processes.
import { z } from "zod";
import { durationOr, port } from "../../config/fields.js";

export const processPlatformSchema = z
  .object({
    kind: z.literal("process"),
    /** Shell command; templated with {version} {slot} {port} {replica}. */
    command: z.string().min(1),
    /** Working folder, templated; relative to flip.yaml. */
    cwd: z.string().optional(),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    replicas: z.number().int().min(1).max(64).default(1),
    /** Base ports per slot; replica n listens on base + n. Free ports are picked when absent. */
    ports: z.strictObject({ blue: port, green: port }).optional(),
    /** How a replica shows it is ready; defaults to the first http check's path, else a TCP connect. */
    readiness: z
      .strictObject({
        path: z.string().startsWith("/").optional(),
        interval: durationOr("200ms"),
      })
      .optional(),
    /** SIGTERM, then SIGKILL after this long. */
    stopGrace: durationOr("10s"),
    restart: z.strictObject({ maxBackoff: durationOr("30s") }).prefault({}),
  })
  .strict();

export type ProcessPlatformConfig = z.output<typeof processPlatformSchema>;
