// `platform: { kind: static }` — the slots are deployed by something else and given as URLs.
import { z } from "zod";
import { durationOr } from "../../config/fields.js";
import { baseUrl } from "../url-slots.js";

// No `version` key: Flip learns what a slot runs from `flip deploy <version>` (which here only records
// it and checks it), so history, rollback and status all start from a version that was checked.
const staticSlot = z.strictObject({
  /** Base URL of the slot: scheme, host and port. */
  url: baseUrl,
});

export const staticPlatformSchema = z
  .strictObject({
    kind: z.literal("static"),
    slots: z.strictObject({ blue: staticSlot, green: staticSlot }),
    /** Pause between two probes of a slot's URL while waiting for it to answer. */
    readyInterval: durationOr("1s"),
  })
  .superRefine((config, ctx) => {
    const [blue, green] = [config.slots.blue.url, config.slots.green.url].map((url) => (URL.canParse(url) ? new URL(url).origin : undefined));
    if (blue !== undefined && blue === green) {
      ctx.addIssue({ code: "custom", path: ["slots", "green", "url"], message: `blue and green are both ${blue}: each slot needs its own URL` });
    }
  });

export type StaticPlatformConfig = z.output<typeof staticPlatformSchema>;
