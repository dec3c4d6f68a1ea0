// In-memory stand-ins for a platform, a router and a metrics source, for engine tests that care
// about the flow's decisions and timing (on a ManualClock), not about processes and sockets. Each
// records what it was asked to do, so a test can assert the exact calls the engine made.
import type { Clock } from "../../core/clock.js";
import { EmptySlotError, PlatformError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import type { MetricsSource } from "../../metrics/source.js";
import type { Platform, SlotRuntime } from "../../platforms/platform.js";
import type { Router, TrafficSnapshot } from "../../routers/router.js";

interface FakeSlot {
  version: string | undefined;
  replicas: number;
}

export class FakePlatform implements Platform {
  readonly kind = "fake";
  /** "deploy blue v1", "scale blue 1", "stop green", "wait-ready blue" — in order. */
  readonly calls: string[] = [];
  readonly slots: Record<Slot, FakeSlot> = { blue: { version: undefined, replicas: 0 }, green: { version: undefined, replicas: 0 } };
  /** When set, waitReady for that slot waits until the test resolves it (see releaseReady). */
  private readonly readyGates = new Map<Slot, () => void>();
  holdReady = false;

  constructor(readonly replicas = 2) {}

  async recover(): Promise<void> {}

  async planDeploy(slot: Slot, version: string): Promise<string[]> {
    return [`run ${version} in ${slot}`];
  }

  async deploy(slot: Slot, version: string): Promise<void> {
    this.calls.push(`deploy ${slot} ${version}`);
    this.slots[slot] = { version, replicas: this.replicas };
  }

  async waitReady(slot: Slot, _timeoutMs: number, signal: AbortSignal): Promise<void> {
    this.calls.push(`wait-ready ${slot}`);
    if (this.slots[slot].replicas === 0) throw new PlatformError(`${slot} has no replica`);
    if (!this.holdReady) return;
    await new Promise<void>((resolve, reject) => {
      this.readyGates.set(slot, resolve);
      signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
    });
  }

  /** Lets a waitReady held by `holdReady` finish. */
  releaseReady(slot: Slot): boolean {
    const release = this.readyGates.get(slot);
    this.readyGates.delete(slot);
    release?.();
    return release !== undefined;
  }

  async scale(slot: Slot, replicas: number): Promise<void> {
    this.calls.push(`scale ${slot} ${replicas}`);
    this.slots[slot].replicas = replicas;
  }

  async stop(slot: Slot): Promise<void> {
    this.calls.push(`stop ${slot}`);
    this.slots[slot] = { version: undefined, replicas: 0 };
  }

  async endpoints(slot: Slot): Promise<Endpoint[]> {
    const port = slot === "blue" ? 41000 : 42000;
    return Array.from({ length: this.slots[slot].replicas }, (_, replica) => ({
      slot,
      replica,
      host: "127.0.0.1",
      port: port + replica,
      url: `http://127.0.0.1:${port + replica}`,
    }));
  }

  async describe(slot: Slot): Promise<SlotRuntime> {
    const { version, replicas } = this.slots[slot];
    return { version, replicas, runningReplicas: replicas };
  }

  async close(): Promise<void> {}
}

export class FakeRouter implements Router {
  readonly kind = "fake";
  readonly capabilities = { weights: false, mirror: false, verify: true, traffic: false };
  current: Slot | undefined;
  /** Every slot traffic was moved to, in order. */
  readonly switches: Slot[] = [];
  readonly targets: Record<Slot, Endpoint[]> = { blue: [], green: [] };

  async start(): Promise<void> {}

  async setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void> {
    this.targets[slot] = endpoints;
  }

  async live(): Promise<Slot | undefined> {
    return this.current;
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    return [`point traffic at ${slot}`];
  }

  async switchTo(slot: Slot): Promise<void> {
    if (this.current === slot) return;
    if (this.targets[slot].length === 0) throw new EmptySlotError(slot, "the router has no target there");
    this.current = slot;
    this.switches.push(slot);
  }

  async verify(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Cumulative counters that grow at a rate the test sets, on the test's clock: reading twice
 * `x` ms apart sees rate × x requests, as the built-in proxy's counters would.
 */
export class FakeMetrics implements MetricsSource {
  readonly name = "fake";
  readonly ratePerSecond: Record<Slot, number> = { blue: 0, green: 0 };
  /** The share of those requests that fail (0–1). */
  readonly errorShare: Record<Slot, number> = { blue: 0, green: 0 };
  private readonly counted: Record<Slot, { at: number; requests: number; errors: number }>;

  constructor(private readonly clock: Clock) {
    this.counted = { blue: { at: clock.now(), requests: 0, errors: 0 }, green: { at: clock.now(), requests: 0, errors: 0 } };
  }

  /** Changes a slot's rate (and share of errors) from now on. */
  setRate(slot: Slot, perSecond: number, errorShare = 0): void {
    this.advance(slot);
    this.ratePerSecond[slot] = perSecond;
    this.errorShare[slot] = errorShare;
  }

  async read(slot: Slot): Promise<TrafficSnapshot> {
    this.advance(slot);
    const { requests, errors } = this.counted[slot];
    return { at: this.clock.now(), requests: Math.floor(requests), errors: Math.floor(errors), inFlight: 0, latencyCounts: [] };
  }

  private advance(slot: Slot): void {
    const now = this.clock.now();
    const counted = this.counted[slot];
    const requests = (this.ratePerSecond[slot] * (now - counted.at)) / 1000;
    counted.requests += requests;
    counted.errors += requests * this.errorShare[slot];
    counted.at = now;
  }
}
