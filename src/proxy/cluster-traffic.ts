// The traffic counters of `workers: N`, seen from the primary: the sum of what every worker last
// reported (at most one report interval old), plus the final counts of workers that are gone, so
// the cumulative counters the monitor subtracts never go backwards when a worker is replaced.
import type { Clock } from "../core/clock.js";
import { SLOTS, type Slot } from "../core/slots.js";
import type { SlotTrafficCounts, TrafficCounts, TrafficSnapshot, TrafficStats } from "../routers/router.js";
import type { WorkerReport, WorkerSlotReport } from "./cluster-protocol.js";
import { SlotTraffic } from "./traffic.js";

function addArrays(into: number[], more: readonly number[]): number[] {
  const sum = into.length >= more.length ? into : [...into, ...new Array<number>(more.length - into.length).fill(0)];
  for (let i = 0; i < more.length; i++) sum[i] = (sum[i] ?? 0) + (more[i] ?? 0);
  return sum;
}

function addRecords<K extends string>(into: Record<K, number>, more: Record<K, number>): Record<K, number> {
  const sum = { ...into };
  for (const key of Object.keys(more) as K[]) sum[key] = (sum[key] ?? 0) + more[key];
  return sum;
}

function addCounts<T extends TrafficCounts>(into: T, more: TrafficCounts): T {
  return {
    ...into,
    requests: into.requests + more.requests,
    responses: addRecords(into.responses, more.responses),
    upstreamErrors: addRecords(into.upstreamErrors, more.upstreamErrors),
    inFlight: into.inFlight + more.inFlight,
    duration: {
      boundsSeconds: more.duration.boundsSeconds,
      counts: addArrays([...into.duration.counts], more.duration.counts),
      sumSeconds: into.duration.sumSeconds + more.duration.sumSeconds,
    },
  };
}

/** The sum of two slot counts, replicas matched by address. */
function addSlotCounts(into: SlotTrafficCounts | undefined, more: SlotTrafficCounts | undefined): SlotTrafficCounts | undefined {
  if (into === undefined) return more;
  if (more === undefined) return into;
  const replicas = new Map(into.replicas.map((replica) => [replica.replica, replica]));
  for (const replica of more.replicas) {
    const known = replicas.get(replica.replica);
    replicas.set(replica.replica, known === undefined ? replica : addCounts(known, replica));
  }
  return { ...addCounts(into, more), replicas: [...replicas.values()] };
}

function addSlotReports(into: WorkerSlotReport, more: WorkerSlotReport): WorkerSlotReport {
  return {
    snapshot: {
      requests: into.snapshot.requests + more.snapshot.requests,
      errors: into.snapshot.errors + more.snapshot.errors,
      inFlight: into.snapshot.inFlight + more.snapshot.inFlight,
      latencyCounts: addArrays([...into.snapshot.latencyCounts], more.snapshot.latencyCounts),
    },
    counts: addSlotCounts(into.counts, more.counts),
    healthyReplicas: Math.min(into.healthyReplicas, more.healthyReplicas),
  };
}

const EMPTY_SLOT: WorkerSlotReport = { snapshot: { requests: 0, errors: 0, inFlight: 0, latencyCounts: [] }, counts: undefined, healthyReplicas: Number.POSITIVE_INFINITY };

export class ClusterTraffic implements TrafficStats {
  /** The latest report of each running worker, by worker id. */
  private readonly latest = new Map<number, WorkerReport>();
  /** What workers that are gone had counted (their requests in flight went with them). */
  private departed: Record<Slot, WorkerSlotReport> = { blue: EMPTY_SLOT, green: EMPTY_SLOT };

  constructor(private readonly clock: Clock) {}

  update(workerId: number, report: WorkerReport): void {
    this.latest.set(workerId, report);
  }

  /** A worker exited: its last counts stay in the totals, its in-flight requests do not. */
  departedWorker(workerId: number): void {
    const last = this.latest.get(workerId);
    this.latest.delete(workerId);
    if (last === undefined) return;
    for (const slot of SLOTS) {
      const final = last[slot];
      const settled: WorkerSlotReport = {
        snapshot: { ...final.snapshot, inFlight: 0 },
        counts: final.counts && { ...final.counts, inFlight: 0, replicas: final.counts.replicas.map((replica) => ({ ...replica, inFlight: 0 })) },
        healthyReplicas: Number.POSITIVE_INFINITY,
      };
      this.departed[slot] = addSlotReports(this.departed[slot], settled);
    }
  }

  /** Requests each running worker has finished (both slots), by worker id. */
  requestsByWorker(): Map<number, number> {
    const byWorker = new Map<number, number>();
    for (const [id, report] of this.latest) byWorker.set(id, report.blue.snapshot.requests + report.green.snapshot.requests);
    return byWorker;
  }

  private total(slot: Slot): WorkerSlotReport {
    let sum = this.departed[slot];
    for (const report of this.latest.values()) sum = addSlotReports(sum, report[slot]);
    return sum;
  }

  snapshot(slot: Slot): TrafficSnapshot {
    const { snapshot } = this.total(slot);
    return { at: this.clock.now(), ...snapshot };
  }

  counts(slot: Slot): SlotTrafficCounts {
    return this.total(slot).counts ?? { ...new SlotTraffic().toCounts(0), replicas: [] };
  }

  /** Replicas of `slot` that no worker has ejected (undefined before any report). */
  healthyReplicas(slot: Slot): number | undefined {
    let healthy: number | undefined;
    for (const report of this.latest.values()) healthy = Math.min(healthy ?? Number.POSITIVE_INFINITY, report[slot].healthyReplicas);
    return healthy;
  }
}
