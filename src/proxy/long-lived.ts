// WebSockets and server-sent-event streams, per slot. A drain would cut them (they never "finish"),
// so they get their own rule: when their slot stops being live they stay up for a grace period,
// then each is closed cleanly (close code 1001 between messages, or the end of the SSE response).
// The grace is cancelled if the slot goes live again before it ends.
import type { Clock } from "../core/clock.js";
import { SLOTS, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import type { Exchange } from "./exchange.js";

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

export class LongLivedConnections {
  /** Each open connection, and whether it came through the preview listener (which serves a slot that is not live on purpose, so no grace applies to it). */
  private readonly open: Record<Slot, Map<LongLivedConnection, boolean>> = { blue: new Map(), green: new Map() };
  /** Slots that stopped being live: when, and the grace their connections got. */
  private readonly leftLive = new Map<Slot, { atMs: number; graceMs: number }>();
  /** Grace timers, started only when a slot that left live has connections (most switches need none). */
  private readonly graces = new Map<Slot, AbortController>();
  private closing = false;

  constructor(private readonly options: LongLivedOptions) {}

  /** How many are open on `slot`. */
  count(slot: Slot): number {
    return this.open[slot].size;
  }

  add(slot: Slot, connection: LongLivedConnection, viaPreview = false): void {
    const open = this.open[slot];
    open.set(connection, viaPreview);
    void connection.whenClosed().then(() => open.delete(connection));
    if (this.closing) void this.closeOne(connection, "the proxy is shutting down");
    // A stream that turned long-lived only after its slot stopped being live gets what is left of the grace.
    else if (!viaPreview && this.leftLive.has(slot) && !this.graces.has(slot)) this.startGrace(slot);
  }

  /**
   * The switch: `to` keeps its connections (a grace running for it is cancelled); those of
   * `from` are closed after `graceMs`.
   */
  switched(from: Slot | undefined, to: Slot, graceMs: number): void {
    this.graces.get(to)?.abort();
    this.graces.delete(to);
    this.leftLive.delete(to);
    if (from === undefined || from === to || this.closing) return;
    this.leftLive.set(from, { atMs: this.options.clock.now(), graceMs });
    if (this.graced(from).length > 0) this.startGrace(from);
  }

  /** Shutdown: closes every connection cleanly; resolves when all have closed. */
  async closeAll(reason: string): Promise<void> {
    this.closing = true;
    for (const cancel of this.graces.values()) cancel.abort();
    this.graces.clear();
    const all = SLOTS.flatMap((slot) => [...this.open[slot].keys()]);
    if (all.length > 0) this.options.logger.info({ connections: all.length }, "closing long-lived connections");
    await Promise.all(all.map((connection) => this.closeOne(connection, reason)));
  }

  /** The connections of `slot` that a grace applies to. */
  private graced(slot: Slot): LongLivedConnection[] {
    return [...this.open[slot]].filter(([, viaPreview]) => !viaPreview).map(([connection]) => connection);
  }

  private startGrace(slot: Slot): void {
    const left = this.leftLive.get(slot);
    if (left === undefined) return;
    const reason = `${slot} is no longer live and its long-lived grace ended`;
    const remainingMs = left.atMs + left.graceMs - this.options.clock.now();
    if (remainingMs <= 0) return void this.closeGraced(slot, reason);
    const cancel = new AbortController();
    this.graces.set(slot, cancel);
    this.options.clock.sleep(remainingMs, cancel.signal).then(
      () => {
        if (this.graces.get(slot) !== cancel) return;
        this.graces.delete(slot);
        void this.closeGraced(slot, reason);
      },
      () => this.options.logger.debug({ slot }, "long-lived grace cancelled: the slot went live again"),
    );
  }

  private async closeGraced(slot: Slot, reason: string): Promise<void> {
    const connections = this.graced(slot);
    if (connections.length === 0) return;
    this.options.logger.info({ slot, connections: connections.length }, "closing long-lived connections");
    await Promise.all(connections.map((connection) => this.closeOne(connection, reason)));
  }

  private closeOne(connection: LongLivedConnection, reason: string): Promise<void> {
    return connection.close(reason).catch((error: unknown) => this.options.logger.warn({ err: error }, "closing a long-lived connection failed"));
  }
}

/** An SSE exchange seen as a long-lived connection: closing it ends the response cleanly. */
export function longLivedExchange(exchange: Exchange): LongLivedConnection {
  return {
    close: () => {
      exchange.endGracefully();
      return exchange.whenDone();
    },
    whenClosed: () => exchange.whenDone(),
  };
}
