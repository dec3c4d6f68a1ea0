// What the process platform persists per slot (through DriverState) so that `flip serve`, started
// again after a crash, finds its replicas: the version, and per replica its port and process.
// Written before each action (ports first, pids once spawned), so a crash at any point leaves
// enough behind to adopt or restart.
import { z } from "zod";
import type { Slot } from "../../core/slots.js";
import type { DriverState } from "../../core/state.js";

const replicaRecordSchema = z.object({
  replica: z.number().int().min(0),
  port: z.number().int().min(1).max(65535),
  /** Absent until the process has been spawned. */
  pid: z.number().int().positive().optional(),
  /** Epoch ms (by the controller's clock) when the process started. */
  startedAt: z.number().optional(),
  /** /proc start time of the process (Linux), to tell it from an unrelated process reusing the pid. */
  processStart: z.string().optional(),
});

const slotRecordSchema = z.object({
  version: z.string(),
  replicas: z.array(replicaRecordSchema),
  /** Set while the slot is being stopped: recovery finishes the stop instead of adopting. */
  stopping: z.boolean().optional(),
});

export type ReplicaRecord = z.infer<typeof replicaRecordSchema>;
export type SlotRecord = z.infer<typeof slotRecordSchema>;

export function slotStateKey(slot: Slot): string {
  return `process:${slot}`;
}

/** The slot's record, or undefined when there is none or it cannot be read (reported as a problem). */
export function readSlotRecord(state: DriverState, slot: Slot): { record?: SlotRecord; problem?: string } {
  const raw = state.get<unknown>(slotStateKey(slot));
  if (raw === undefined) return {};
  const parsed = slotRecordSchema.safeParse(raw);
  if (!parsed.success) return { problem: `the saved state of ${slot} is not readable (${parsed.error.issues[0]?.message ?? "invalid"})` };
  return { record: parsed.data };
}

export function writeSlotRecord(state: DriverState, slot: Slot, record: SlotRecord): void {
  state.set(slotStateKey(slot), record);
}

export function clearSlotRecord(state: DriverState, slot: Slot): void {
  state.delete(slotStateKey(slot));
}
