// Helpers every platform driver shares: actions on one slot run one at a time (a stop never
// interleaves with a deploy), and an event listener that throws never breaks the driver.
import type { Slot } from "../core/slots.js";
import type { PlatformContext, PlatformEvent } from "./platform.js";

export class SlotQueue {
  private readonly tails = new Map<Slot, Promise<unknown>>();

  /** Runs `action` after every earlier action on the same slot has settled. */
  run<T>(slot: Slot, action: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(slot) ?? Promise.resolve();
    const current = previous.then(action, action);
    this.tails.set(
      slot,
      current.catch(() => undefined),
    );
    return current;
  }

  /** Resolves once every queued action has settled (for close()). */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}

/** Reports a platform event upward; a listener that throws is logged, not propagated. */
export function emitPlatformEvent(context: PlatformContext, event: PlatformEvent): void {
  try {
    context.onEvent?.(event);
  } catch (error) {
    context.logger.warn({ err: error }, "a platform event listener threw");
  }
}
