// Slots are the two places a version can run. Everything that reasons about "the other one"
// goes through these helpers so the rest of the code never spells out the pair.

export const SLOTS = ["blue", "green"] as const;
export type Slot = (typeof SLOTS)[number];

export function isSlot(value: unknown): value is Slot {
  return value === "blue" || value === "green";
}

export function otherSlot(slot: Slot): Slot {
  return slot === "blue" ? "green" : "blue";
}

/** The slot a new version goes to: the one that is not live (blue when nothing is live yet). */
export function idleSlotFor(liveSlot: Slot | undefined): Slot {
  return liveSlot === undefined ? "blue" : otherSlot(liveSlot);
}

/**
 * What a slot is doing, as shown by `flip status`. A standby may be `scaled-down` (fewer replicas,
 * still a rollback target: scaled back up and checked first) and then `retired` (stopped; its
 * version is remembered, and a rollback redeploys it).
 */
export type SlotState = "empty" | "deploying" | "idle" | "live" | "standby" | "scaled-down" | "retired" | "failed" | "stopped";

/** Where one replica of a slot can be reached. */
export interface Endpoint {
  slot: Slot;
  replica: number;
  host: string;
  port: number;
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
}
