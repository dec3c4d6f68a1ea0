// Steady keep-alive load through a proxy while a test switches slots: every request's start time,
// status and answer, and every switch's call and return times, so a test can say which requests
// had to reach the new slot ("started after the switch returned") and check that they did.
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import type { Slot } from "../../core/slots.js";

export interface LoadRequest {
  startedAt: number;
  /** When the whole answer (or the error) was in. */
  finishedAt: number;
  /** The body (the slot's name) or the error's text. */
  answer: string;
  status: number | undefined;
}

export interface SwitchRecord {
  slot: Slot;
  calledAt: number;
  appliedAt: number;
}

export interface LoadReport {
  requests: LoadRequest[];
  switches: SwitchRecord[];
  /** Non-2xx answers and socket errors. */
  failures: string[];
  /** Requests that started after a switch returned and were answered by another slot. */
  wrongSlot: string[];
}

export interface SwitchLoadOptions {
  url: string;
  clients: number;
  switches: number;
  switchEveryMs: number;
  firstSlot: Slot;
  /** Moves traffic; resolves once the swap has taken effect (the Router contract). */
  switchTo(slot: Slot): Promise<void>;
}

/** Runs `clients` request loops while switching `switches` times, then judges every answer. */
export async function runSwitchLoad(options: SwitchLoadOptions): Promise<LoadReport> {
  const agent = new Agent({ connections: options.clients });
  const requests: LoadRequest[] = [];
  const switches: SwitchRecord[] = [{ slot: options.firstSlot, calledAt: 0, appliedAt: 0 }];
  let running = true;
  const loop = async () => {
    while (running) {
      const startedAt = performance.now();
      try {
        const response = await request(options.url, { dispatcher: agent, signal: AbortSignal.timeout(5_000) });
        const answer = await response.body.text();
        requests.push({ startedAt, finishedAt: performance.now(), status: response.statusCode, answer });
      } catch (error) {
        requests.push({ startedAt, finishedAt: performance.now(), status: undefined, answer: String(error) });
      }
    }
  };
  try {
    const loops = Array.from({ length: options.clients }, loop);
    let slot = options.firstSlot;
    for (let i = 0; i < options.switches; i++) {
      await new Promise((resolve) => setTimeout(resolve, options.switchEveryMs));
      slot = slot === "blue" ? "green" : "blue";
      const calledAt = performance.now();
      await options.switchTo(slot);
      switches.push({ slot, calledAt, appliedAt: performance.now() });
    }
    await new Promise((resolve) => setTimeout(resolve, options.switchEveryMs));
    running = false;
    await Promise.all(loops);
  } finally {
    running = false;
    await agent.destroy();
  }
  return { requests, switches, ...judge(requests, switches) };
}

/**
 * A request that started after switch k returned must be answered by k's slot — or by the slot of
 * a later switch called before its answer was in (it may have reached the proxy after that one).
 */
function judge(requests: readonly LoadRequest[], switches: readonly SwitchRecord[]): Pick<LoadReport, "failures" | "wrongSlot"> {
  const failures: string[] = [];
  const wrongSlot: string[] = [];
  for (const sent of requests) {
    if (sent.status === undefined || sent.status < 200 || sent.status > 299) {
      failures.push(`${sent.status ?? "socket error"}: ${sent.answer.slice(0, 200)}`);
      continue;
    }
    let applied = -1;
    for (let k = 0; k < switches.length; k++) if ((switches[k] as SwitchRecord).appliedAt < sent.startedAt) applied = k;
    if (applied < 0) continue;
    const allowed = new Set<string>([(switches[applied] as SwitchRecord).slot]);
    for (let later = applied + 1; later < switches.length && (switches[later] as SwitchRecord).calledAt < sent.finishedAt; later++) allowed.add((switches[later] as SwitchRecord).slot);
    if (!allowed.has(sent.answer)) wrongSlot.push(`started ${(sent.startedAt - (switches[applied] as SwitchRecord).appliedAt).toFixed(2)} ms after the switch to ${(switches[applied] as SwitchRecord).slot}, answered by ${sent.answer}`);
  }
  return { failures, wrongSlot };
}
