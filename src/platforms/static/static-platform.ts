// `platform: { kind: static }`: both slots are deployed by something else (a CI job, a person, another
// tool) and Flip is given their URLs. Flip starts and stops nothing; it checks the idle slot, switches,
// monitors and rolls back. `deploy` only records the version the user says is there — the checks
// (e.g. `expectJson: { version: "{version}" }`) are what prove it.
import { formatDuration } from "../../core/duration.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import type { Platform, PlatformContext, PlatformEvent, SlotRuntime } from "../platform.js";
import { endpointFromUrl, waitForHttpAnswer } from "../url-slots.js";
import type { StaticPlatformConfig } from "./config.js";
import { emitPlatformEvent } from "../slot-queue.js";

/** Persisted under `slot:<slot>`: the version last deployed there through Flip. */
interface StaticSlotRecord {
  version: string;
}

const recordKey = (slot: Slot): string => `slot:${slot}`;

export class StaticPlatform implements Platform {
  readonly kind = "static";

  constructor(
    private readonly config: StaticPlatformConfig,
    private readonly context: PlatformContext,
  ) {}

  async recover(): Promise<void> {
    // Nothing runs inside Flip: the slots live elsewhere and their URLs are in the config.
  }

  async planDeploy(slot: Slot, version: string): Promise<string[]> {
    return [
      `record that ${slot} (${this.urlOf(slot)}) runs ${version}; nothing is started: deploy it there yourself first`,
      `wait until GET ${this.urlOf(slot)} answers (every ${formatDuration(this.config.readyInterval)})`,
    ];
  }

  async deploy(slot: Slot, version: string): Promise<void> {
    this.context.state.set(recordKey(slot), { version } satisfies StaticSlotRecord);
    this.emit({ type: "log", slot, message: `static platform: nothing to start; recorded that ${slot} (${this.urlOf(slot)}) runs ${version} — the checks will tell` });
  }

  async waitReady(slot: Slot, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const version = this.versionOf(slot);
    await waitForHttpAnswer({
      url: this.urlOf(slot),
      slotName: `${slot}${version ? ` (${version})` : ""}`,
      timeoutMs,
      intervalMs: this.config.readyInterval,
      clock: this.context.clock,
      signal,
    });
  }

  async scale(slot: Slot, replicas: number): Promise<void> {
    this.emit({ type: "log", slot, message: `static platform: cannot scale ${slot} to ${replicas}; it is managed outside Flip, left as it is` });
  }

  async stop(slot: Slot): Promise<void> {
    this.emit({ type: "log", slot, message: `static platform: ${slot} is managed outside Flip; leaving it running` });
  }

  /** Always the configured URL: the slot exists whether or not Flip deployed to it. */
  async endpoints(slot: Slot): Promise<Endpoint[]> {
    return [endpointFromUrl(slot, this.urlOf(slot))];
  }

  async describe(slot: Slot): Promise<SlotRuntime> {
    return { version: this.versionOf(slot), replicas: 1, runningReplicas: 1 };
  }

  async close(): Promise<void> {}

  private versionOf(slot: Slot): string | undefined {
    return this.context.state.get<StaticSlotRecord>(recordKey(slot))?.version;
  }

  private urlOf(slot: Slot): string {
    return this.config.slots[slot].url.replace(/\/+$/, "");
  }

  private emit(event: PlatformEvent): void {
    emitPlatformEvent(this.context, event);
  }
}
