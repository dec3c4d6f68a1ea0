// `platform: { kind: command }` — versions are put in slots by the user's own scripts.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import { renderTemplate } from "../../core/template.js";
import { baseUrl, baseUrlProblem } from "../url-slots.js";

const command = z.string().min(1);

export const commandPlatformSchema = z
  .strictObject({
    kind: z.literal("command"),
    /** Puts a version in a slot, e.g. "./deploy.sh {slot} {version}". Required. */
    deploy: command,
    /** Exits 0 once the slot is ready; run again every readyInterval until then. */
    ready: command.optional(),
    /** Scales a slot, e.g. "./scale.sh {slot} {replicas}". Without it, scaling is unsupported. */
    scale: command.optional(),
    /** Stops a slot. Without it, stopping leaves the slot running (logged). */
    stop: command.optional(),
    /** Base URL of a slot, templated with {slot}: "http://app-{slot}.internal:8080". */
    endpoint: z.string().optional(),
    /** Base URL of each slot, when they differ by more than the slot's name. */
    urls: z.strictObject({ blue: baseUrl, green: baseUrl }).optional(),
    /** Folder the commands run in, relative to flip.yaml. */
    cwd: z.string().optional(),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    /** Pause between two runs of `ready` (or two probes of the URL). */
    readyInterval: durationOr("2s"),
    /** A command past its timeout gets SIGTERM (its whole process group), then SIGKILL after this long. */
    killGrace: durationOr("10s"),
    /** The longest one run of each command may take. */
    timeouts: z
      .strictObject({
        deploy: durationOr("10m"),
        ready: durationOr("5m"),
        scale: durationOr("5m"),
        stop: durationOr("5m"),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if ((config.endpoint === undefined) === (config.urls === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: config.endpoint === undefined ? [] : ["urls"],
        message: 'needs exactly one of `endpoint: "http://app-{slot}.internal"` or `urls: { blue: ..., green: ... }`: where checks and the router reach each slot',
      });
      return;
    }
    if (config.endpoint !== undefined) {
      for (const slot of ["blue", "green"]) {
        const problem = baseUrlProblem(renderTemplate(config.endpoint, { slot }));
        if (problem) {
          ctx.addIssue({ code: "custom", path: ["endpoint"], message: `for ${slot}: ${problem}` });
          return;
        }
      }
    }
    // One URL for both slots would check the live slot while claiming to check the idle one.
    const [blue, green] = config.urls ? [config.urls.blue, config.urls.green] : [renderTemplate(config.endpoint ?? "", { slot: "blue" }), renderTemplate(config.endpoint ?? "", { slot: "green" })];
    const origin = originOf(blue);
    if (origin !== undefined && origin === originOf(green)) {
      ctx.addIssue({
        code: "custom",
        path: config.urls ? ["urls", "green"] : ["endpoint"],
        message: `blue and green would both be ${origin}: each slot needs its own URL (e.g. put {slot} in the host name)`,
      });
    }
  });

/** undefined for a URL that is invalid (already reported by its own field). */
function originOf(text: string): string | undefined {
  return URL.canParse(text) ? new URL(text).origin : undefined;
}

export type CommandPlatformConfig = z.output<typeof commandPlatformSchema>;
