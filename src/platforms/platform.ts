// The Platform interface: how versions run in slots. One implementation per folder, chosen by
// `platform.kind` through registry.ts. Drivers never import the engine; they report upward through
// the `onEvent` callback in their context.
import type { Clock } from "../core/clock.js";
import type { Endpoint, Slot } from "../core/slots.js";
import type { DriverState } from "../core/state.js";
import type { Logger } from "../logging.js";

export interface PlatformContext {
  app: string;
  /** Folder of flip.yaml: relative paths in the config resolve against it. */
  configDir: string;
  /** Where logs go, e.g. <configDir>/.flip/logs */
  logDir: string;
  logger: Logger;
  clock: Clock;
  /** Persisted across restarts of `flip serve`. */
  state: DriverState;
  onEvent?: (event: PlatformEvent) => void;
}

export type PlatformEvent =
  | { type: "replica-started"; slot: Slot; replica: number; pid?: number; port?: number }
  | { type: "replica-exited"; slot: Slot; replica: number; code: number | null; signal: string | null; restartInMs?: number }
  | { type: "replica-adopted"; slot: Slot; replica: number; pid?: number; port?: number }
  | { type: "log"; slot: Slot; message: string };

/** What a platform can tell about one slot right now. */
export interface SlotRuntime {
  version: string | undefined;
  /** Replicas asked for (0 when stopped). */
  replicas: number;
  /** Replicas whose process (or pod) is running. */
  runningReplicas: number;
}

export interface Platform {
  readonly kind: string;
  /**
   * Called once when the controller starts, before any traffic: adopt replicas that still run
   * (found through the persisted state) or start the recorded version again.
   */
  recover(signal: AbortSignal): Promise<void>;
  /** The exact changes deploy(slot, version) would make (commands, patches, API calls), making none. */
  planDeploy(slot: Slot, version: string): Promise<string[]>;
  /** Runs `version` in `slot`, replacing whatever ran there. Resolves once it has been started. */
  deploy(slot: Slot, version: string, signal: AbortSignal): Promise<void>;
  /** Resolves when every replica of the slot answers its readiness probe; rejects with a reason otherwise. */
  waitReady(slot: Slot, timeoutMs: number, signal: AbortSignal): Promise<void>;
  scale(slot: Slot, replicas: number): Promise<void>;
  /** Stops every replica of the slot; the slot is then empty. */
  stop(slot: Slot): Promise<void>;
  /** Where checks and the built-in proxy reach the slot's replicas (empty when nothing runs). */
  endpoints(slot: Slot): Promise<Endpoint[]>;
  describe(slot: Slot): Promise<SlotRuntime>;
  /** Controller shutdown. `stopReplicas: false` leaves them running (used by tests of crash recovery). */
  close(options: { stopReplicas: boolean }): Promise<void>;
}
