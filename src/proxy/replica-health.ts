// Whether one replica may get requests: the verdicts of its active health checks and of the requests
// that failed to reach it (passive ejection), folded into one small state machine. It decides only
// which replicas of a slot are used, never which slot is live. Time comes from the injected Clock.
import type { Clock } from "../core/clock.js";
import { formatDuration } from "../core/duration.js";
import type { Slot } from "../core/slots.js";

export interface ActiveCheckOptions {
  /** Requested with GET on each replica. */
  path: string;
  /** The pause between the end of one probe and the start of the next. */
  intervalMs: number;
  /** The longest a probe may take, connection included. */
  timeoutMs: number;
  /** Consecutive failed probes that eject a replica. */
  unhealthyAfter: number;
  /** Consecutive passed probes that bring an ejected replica back. */
  healthyAfter: number;
  /** Which answers count as healthy. */
  isHealthyStatus: (status: number) => boolean;
}

export interface PassiveEjectionOptions {
  /** Consecutive requests that could not reach the replica before it is ejected (at least 1). */
  failures: number;
  /** How long it stays out before one request may try it again. */
  ejectForMs: number;
}

export interface ReplicaHealthOptions {
  /** Absent: no probes; only passive ejection (if any) takes a replica out. */
  active?: ActiveCheckOptions | undefined;
  /** Absent: failed requests never eject a replica. */
  passive?: PassiveEjectionOptions | undefined;
}

export type ReplicaEvent = { type: "replica-ejected" | "replica-restored"; slot: Slot; url: string; reason: string };

type Change = { type: ReplicaEvent["type"]; reason: string };

export class ReplicaHealth {
  private ejected = false;
  /**
   * While ejected: when a request may try the replica again. Infinity after an active ejection
   * (the probes have the last word) or when there is no passive ejection.
   */
  private trialAt = Number.POSITIVE_INFINITY;
  private failedProbes = 0;
  private passedProbes = 0;
  private failedRequests = 0;

  constructor(
    private readonly options: ReplicaHealthOptions,
    private readonly clock: Clock,
    private readonly onChange: (change: Change) => void,
  ) {}

  /** Not ejected. A replica on trial after its cool-down is still unhealthy until a request succeeds. */
  get healthy(): boolean {
    return !this.ejected;
  }

  /** Whether round robin may give it a request: healthy, or passively ejected with its cool-down over. */
  usable(): boolean {
    return !this.ejected || this.clock.now() >= this.trialAt;
  }

  probePassed(): void {
    this.failedProbes = 0;
    this.passedProbes += 1;
    const needed = this.options.active?.healthyAfter ?? 1;
    if (!this.ejected || this.passedProbes < needed) return;
    this.restore(`the health check passed ${times(this.passedProbes)} in a row`);
  }

  probeFailed(why: string): void {
    this.passedProbes = 0;
    this.failedProbes += 1;
    const needed = this.options.active?.unhealthyAfter ?? 1;
    if (this.failedProbes < needed) return;
    // The probes confirm it is down: no trial requests until a probe passes again.
    this.trialAt = Number.POSITIVE_INFINITY;
    if (this.ejected) return;
    this.eject(`the health check failed ${times(this.failedProbes)} in a row (${why})`);
  }

  /** The replica answered a request (response headers arrived): it is reachable. */
  requestAnswered(): void {
    if (this.failedRequests === 0 && !this.ejected) return; // the hot path: nothing to change
    this.failedRequests = 0;
    // Only a trial request reaches an ejected replica; one that started before the ejection proves little.
    if (this.ejected && this.clock.now() >= this.trialAt) this.restore(`a request reached it after the ${formatDuration(this.passive?.ejectForMs ?? 0)} cool-down`);
  }

  /**
   * A request could not reach the replica (refused, reset or timed out before any answer).
   * `lastHealthy`: every other replica of the slot is ejected, so ejecting this one would only turn
   * errors that come fast anyway into errors that last until a cool-down ends, and would keep the
   * first replica back from being used at once.
   */
  requestFailed(why: string, lastHealthy: boolean): void {
    const passive = this.passive;
    if (passive === undefined) return;
    this.failedRequests += 1;
    const now = this.clock.now();
    if (this.ejected) {
      // A trial failed: another cool-down. (An actively ejected replica is never tried.)
      if (Number.isFinite(this.trialAt)) this.trialAt = now + passive.ejectForMs;
      return;
    }
    if (this.failedRequests < passive.failures || lastHealthy) return;
    this.trialAt = now + passive.ejectForMs;
    this.eject(`${this.failedRequests} requests in a row could not reach it (${why})`);
  }

  private get passive(): PassiveEjectionOptions | undefined {
    const passive = this.options.passive;
    return passive !== undefined && passive.failures > 0 ? passive : undefined;
  }

  private eject(reason: string): void {
    this.ejected = true;
    this.passedProbes = 0;
    this.onChange({ type: "replica-ejected", reason });
  }

  private restore(reason: string): void {
    this.ejected = false;
    this.trialAt = Number.POSITIVE_INFINITY;
    this.failedProbes = 0;
    this.failedRequests = 0;
    this.onChange({ type: "replica-restored", reason });
  }
}

function times(count: number): string {
  return count === 1 ? "once" : `${count} times`;
}
