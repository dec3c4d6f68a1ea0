// How long after a switch call *began* new requests still reached the old slot: the figure that
// tells a reload (nginx re-reads its configuration, starts new workers, retires the old ones) from
// an in-process swap. switch-analysis.ts counts from when the call *returned*; this counts from its
// start, because for nginx the call itself (nginx -t, reload, probing) is where the old slot lingers.
import type { ResponseRecord, SwitchRecord } from "./switch-analysis.js";

/**
 * Per switch: the latest start, relative to the call's start, of a request answered by the old
 * slot, among requests started between this call and the next one (0 when there was none).
 */
export function oldSlotTailsMs(responses: readonly ResponseRecord[], switches: readonly SwitchRecord[]): number[] {
  const tails = switches.map(() => 0);
  for (const response of responses) {
    if (response.slot === undefined) continue;
    // The last switch issued at or before the request started (switches are in time order, few: a scan is fine).
    let index = -1;
    for (let k = 0; k < switches.length && (switches[k] as SwitchRecord).issuedMs <= response.startMs; k++) index = k;
    const current = switches[index];
    if (current === undefined || response.slot === current.to) continue;
    tails[index] = Math.max(tails[index] as number, response.startMs - current.issuedMs);
  }
  return tails;
}
