// Version-aware sessions: with `sessions.affinity: cookie` every answer of the live listener names
// the slot that served it in a cookie, and a client that comes back with the cookie of the slot
// that just stopped being live stays there until `sessions.drain` has passed since the switch (or
// that slot has no usable replica). New clients, and everyone after the drain, go to the live slot.
import type { Clock } from "../core/clock.js";
import { isSlot, type Slot } from "../core/slots.js";

export interface SessionOptions {
  affinity: "cookie" | "none";
  /** How long after a switch a client holding the old slot's cookie may still be sent there. */
  drainMs: number;
  cookieName: string;
}

export const NO_AFFINITY: SessionOptions = { affinity: "none", drainMs: 0, cookieName: "flip_slot" };

/**
 * The slot named by the `name` cookie, or undefined. Strict on purpose: the value must be exactly
 * a slot name, and two cookies of that name that disagree count as none.
 */
export function slotFromCookie(cookieHeader: string | undefined, name: string): Slot | undefined {
  if (cookieHeader === undefined) return undefined;
  let found: Slot | undefined;
  for (const pair of cookieHeader.split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1 || pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    if (!isSlot(value) || (found !== undefined && found !== value)) return undefined;
    found = value;
  }
  return found;
}

/** Whether a client asking for `requested` may still be served by it: the pure half of the rule. */
export function mayStayOn(requested: Slot, liveSlot: Slot, leftLiveAtMs: number | undefined, nowMs: number, drainMs: number): boolean {
  if (requested === liveSlot) return false; // nothing to keep: it goes to the live slot anyway
  return leftLiveAtMs !== undefined && nowMs - leftLiveAtMs < drainMs;
}

export class SessionAffinity {
  /** When each slot last stopped being live; unknown after a restart, so old sessions move on. */
  private readonly leftLiveAt: Partial<Record<Slot, number>> = {};

  constructor(
    private readonly options: SessionOptions,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.options.affinity === "cookie";
  }

  /** How long sticky clients may keep a slot that stopped being live (0 when affinity is off). */
  get holdMs(): number {
    return this.enabled ? this.options.drainMs : 0;
  }

  switched(from: Slot | undefined, to: Slot): void {
    delete this.leftLiveAt[to];
    if (from !== undefined && from !== to) this.leftLiveAt[from] = this.clock.now();
  }

  /**
   * Where a request of the live listener goes: the slot its cookie names while that may keep it and
   * still has a healthy replica (`healthy`), else the live slot.
   */
  slotFor(cookieHeader: string | undefined, liveSlot: Slot, healthy: (slot: Slot) => boolean): Slot {
    if (!this.enabled) return liveSlot;
    const requested = slotFromCookie(cookieHeader, this.options.cookieName);
    if (requested === undefined || !mayStayOn(requested, liveSlot, this.leftLiveAt[requested], this.clock.now(), this.options.drainMs)) return liveSlot;
    return healthy(requested) ? requested : liveSlot;
  }

  /** The Set-Cookie value naming `slot`. */
  cookieFor(slot: Slot): string {
    return `${this.options.cookieName}=${slot}; Path=/; HttpOnly; SameSite=Lax`;
  }
}
