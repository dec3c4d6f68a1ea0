// The Router interface: how traffic is pointed at a slot. One implementation per folder, chosen by
// `router.kind` through registry.ts; every implementation passes router.contract.ts.
import type { Clock } from "../core/clock.js";
import type { Endpoint, Slot } from "../core/slots.js";
import type { DriverState } from "../core/state.js";
import type { Logger } from "../logging.js";

export interface RouterCapabilities {
  /** Can split traffic by weight between the slots. */
  weights: boolean;
  /** Can mirror (shadow) traffic to the idle slot. */
  mirror: boolean;
  /** verify() really observes the data plane (not just the control plane). */
  verify: boolean;
  /** Sees every request, so it can feed the monitor (the built-in proxy). */
  traffic: boolean;
}

export interface RouterContext {
  app: string;
  logger: Logger;
  clock: Clock;
  /** Persisted across restarts of `flip serve`. */
  state: DriverState;
  onEvent?: (event: RouterEvent) => void;
}

export type RouterEvent =
  | { type: "switched"; from: Slot | undefined; to: Slot; at: number }
  | { type: "drained"; slot: Slot; remaining: number; timedOut: boolean }
  | { type: "listening"; name: string; address: string }
  /** A replica taken out of (or put back into) its slot's rotation by health checks or failed requests. */
  | { type: "replica-ejected" | "replica-restored"; slot: Slot; url: string; reason: string };

/** Cumulative per-slot counters since the router started (monitor windows are differences). */
export interface TrafficSnapshot {
  at: number;
  requests: number;
  /** 5xx answers and upstream failures. */
  errors: number;
  inFlight: number;
  /** Bucket counts of core/histogram.ts. */
  latencyCounts: number[];
}

export interface TrafficStats {
  snapshot(slot: Slot): TrafficSnapshot;
  /** Every counter of a slot and of each replica it has now, for /metrics. Optional: a source may only feed the monitor. */
  counts?(slot: Slot): SlotTrafficCounts;
}

/** Responses by the first digit of their status; 499 (the client left before the answer) apart from 4xx. */
export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "499";

/** Why the proxy answered 502/504 itself: no connection, no answer in time, or a connection broken midway. */
export type UpstreamErrorKind = "connect" | "timeout" | "reset" | "other";

/** Cumulative counters since the router started, of a slot or of one replica. */
export interface TrafficCounts {
  /** Finished requests; the sum of `responses`. */
  requests: number;
  responses: Record<StatusClass, number>;
  upstreamErrors: Record<UpstreamErrorKind, number>;
  inFlight: number;
  /** Request durations: `counts[i]` observations in (bounds[i-1], bounds[i]], the last one above every bound. */
  duration: { boundsSeconds: readonly number[]; counts: number[]; sumSeconds: number };
}

export interface SlotTrafficCounts extends TrafficCounts {
  /** The replicas the slot has now; a replica that is gone takes its counters with it. */
  replicas: (TrafficCounts & { replica: string })[];
}

export interface Router {
  readonly kind: string;
  readonly capabilities: RouterCapabilities;
  /** Binds listeners / connects. Called after setTargets() for the slots recovered on start. */
  start(): Promise<void>;
  /** Tells the router where a slot's replicas are (an empty list empties the slot). */
  setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void>;
  /** What the data plane really points at now (after a restart too). */
  live(): Promise<Slot | undefined>;
  /** The exact change switchTo(slot) would make (patch, API call, swap), making none. */
  planSwitch(slot: Slot): Promise<string[]>;
  /** Idempotent; throws EmptySlotError when the slot has nothing to send traffic to. */
  switchTo(slot: Slot): Promise<void>;
  /** Resolves once the data plane has converged on `slot`; rejects with TimeoutError otherwise. */
  verify(slot: Slot, timeoutMs: number): Promise<void>;
  /** Where the router listens, for routers that listen themselves (the built-in proxy). */
  listenAddresses?(): { listen?: string; preview?: string };
  /** Present when capabilities.traffic is true. */
  readonly traffic?: TrafficStats;
  /**
   * Present on routers that can count each slot's requests and 5xx answers through their own API
   * but not time them (HAProxy's stats): the monitor's errorRate and requestRate rules, and the
   * rate gate, read it when no monitor.source is set. `latencyCounts` is empty.
   */
  readTraffic?(slot: Slot): Promise<TrafficSnapshot>;
  close(): Promise<void>;
}
