// The built-in reverse proxy: a node:http listener that sends every request to the live slot's
// replicas, and an optional preview listener that serves the idle slot only. The switch is one
// reference swap with no await in it; the old slot then drains outside the swap, bounded by
// drainTimeout. Lifecycle news goes out through onEvent; the proxy never calls its owner.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Clock } from "../core/clock.js";
import { describeError } from "../core/errors.js";
import { otherSlot, type Endpoint, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import { drainExchanges } from "./drain.js";
import { Exchange, respondPlain } from "./exchange.js";
import { bindServer, closeServer } from "./listener.js";
import { ProxyTraffic } from "./traffic.js";
import { UpstreamGroup } from "./upstream-group.js";
import type { Upstream, UpstreamOptions } from "./upstream.js";

export type ProxyEvent =
  | { type: "drained"; slot: Slot; remaining: number; timedOut: boolean }
  | { type: "listening"; name: "proxy" | "preview"; address: string };

export interface ProxyOptions extends UpstreamOptions {
  /** "host:port"; port 0 picks a free one (see addresses()). */
  listen: string;
  preview?: string | undefined;
  drainTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  onEvent?: ((event: ProxyEvent) => void) | undefined;
}

export interface ProxyAddresses {
  listen: string;
  preview?: string;
}

export class ProxyServer {
  readonly traffic: ProxyTraffic;
  private liveSlot: Slot | undefined;
  private readonly groups: Record<Slot, UpstreamGroup> = { blue: UpstreamGroup.empty, green: UpstreamGroup.empty };
  /** Real traffic per slot; preview requests are kept apart so they neither count nor hold a drain. */
  private readonly inFlight: Record<Slot, Set<Exchange>> = { blue: new Set(), green: new Set() };
  private readonly previewInFlight = new Set<Exchange>();
  /** The drain running for a slot that stopped being live; cancelled if it goes live again. */
  private readonly drains = new Map<Slot, AbortController>();
  /** Drains in progress, so close() can wait for them to settle after cancelling them. */
  private readonly drainsRunning = new Set<Promise<void>>();
  private readonly retiring = new Set<Upstream>();
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
    this.liveServer = this.createListener(this.onLiveRequest);
    this.previewServer = options.preview === undefined ? undefined : this.createListener(this.onPreviewRequest);
  }

  get live(): Slot | undefined {
    return this.liveSlot;
  }

  hasTargets(slot: Slot): boolean {
    return this.groups[slot].size > 0;
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
    const listenersClosed = Promise.all([closeServer(this.liveServer), this.previewServer ? closeServer(this.previewServer) : undefined]);
    await Promise.all(this.drainsRunning);
    const running = [...this.inFlight.blue, ...this.inFlight.green, ...this.previewInFlight];
    await drainExchanges(running, { clock: this.options.clock, timeoutMs: this.options.drainTimeoutMs, reason: "the proxy is shutting down" });
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
    const slot = this.liveSlot;
    if (slot === undefined) return respondPlain(res, 503, "no slot is live");
    const traffic = this.traffic.of(slot);
    const upstream = this.groups[slot].pick();
    if (upstream === undefined) {
      // Users see an error, so the monitor must too.
      respondPlain(res, 503, `the live slot (${slot}) has no replicas`);
      traffic.record({ status: 503, failed: true, latencyMs: 0, upstreamError: undefined });
      return;
    }
    const inFlight = this.inFlight[slot];
    const replica = upstream.traffic;
    const exchange = new Exchange(req, res, this.options.logger, (done, outcome) => {
      inFlight.delete(done);
      traffic.record(outcome, replica);
    });
    inFlight.add(exchange);
    replica.begin(); // before start(): a client already gone finishes the exchange inside it
    exchange.start(upstream.pool);
  };

  private readonly onPreviewRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.closing) return respondPlain(res, 503, "the proxy is shutting down", true);
    const slot = this.idleSlotWithTargets();
    const upstream = slot === undefined ? undefined : this.groups[slot].pick();
    if (upstream === undefined) return respondPlain(res, 503, "no idle slot has replicas to preview");
    const exchange = new Exchange(req, res, this.options.logger, (done) => this.previewInFlight.delete(done));
    this.previewInFlight.add(exchange);
    exchange.start(upstream.pool);
  };

  /** The slot a preview shows: the one that is not live; blue first while nothing is live. */
  private idleSlotWithTargets(): Slot | undefined {
    const candidates: Slot[] = this.liveSlot === undefined ? ["blue", "green"] : [otherSlot(this.liveSlot)];
    return candidates.find((slot) => this.hasTargets(slot));
  }

  private drainSlot(slot: Slot): void {
    const cancel = new AbortController();
    this.drains.set(slot, cancel);
    const inFlightAtSwitch = [...this.inFlight[slot]];
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
    const server = createServer(handler);
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket));
    return server;
  }

  private watchServerErrors(server: Server, name: string): void {
    server.on("error", (error) => this.options.logger.error({ listener: name, err: describeError(error) }, "proxy listener error"));
  }
}

/** A request Node could not parse (or that timed out while arriving): answer it if we still can, never crash. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
