// WebSockets and server-sent-event streams, per slot. A drain would cut them (they never "finish"),
// so they get their own rule: when their slot stops being live they stay up for a grace period,
// then each is closed cleanly (close code 1001 between messages, or the end of the SSE response).
// The grace is cancelled if the slot goes live again before it ends.
import type { Clock } from "../core/clock.js";
import { SLOTS, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";

/** One long-lived connection, seen from the proxy: a WebSocket tunnel or an SSE exchange. */
export interface LongLivedConnection {
  /** Ends it cleanly; resolves once it has closed (each connection bounds its own wait). */
  close(reason: string): Promise<void>;
  /** Resolves when it has closed for any reason. */
  whenClosed(): Promise<void>;
}

export interface LongLivedOptions {
  clock: Clock;
  logger: Logger;
}

interface Entry {
  /** Came through the preview listener, which serves a slot that is not live on purpose. */
  viaPreview: boolean;
}

export class LongLivedConnections {
  private readonly open: Record<Slot, Map<LongLivedConnection, Entry>> = { blue: new Map(), green: new Map() };
  private readonly graces = new Map<Slot, AbortController>();
  /** Not live, and its grace has run out: a live-listener connection arriving late is closed at once. */
  private readonly expired = new Set<Slot>();
  private closing = false;

  constructor(private readonly options: LongLivedOptions) {}

  /** How many are open on `slot`. */
  count(slot: Slot): number {
    return this.open[slot].size;
  }

  add(slot: Slot, connection: LongLivedConnection, viaPreview = false): void {
    const open = this.open[slot];
    open.set(connection, { viaPreview });
    void connection.whenClosed().then(() => open.delete(connection));
    if (this.closing) void this.closeOne(connection, "the proxy is shutting down");
    else if (!viaPreview && this.expired.has(slot)) void this.closeOne(connection, `${slot} is no longer live`);
  }

  /**
   * The switch: `to` keeps its connections (a grace running for it is cancelled); those of
   * `from` are closed after `graceMs`.
   */
  switched(from: Slot | undefined, to: Slot, graceMs: number): void {
    this.graces.get(to)?.abort();
    this.graces.delete(to);
    this.expired.delete(to);
    if (from === undefined || from === to || this.closing) return;
    const cancel = new AbortController();
    this.graces.set(from, cancel);
    this.options.clock.sleep(graceMs, cancel.signal).then(
      () => {
        if (this.graces.get(from) !== cancel) return;
        this.graces.delete(from);
        this.expired.add(from);
        void this.closeSlot(from, `${from} is no longer live and its long-lived grace ended`);
      },
      () => this.options.logger.debug({ slot: from }, "long-lived grace cancelled: the slot went live again"),
    );
  }

  /** Shutdown: closes every connection cleanly; resolves when all have closed. */
  async closeAll(reason: string): Promise<void> {
    this.closing = true;
    for (const cancel of this.graces.values()) cancel.abort();
    this.graces.clear();
    await Promise.all(SLOTS.map((slot) => this.closeSlot(slot, reason)));
  }

  private async closeSlot(slot: Slot, reason: string): Promise<void> {
    const connections = [...this.open[slot].keys()];
    if (connections.length === 0) return;
    this.options.logger.info({ slot, connections: connections.length }, "closing long-lived connections");
    await Promise.all(connections.map((connection) => this.closeOne(connection, reason)));
  }

  private closeOne(connection: LongLivedConnection, reason: string): Promise<void> {
    return connection.close(reason).catch((error: unknown) => this.options.logger.warn({ err: error }, "closing a long-lived connection failed"));
  }
}
