// The switch benchmarks' schedule: a switch every `intervalMs` from `settleMs` on (not "interval
// after the last one returned"), one call at a time, so a call longer than the interval delays the
// next. Records when each call was issued and when it returned (applied).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "undici";
import { otherSlot, type Slot } from "../../src/core/slots.js";
import type { SwitchRecord } from "./switch-analysis.js";

export async function switchEvery(
  switchTo: (slot: Slot) => Promise<void>,
  options: { initialSlot: Slot; intervalMs: number; count: number; settleMs: number },
): Promise<SwitchRecord[]> {
  const switches: SwitchRecord[] = [];
  const firstAt = performance.now() + options.settleMs;
  let live = options.initialSlot;
  for (let index = 0; index < options.count; index += 1) {
    const wait = firstAt + index * options.intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const to = otherSlot(live);
    const issuedMs = performance.now();
    await switchTo(to);
    switches.push({ to, issuedMs, appliedMs: performance.now() });
    live = to;
  }
  return switches;
}

/** POST /switch/<slot> to Flip's proxy process (bench/flip-proxy.ts): it answers once switchTo() has resolved. */
export async function controlSwitch(control: Client, to: Slot): Promise<void> {
  const response = await control.request({ path: `/switch/${to}`, method: "POST" });
  const body = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`switch to ${to} failed: ${response.statusCode} ${body}`);
}
