// `notify:` in flip.yaml: where Flip posts what happens to deployments, which events, in which
// format. Each target is independent: its own events, retries and timeout.
import { z } from "zod";
import { durationOr } from "../config/fields.js";

/** What a target can be told about, in the order a deployment can go through them. */
export const NOTIFY_EVENTS = ["started", "awaiting-approval", "switched", "rolled-back", "aborted", "succeeded", "failed"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const webhookUrl = z.string().refine(
  (text) => {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:";
    } catch {
      return false;
    }
  },
  { message: "expected an http:// or https:// URL" },
);

export const notifyTargetSchema = z.strictObject({
  url: webhookUrl,
  /** Absent: every event. */
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1, "list at least one event, or leave `events` out for all of them").default([...NOTIFY_EVENTS]),
  /** json: Flip's own payload; slack: `{ "text": ... }` for a Slack (or Mattermost) incoming webhook. */
  format: z.enum(["json", "slack"]).default("json"),
  headers: z.record(z.string(), z.string()).optional(),
  /** For one attempt: connecting, sending and the answer's headers. */
  timeout: durationOr("10s"),
  /** Attempts after the first one fails, waiting 1s, 2s, 4s, … (at most 30s) in between. */
  retries: z.number().int().min(0).max(10).default(3),
});

export type NotifyTarget = z.output<typeof notifyTargetSchema>;
