// Waiting for requests already in flight to finish, with a deadline: the "then drain" half of
// "switch, then drain". Runs outside the swap, so a slow request never delays a switch.
import type { Clock } from "../core/clock.js";
import type { Exchange } from "./exchange.js";

export interface DrainResult {
  /** Requests still running at the deadline, which were cut. */
  remaining: number;
  timedOut: boolean;
}

export interface DrainOptions {
  clock: Clock;
  timeoutMs: number;
  /** Told to the clients whose requests are cut. */
  reason: string;
  /** Cancels the drain without cutting anything (the slot went live again). */
  signal?: AbortSignal;
}

/** Still holding the drain: running, and not a long-lived stream (those get longLivedGrace, see long-lived.ts). */
function holdsDrain(exchange: Exchange): boolean {
  return !exchange.isFinished && !exchange.isLongLived;
}

/**
 * Resolves when every exchange has ended, or at the deadline after cutting those still running;
 * resolves undefined when cancelled through `signal`. Server-sent-event streams are left alone.
 */
export async function drainExchanges(exchanges: Iterable<Exchange>, options: DrainOptions): Promise<DrainResult | undefined> {
  const pending = [...exchanges].filter(holdsDrain);
  if (options.signal?.aborted) return undefined;
  if (pending.length === 0) return { remaining: 0, timedOut: false };

  const stopTimer = new AbortController();
  const timerSignal = options.signal ? AbortSignal.any([stopTimer.signal, options.signal]) : stopTimer.signal;
  const allDone = Promise.all(pending.map((exchange) => exchange.whenSettled())).then(() => "done" as const);
  const deadline = options.clock.sleep(options.timeoutMs, timerSignal).then(
    () => "deadline" as const,
    () => "cancelled" as const,
  );
  const first = await Promise.race([allDone, deadline]);
  stopTimer.abort();
  if (first === "done") return { remaining: 0, timedOut: false };
  if (first === "cancelled") return undefined;

  const stillRunning = pending.filter(holdsDrain);
  for (const exchange of stillRunning) exchange.cut(options.reason);
  return { remaining: stillRunning.length, timedOut: stillRunning.length > 0 };
}
