// The built-in reverse proxy: a node:http listener that sends every request to the live slot's
// replicas, and an optional preview listener that serves the idle slot only. The switch is one
// reference swap with no await in it; the old slot then drains outside the swap, bounded by
// drainTimeout. Lifecycle news goes out through onEvent; the proxy never calls its owner.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Clock } from "../core/clock.js";
import { describeError } from "../core/errors.js";
import { otherSlot, type Endpoint, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import { NO_AFFINITY, SessionAffinity, type SessionOptions } from "./affinity.js";
import { drainExchanges } from "./drain.js";
import { Exchange, respondPlain, upstreamErrorKind } from "./exchange.js";
import { InFlight } from "./in-flight.js";
import { DEFAULT_LIMITS, createLimitedServer, type ProxyLimits } from "./limits.js";
import { bindServer, closeServer } from "./listener.js";
import { LongLivedConnections, longLivedExchange } from "./long-lived.js";
import { ReplicaAttempt } from "./replica-attempt.js";
import type { ReplicaEvent } from "./replica-health.js";
import { ProxyTraffic } from "./traffic.js";
import { refuseUpgrade, Tunnel } from "./tunnel.js";
import { UpstreamGroup } from "./upstream-group.js";
import type { Upstream, UpstreamOptions } from "./upstream.js";

export type ProxyEvent =
  | { type: "drained"; slot: Slot; remaining: number; timedOut: boolean }
  | { type: "listening"; name: "proxy" | "preview"; address: string }
  | ReplicaEvent;

export interface ProxyOptions extends UpstreamOptions {
  /** "host:port"; port 0 picks a free one (see addresses()). */
  listen: string;
  preview?: string | undefined;
  drainTimeoutMs: number;
  /** Header size and count, request and idle timeouts of both listeners (see limits.ts). */
  limits?: ProxyLimits | undefined;
  /** After a switch, how long WebSockets and SSE streams to the old slot stay up (default 30 s). */
  longLivedGraceMs?: number | undefined;
  /** Version-aware sessions (see affinity.ts); off by default. */
  sessions?: SessionOptions | undefined;
  clock: Clock;
  logger: Logger;
  onEvent?: ((event: ProxyEvent) => void) | undefined;
}

const DEFAULT_LONG_LIVED_GRACE_MS = 30_000;

export interface ProxyAddresses {
  listen: string;
  preview?: string;
}

export class ProxyServer {
  readonly traffic: ProxyTraffic;
  private liveSlot: Slot | undefined;
  private readonly groups: Record<Slot, UpstreamGroup> = { blue: UpstreamGroup.empty, green: UpstreamGroup.empty };
  /** Real traffic per slot; preview requests are kept apart so they neither count nor hold a drain. */
  private readonly inFlight: Record<Slot, InFlight<Exchange>> = { blue: new InFlight(), green: new InFlight() };
  private readonly previewInFlight = new InFlight<Exchange>();
  /** The drain running for a slot that stopped being live; cancelled if it goes live again. */
  private readonly drains = new Map<Slot, AbortController>();
  /** Drains in progress, so close() can wait for them to settle after cancelling them. */
  private readonly drainsRunning = new Set<Promise<void>>();
  private readonly retiring = new Set<Upstream>();
  /** WebSockets and SSE streams: a switch gives them longLivedGrace, not a drain. */
  private readonly longLived: LongLivedConnections;
  private readonly affinity: SessionAffinity;
  private readonly liveServer: Server;
  private readonly previewServer: Server | undefined;
  private bound: ProxyAddresses;
  private closing = false;

  constructor(private readonly options: ProxyOptions) {
    this.traffic = new ProxyTraffic(
      options.clock,
      (slot) => this.inFlight[slot].size,
      (slot) => this.groups[slot].upstreams,
    );
    this.bound = { listen: options.listen, ...(options.preview === undefined ? {} : { preview: options.preview }) };
    this.longLived = new LongLivedConnections({ clock: options.clock, logger: options.logger });
    this.affinity = new SessionAffinity(options.sessions ?? NO_AFFINITY, options.clock);
    this.liveServer = this.createListener(this.onLiveRequest);
    this.previewServer = options.preview === undefined ? undefined : this.createListener(this.onPreviewRequest);
    this.liveServer.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head, false));
    this.previewServer?.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head, true));
  }

  get live(): Slot | undefined {
    return this.liveSlot;
  }

  hasTargets(slot: Slot): boolean {
    return this.groups[slot].size > 0;
  }

  /** Replicas of `slot` that active checks or passive ejection have not taken out. */
  healthyReplicas(slot: Slot): number {
    return this.groups[slot].healthyCount;
  }

  /** The addresses really bound (after start), else the configured ones. */
  addresses(): ProxyAddresses {
    return { ...this.bound };
  }

  async start(): Promise<void> {
    const listen = await bindServer(this.liveServer, this.options.listen, "the proxy");
    this.bound = { ...this.bound, listen };
    this.watchServerErrors(this.liveServer, "proxy");
    this.options.onEvent?.({ type: "listening", name: "proxy", address: listen });
    if (this.previewServer === undefined || this.options.preview === undefined) return;
    try {
      const preview = await bindServer(this.previewServer, this.options.preview, "the preview proxy");
      this.bound = { ...this.bound, preview };
      this.watchServerErrors(this.previewServer, "preview");
      this.options.onEvent?.({ type: "listening", name: "preview", address: preview });
    } catch (error) {
      await closeServer(this.liveServer);
      throw error;
    }
  }

  /** Points at the live slot recorded before a restart: no drain, nothing was in flight. */
  restoreLive(slot: Slot | undefined): void {
    this.liveSlot = slot;
  }

  /**
   * The switch: one assignment, so every request that starts after this returns goes to `slot`.
   * Requests in flight on the old slot keep running; its drain starts in the background.
   */
  switchTo(slot: Slot): void {
    const previous = this.liveSlot;
    if (previous === slot) return;
    this.liveSlot = slot;
    this.affinity.switched(previous, slot);
    // With session affinity a WebSocket belongs to a session, which may stay on the old slot that long.
    this.longLived.switched(previous, slot, Math.max(this.options.longLivedGraceMs ?? DEFAULT_LONG_LIVED_GRACE_MS, this.affinity.holdMs));
    this.drains.get(slot)?.abort();
    this.drains.delete(slot);
    if (previous !== undefined) this.drainSlot(previous);
  }

  /** Replaces a slot's replicas; replicas no longer listed close once their requests finish. */
  setTargets(slot: Slot, endpoints: readonly Endpoint[]): void {
    if (this.closing) return; // new pools now would outlive close()
    const { group, retired } = this.groups[slot].withTargets(endpoints, this.options);
    this.groups[slot] = group;
    for (const upstream of retired) this.retire(upstream);
  }

  /** Stops accepting, lets requests in flight finish (bounded by drainTimeout), closes every pool. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const cancel of this.drains.values()) cancel.abort();
    this.drains.clear();
    const longLivedClosed = this.longLived.closeAll("the proxy is shutting down");
    const listenersClosed = Promise.all([closeServer(this.liveServer), this.previewServer ? closeServer(this.previewServer) : undefined]);
    await Promise.all(this.drainsRunning);
    const running = [...this.inFlight.blue, ...this.inFlight.green, ...this.previewInFlight];
    await drainExchanges(running, { clock: this.options.clock, timeoutMs: this.options.drainTimeoutMs, reason: "the proxy is shutting down" });
    await longLivedClosed; // upgraded sockets are no longer the listener's: it would wait for them
    this.liveServer.closeAllConnections();
    this.previewServer?.closeAllConnections();
    await listenersClosed;
    const upstreams = [...this.groups.blue.upstreams, ...this.groups.green.upstreams, ...this.retiring];
    this.groups.blue = UpstreamGroup.empty;
    this.groups.green = UpstreamGroup.empty;
    await Promise.all(upstreams.map((upstream) => upstream.destroy().catch(() => undefined)));
  }

  private readonly onLiveRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.closing) return respondPlain(res, 503, "the proxy is shutting down", true);
    const live = this.liveSlot;
    if (live === undefined) return respondPlain(res, 503, "no slot is live");
    const slot = this.affinity.enabled ? this.affinity.slotFor(req.headers.cookie, live, this.isHealthy) : live;
    const traffic = this.traffic.of(slot);
    const group = this.groups[slot];
    const upstream = group.pick();
    if (upstream === undefined) {
      // Users see an error, so the monitor must too. Replicas that are all ejected answer 502 at
      // once: waiting on a connect timeout would help nobody.
      const status = group.size === 0 ? 503 : 502;
      respondPlain(res, status, group.size === 0 ? `the live slot (${slot}) has no replicas` : group.unhealthyText(slot));
      traffic.record({ status, failed: true, latencyMs: 0, upstreamError: undefined });
      return;
    }
    const inFlight = this.inFlight[slot];
    const attempt = new ReplicaAttempt(group, upstream, countRetry);
    const exchange = new Exchange(req, res, this.options.logger, (done, outcome) => {
      inFlight.delete(done);
      traffic.record(outcome, attempt.upstream.traffic); // the replica it ended on, after a retry too
    });
    exchange.onLongLived = this.onLongLived;
    if (this.affinity.enabled) exchange.setCookie = this.affinity.cookieFor(slot);
    inFlight.add(exchange);
    upstream.traffic.begin(); // before start(): a client already gone finishes the exchange inside it
    exchange.start(attempt);
  };

  private readonly onPreviewRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.closing) return respondPlain(res, 503, "the proxy is shutting down", true);
    const slot = this.idleSlotWithTargets();
    if (slot === undefined) return respondPlain(res, 503, "no idle slot has replicas to preview");
    const group = this.groups[slot];
    const upstream = group.pick();
    if (upstream === undefined) return respondPlain(res, 502, group.unhealthyText(slot));
    const exchange = new Exchange(req, res, this.options.logger, (done) => this.previewInFlight.delete(done));
    exchange.onLongLived = (stream) => this.longLived.add(slot, longLivedExchange(stream), true);
    this.previewInFlight.add(exchange);
    exchange.start(new ReplicaAttempt(group, upstream));
  };

  /** An Upgrade request (WebSocket): routed like any request of its listener, then tunnelled. */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer, viaPreview: boolean): void {
    if (this.closing) return refuseUpgrade(socket, 503, "the proxy is shutting down");
    const live = this.liveSlot;
    const slot = viaPreview ? this.idleSlotWithTargets() : live === undefined ? undefined : this.affinity.slotFor(req.headers.cookie, live, this.isHealthy);
    if (slot === undefined) return refuseUpgrade(socket, 503, viaPreview ? "no idle slot has replicas to preview" : "no slot is live");
    const traffic = viaPreview ? undefined : this.traffic.of(slot); // preview traffic is never counted
    const group = this.groups[slot];
    const upstream = group.pick();
    if (upstream === undefined) {
      const status = group.size === 0 ? 503 : 502;
      refuseUpgrade(socket, status, group.size === 0 ? `the live slot (${slot}) has no replicas` : group.unhealthyText(slot));
      traffic?.record({ status, failed: true, latencyMs: 0, upstreamError: undefined });
      return;
    }
    if (traffic !== undefined) upstream.traffic.begin();
    const tunnel = new Tunnel(req, socket, head, {
      clock: this.options.clock,
      logger: this.options.logger,
      connectTimeoutMs: this.options.connectTimeoutMs,
      upstreamTimeoutMs: this.options.upstreamTimeoutMs,
      setCookie: traffic !== undefined && this.affinity.enabled ? this.affinity.cookieFor(slot) : undefined,
      onAnswered: (outcome) => traffic?.record(outcome, upstream.traffic),
    });
    this.longLived.add(slot, tunnel, viaPreview);
    tunnel.start(upstream.url);
  }

  /** A live-listener response turned out to be an SSE stream: from now on it waits for longLivedGrace, not a drain. */
  private readonly onLongLived = (exchange: Exchange): void => {
    const slot: Slot = this.inFlight.blue.has(exchange) ? "blue" : "green";
    this.longLived.add(slot, longLivedExchange(exchange));
  };

  private readonly isHealthy = (slot: Slot): boolean => this.healthyReplicas(slot) > 0;

  /** The slot a preview shows: the one that is not live; blue first while nothing is live. */
  private idleSlotWithTargets(): Slot | undefined {
    const candidates: Slot[] = this.liveSlot === undefined ? ["blue", "green"] : [otherSlot(this.liveSlot)];
    return candidates.find((slot) => this.hasTargets(slot));
  }

  private drainSlot(slot: Slot): void {
    const cancel = new AbortController();
    this.drains.set(slot, cancel);
    const inFlightAtSwitch = this.inFlight[slot].snapshot();
    const drained = drainExchanges(inFlightAtSwitch, {
      clock: this.options.clock,
      timeoutMs: this.options.drainTimeoutMs,
      reason: `${slot} is no longer live and its drain timeout passed`,
      signal: cancel.signal,
    })
      .then((result) => {
        if (this.drains.get(slot) === cancel) this.drains.delete(slot);
        if (result === undefined) {
          this.options.logger.debug({ slot }, "drain cancelled: the slot went live again");
          return;
        }
        this.options.onEvent?.({ type: "drained", slot, ...result });
      })
      .catch((error: unknown) => this.options.logger.error({ err: error, slot }, "drain failed"))
      .finally(() => this.drainsRunning.delete(drained));
    this.drainsRunning.add(drained);
  }

  private retire(upstream: Upstream): void {
    // Kept until its pool has closed, so close() can destroy it if its requests outlive the proxy.
    this.retiring.add(upstream);
    void upstream
      .retire()
      .catch((error: unknown) => this.options.logger.warn({ url: upstream.url, err: error }, "closing a retired replica's pool failed"))
      .finally(() => this.retiring.delete(upstream));
  }

  private createListener(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
    return createLimitedServer(this.options.limits ?? DEFAULT_LIMITS, handler);
  }

  private watchServerErrors(server: Server, name: string): void {
    server.on("error", (error) => this.options.logger.error({ listener: name, err: describeError(error) }, "proxy listener error"));
  }
}

/** A live request left a replica it could not reach for another: the failure is counted on the first. */
function countRetry(failed: Upstream, next: Upstream, error: Error): void {
  failed.traffic.handOver(next.traffic, upstreamErrorKind(error));
}
