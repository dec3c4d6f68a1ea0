// What a pre-switch check reports. A failed check is data with a reason, not an exception.
import type { Endpoint, Slot } from "../core/slots.js";

export type CheckKind = "http" | "command";

export interface CheckResult {
  name: string;
  kind: CheckKind;
  ok: boolean;
  /** One line: what was seen, and for a failure, what was expected. */
  message: string;
  /** Command output (stdout+stderr, trimmed to a few KiB) or the start of an unexpected HTTP body. */
  output?: string;
  /** Which replica it ran against (http checks run against every replica), if any. */
  replica?: number;
  attempts: number;
  durationMs: number;
  at: number;
}

/** The slot a check runs against. */
export interface CheckTarget {
  slot: Slot;
  version: string;
  /** The slot's base URL (the first replica), given to commands as FLIP_URL and {url}. */
  url: string;
  endpoints: Endpoint[];
}

/** What one try of one check saw; run-checks turns attempts into a CheckResult (retries, timing). */
export interface CheckAttempt {
  ok: boolean;
  message: string;
  output?: string;
}
