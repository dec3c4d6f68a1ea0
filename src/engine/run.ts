// One running deployment inside the engine: its record id and the ways a person can interrupt it
// (abort, promote, approve). The flow checks these at every step boundary.
import type { Phase } from "../core/phases.js";

/** The reason an abort signal carries, so a step can tell "asked to stop" from a failure. */
export class AbortRequested extends Error {
  constructor(readonly actor: string) {
    super(`aborted by ${actor}`);
    this.name = "AbortRequested";
  }
}

/** The reason the engine aborts a run when the controller shuts down: the run is left for reconcile. */
export class ShutdownRequested extends Error {
  constructor() {
    super("flip serve is shutting down");
  }
}

export class Run {
  readonly id: string;
  /** Aborted when someone runs `flip abort` (reason: AbortRequested). */
  readonly abortController = new AbortController();
  /** Aborted when someone runs `flip promote`: ends the monitor window early. */
  readonly promoteController = new AbortController();
  promotedBy: string | undefined;
  /** Aborted when someone approves a deployment waiting in awaiting-approval (`flip promote`). */
  readonly approveController = new AbortController();
  approvedBy: string | undefined;
  phase: Phase = "queued";
  done: Promise<void> = Promise.resolve();

  constructor(id: string) {
    this.id = id;
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  get abortedBy(): string | undefined {
    const reason: unknown = this.abortController.signal.reason;
    return reason instanceof AbortRequested ? reason.actor : undefined;
  }

  requestAbort(actor: string): void {
    this.abortController.abort(new AbortRequested(actor));
  }

  requestApprove(actor: string): void {
    this.approvedBy = actor;
    this.approveController.abort(new AbortRequested(actor));
  }

  requestPromote(actor: string): void {
    this.promotedBy = actor;
    this.promoteController.abort(new AbortRequested(actor));
  }
}
