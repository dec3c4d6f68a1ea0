// The messages between the controller (node:cluster primary, where the engine decides) and the
// proxy workers (each running one ProxyServer) when `workers` > 1. Every change of state carries a
// sequence number that the worker echoes once the change has taken effect, so the primary knows
// exactly when every worker has moved. All of it is plain JSON over the cluster IPC channel.
import type { Endpoint, Slot } from "../core/slots.js";
import type { SlotTrafficCounts, TrafficSnapshot } from "../routers/router.js";
import type { ProxyAddresses, ProxyEvent } from "./server.js";

/** The state a worker must have before it takes a connection. */
export interface WorkerState {
  live: Slot | undefined;
  targets: Record<Slot, Endpoint[]>;
}

export type PrimaryMessage =
  /** `setup` is opaque here: the worker entry turns it into ProxyOptions (see runProxyWorker). */
  | { flip: "init"; seq: number; setup: unknown; state: WorkerState; reportEveryMs: number }
  | { flip: "targets"; seq: number; slot: Slot; endpoints: Endpoint[] }
  | { flip: "switch"; seq: number; slot: Slot }
  | { flip: "report"; id: number }
  | { flip: "close" };

/** One slot's counters in one worker. */
export interface WorkerSlotReport {
  snapshot: Omit<TrafficSnapshot, "at">;
  counts: SlotTrafficCounts | undefined;
  healthyReplicas: number;
}

export type WorkerReport = Record<Slot, WorkerSlotReport>;

export interface SerializedError {
  code: string | undefined;
  message: string;
  hint: string | undefined;
}

export type WorkerMessage =
  | { flip: "hello" }
  | { flip: "ack"; seq: number }
  | { flip: "started"; addresses: ProxyAddresses }
  | { flip: "failed"; error: SerializedError }
  /** `id` answers a report request; periodic reports have none. */
  | { flip: "traffic"; report: WorkerReport; id: number | undefined }
  /** A drain this worker ran after the switch numbered `seq`. */
  | { flip: "drained"; seq: number; slot: Slot; remaining: number; timedOut: boolean }
  | { flip: "event"; event: ProxyEvent };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === "object" && message !== null && typeof (message as { flip?: unknown }).flip === "string";
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return isWorkerMessage(message);
}
