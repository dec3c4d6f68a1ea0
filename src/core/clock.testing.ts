// A clock for tests: time stands still until the test moves it with advance().
import type { Clock } from "./clock.js";

interface Sleeper {
  wakeAt: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      // The listener goes when the sleep ends, so a loop of sleeps on one signal does not pile them up.
      const sleeper: Sleeper = {
        wakeAt: this.current + ms,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** How many sleeps are waiting: lets a test wait until the code under test is parked. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }

  /** When the earliest sleep ends, if any: lets a test jump straight to the next thing that happens. */
  get nextWakeAt(): number | undefined {
    return this.sleepers.length === 0 ? undefined : Math.min(...this.sleepers.map((s) => s.wakeAt));
  }

  /** Moves time forward, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.sleepers.filter((s) => s.wakeAt <= target).sort((a, b) => a.wakeAt - b.wakeAt)[0];
      if (!next) break;
      this.current = next.wakeAt;
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock whose sleeps return at once, moving time forward by what was asked: for code that polls
 * or waits out a delay (a DNS TTL) when the test only cares about the outcome, not the pacing.
 */
export class InstantClock implements Clock {
  private current: number;
  /** Every sleep asked for, in ms, in order: lets a test assert how long the code waited. */
  readonly sleeps: number[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.current += Math.max(0, ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
