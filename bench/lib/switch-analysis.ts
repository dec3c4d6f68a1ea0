// What the switch benchmark concludes from its recording: every response (when its request started
// and ended, its status, which slot answered) and every switch (when the control call was made and
// when it returned, i.e. when the switch was applied). Pure, so it is unit-tested on made-up timelines.
import type { Slot } from "../../src/core/slots.js";

export interface ResponseRecord {
  startMs: number;
  endMs: number;
  status: number;
  /** The X-Flip-Slot header of the answer; undefined when there was none (an error from the proxy). */
  slot: Slot | undefined;
}

export interface SwitchRecord {
  to: Slot;
  /** The control call was sent. */
  issuedMs: number;
  /** The control call returned: from here on, every new request must reach `to`. */
  appliedMs: number;
}

export interface SwitchAnalysis {
  requests: number;
  non2xx: number;
  bySlot: Record<Slot, number>;
  /**
   * Requests answered by a slot other than the one the last switch applied before they started
   * pointed at — unless they were still running when the next switch was made, which may have
   * reached them first.
   */
  violations: number;
  /** The longest time from a switch being applied to the last wrong-slot answer to a request started after it. */
  longestViolationMs: number;
  /** Started while a switch call was in progress: either slot is a correct answer. */
  duringSwitchCall: number;
  /** Old-slot requests still running when a switch was made, and how long after it the last one ended. */
  inFlightAtSwitches: number;
  inFlightFinishMs: number[];
}

/** Index of the last switch applied at or before `ms` (-1 when none), by binary search. */
function lastAppliedBefore(switches: readonly SwitchRecord[], ms: number): number {
  let low = 0;
  let high = switches.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if ((switches[middle] as SwitchRecord).appliedMs <= ms) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/**
 * `switches` in the order they were made (one at a time, so sorted by time); `initialSlot` is what was
 * live before the first one.
 */
export function analyseSwitches(responses: readonly ResponseRecord[], switches: readonly SwitchRecord[], initialSlot: Slot): SwitchAnalysis {
  const analysis: SwitchAnalysis = {
    requests: responses.length,
    non2xx: 0,
    bySlot: { blue: 0, green: 0 },
    violations: 0,
    longestViolationMs: 0,
    duringSwitchCall: 0,
    inFlightAtSwitches: 0,
    inFlightFinishMs: [],
  };
  // Per switch: when the last old-slot request that was running at the switch ended.
  const lastOldEnd = new Map<number, number>();
  for (const response of responses) {
    if (response.status < 200 || response.status > 299) analysis.non2xx += 1;
    if (response.slot === undefined) continue;
    analysis.bySlot[response.slot] += 1;
    const index = lastAppliedBefore(switches, response.startMs);
    const applied = switches[index];
    const next = switches[index + 1];
    if (next !== undefined && response.endMs > next.issuedMs && response.slot !== next.to) {
      const finish = lastOldEnd.get(index + 1);
      if (finish === undefined || response.endMs > finish) lastOldEnd.set(index + 1, response.endMs);
      analysis.inFlightAtSwitches += 1;
    }
    if (next !== undefined && response.startMs >= next.issuedMs) analysis.duringSwitchCall += 1;
    const expected = applied?.to ?? initialSlot;
    if (response.slot === expected) continue;
    // It may have reached the proxy only after the next switch (a request waits in the client, in
    // the kernel, in the proxy's accept queue): then the next switch's slot is the right answer.
    if (next !== undefined && response.endMs > next.issuedMs && response.slot === next.to) continue;
    analysis.violations += 1;
    if (applied !== undefined) analysis.longestViolationMs = Math.max(analysis.longestViolationMs, response.endMs - applied.appliedMs);
  }
  for (const [index, endMs] of lastOldEnd) {
    analysis.inFlightFinishMs.push(Math.max(0, endMs - (switches[index] as SwitchRecord).appliedMs));
  }
  return analysis;
}
