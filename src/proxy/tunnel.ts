// One upgraded connection through the proxy (a WebSocket, in practice): the client's Upgrade request
// goes to a replica on a fresh connection; a 101 turns both sockets into a two-way byte pipe,
// anything else is passed back and both sides close. Closing it on purpose (grace over, shutdown)
// slips a close frame with code 1001 in between two messages of the upstream's stream — never
// inside a frame — and then waits, bounded, for the client's close reply.
import { request as httpRequest, STATUS_CODES, type ClientRequest, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../logging.js";
import type { UpstreamErrorKind } from "../routers/router.js";
import { statusForUpstreamError, upstreamErrorKind } from "./exchange.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import type { LongLivedConnection } from "./long-lived.js";
import type { ExchangeOutcome } from "./traffic.js";
import { CLOSE_GOING_AWAY, FrameTracker, serverCloseFrame } from "./websocket-frames.js";

/** Longest wait, once a close is asked for, for a message boundary and then the client's reply. */
export const TUNNEL_CLOSE_TIMEOUT_MS = 5_000;
/** Bytes a client may send before the 101 (kept for the upstream); beyond that it is paused. */
const MAX_EARLY_BYTES = 64 * 1024;
/** A client that got a refusal has this long to hang up before its socket is dropped. */
const REFUSAL_LINGER_MS = 5_000;
const CLIENT_GONE_STATUS = 499;

export interface TunnelOptions {
  clock: Clock;
  logger: Logger;
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** A Set-Cookie header added to the answer (session affinity). */
  setCookie?: string | undefined;
  /** Called once, when the upstream answered the upgrade or it failed: the request's outcome. */
  onAnswered: (outcome: ExchangeOutcome) => void;
}

/** handshake → open → closing (waiting for a message boundary) → close-sent; or → done early. */
type TunnelState = "handshake" | "open" | "closing" | "close-sent" | "done";

export class Tunnel implements LongLivedConnection {
  private readonly startedAt = performance.now();
  private state: TunnelState = "handshake";
  private answered = false;
  private upstreamRequest: ClientRequest | undefined;
  private upstream: Socket | undefined;
  /** Frame boundaries of each direction; only for WebSocket, the one protocol whose framing we know. */
  private readonly upstreamFrames: FrameTracker | undefined;
  private readonly clientFrames: FrameTracker | undefined;
  private readonly closeTimer = new AbortController();
  /** Sent to the client in the close frame. */
  private closeReason = "";
  /** What the client sent before the upstream's 101, to pass on once it comes. */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private readonly closed: Promise<void>;

  constructor(
    private readonly req: IncomingMessage,
    private readonly client: Socket,
    /** Bytes the client sent after its request headers, read by Node before the hand-over. */
    clientHead: Buffer,
    private readonly options: TunnelOptions,
  ) {
    const isWebSocket = req.headers.upgrade?.trim().toLowerCase() === "websocket";
    this.upstreamFrames = isWebSocket ? new FrameTracker() : undefined;
    this.clientFrames = isWebSocket ? new FrameTracker() : undefined;
    if (clientHead.length > 0) this.keepEarly(clientHead);
    client.on("error", (error) => this.onSocketError(error, "client"));
    this.closed = new Promise<void>((resolve) => client.once("close", resolve));
    client.once("close", this.onClientClose);
    // Read from the start, so a client that leaves during the handshake is noticed (a paused socket never sees its end).
    client.on("data", this.onClientData);
    client.on("end", this.onClientEnd);
  }

  /** Opens a connection to the replica at `origin` and sends it the client's upgrade request. */
  start(origin: string): void {
    if (this.client.destroyed) return this.answer(CLIENT_GONE_STATUS, false);
    const { hostname, port } = new URL(origin);
    const request = httpRequest({
      host: hostname.replace(/^\[|\]$/g, ""),
      port,
      method: this.req.method,
      path: this.req.url,
      headers: upgradeRequestHeaders(this.req),
      agent: false, // a tunnel owns its connection: it never goes back to a pool
    });
    this.upstreamRequest = request;
    request.setTimeout(this.options.connectTimeoutMs);
    request.once("socket", (socket) => socket.once("connect", () => request.setTimeout(this.options.upstreamTimeoutMs)));
    request.on("timeout", () => request.destroy(Object.assign(new Error("the upstream did not answer the upgrade in time"), { code: "ETIMEDOUT" })));
    request.on("error", (error) => this.failHandshake(error));
    request.on("response", (response) => this.passAnswer(response));
    request.on("upgrade", (response: IncomingMessage, socket: Socket, upstreamHead: Buffer) => this.open(response, socket, upstreamHead));
    request.end();
  }

  whenClosed(): Promise<void> {
    return this.closed;
  }

  /** Closes cleanly: 1001 between two upstream messages, then the client's reply, bounded in time. */
  close(reason: string): Promise<void> {
    if (this.state === "handshake") {
      this.state = "done";
      this.upstreamRequest?.destroy();
      refuseUpgrade(this.client, 503, reason);
      this.answer(503, true);
    } else if (this.state === "open") {
      this.beginClose(reason);
    } else if (this.state === "done") {
      releaseSocket(this.client); // a refusal still lingering: no need to wait for the client's hang-up
    }
    return this.closed;
  }

  private beginClose(reason: string): void {
    this.state = "closing";
    // The bound: a stream that never reaches a boundary, or a client that never replies, is cut.
    this.options.clock.sleep(TUNNEL_CLOSE_TIMEOUT_MS, this.closeTimer.signal).then(
      () => this.destroyBoth(),
      () => undefined,
    );
    this.closeReason = reason;
    if (this.upstreamFrames === undefined) return this.finishClose(); // unknown framing: just end both
    // Otherwise the boundary comes with the upstream's next bytes (onUpstreamData).
    if (this.upstreamFrames.atMessageBoundary) this.sendClose();
  }

  private sendClose(): void {
    this.state = "close-sent";
    if (!this.upstreamFrames?.sawClose) this.client.write(serverCloseFrame(CLOSE_GOING_AWAY, this.closeReason));
    // From now on the upstream's bytes are dropped: the client has been told goodbye.
    this.upstream?.resume();
    if (this.clientFrames?.sawClose) this.finishClose();
  }

  /** Both sides end once what was written has been flushed. */
  private finishClose(): void {
    this.state = "done";
    this.client.destroySoon();
    this.upstream?.destroySoon();
  }

  private destroyBoth(): void {
    this.state = "done";
    this.client.destroy();
    this.upstream?.destroy();
  }

  private failHandshake(error: Error): void {
    if (this.state !== "handshake") return;
    this.state = "done";
    if (this.client.destroyed) return this.answer(CLIENT_GONE_STATUS, false);
    const status = statusForUpstreamError(error);
    this.options.logger.warn({ err: error, url: this.req.url, status }, "upstream upgrade failed");
    refuseUpgrade(this.client, status, status === 504 ? "gateway timeout: the upstream did not answer in time" : "bad gateway: the upstream failed");
    this.answer(status, true, upstreamErrorKind(error));
  }

  /** The upstream declined the upgrade: its answer goes back as is, then both sides close. */
  private passAnswer(response: IncomingMessage): void {
    const status = response.statusCode ?? 502;
    if (this.state !== "handshake") return void response.destroy();
    this.state = "done";
    this.answer(status, status >= 500);
    const headers: [string, string][] = [];
    for (const [name, value] of Object.entries(clientResponseHeaders(response.headers))) {
      for (const item of Array.isArray(value) ? value : [value]) headers.push([name, String(item)]);
    }
    headers.push(["connection", "close"]);
    this.client.write(formatHead(status, response.statusMessage, headers, this.options.setCookie));
    lingerAfterEnd(this.client);
    response.pipe(this.client);
    response.once("close", () => this.upstreamRequest?.destroy());
    response.once("error", () => this.client.destroy());
  }

  private open(response: IncomingMessage, upstream: Socket, upstreamHead: Buffer): void {
    if (this.state !== "handshake" || this.client.destroyed) {
      upstream.destroy();
      if (this.state === "handshake") this.answer(CLIENT_GONE_STATUS, false);
      return;
    }
    this.state = "open";
    this.upstream = upstream;
    this.answer(101, false);
    upstream.setTimeout(0); // an idle WebSocket is normal; the upstream timeout covered the handshake only
    upstream.setNoDelay(true);
    this.client.setTimeout(0);
    this.client.setNoDelay(true);
    upstream.on("error", (error) => this.onSocketError(error, "upstream"));
    upstream.once("close", this.onUpstreamClose);

    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) pairs.push([response.rawHeaders[i] as string, response.rawHeaders[i + 1] as string]);
    this.client.write(formatHead(101, response.statusMessage, pairs, this.options.setCookie));
    if (upstreamHead.length > 0) this.onUpstreamData(upstreamHead);
    if (this.earlyBytes > 0) this.onClientData(Buffer.concat(this.early));
    this.early = [];
    this.client.resume();
    upstream.on("data", this.onUpstreamData);
    upstream.on("end", this.onUpstreamEnd);
  }

  private keepEarly(chunk: Buffer): void {
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.client.pause();
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.state === "close-sent" || this.state === "done") return;
    let forward = chunk;
    if (this.state === "closing" && this.upstreamFrames !== undefined) forward = chunk.subarray(0, this.upstreamFrames.consume(chunk, true));
    else this.upstreamFrames?.consume(chunk);
    if (forward.length > 0 && !this.client.write(forward)) {
      const upstream = this.upstream;
      upstream?.pause();
      this.client.once("drain", () => upstream?.resume());
    }
    if (this.state === "closing" && this.upstreamFrames?.atMessageBoundary) this.sendClose();
  };

  private readonly onClientData = (chunk: Buffer): void => {
    const upstream = this.upstream;
    if (upstream === undefined) {
      if (this.state === "handshake") this.keepEarly(chunk); // else a refusal is under way: dropped
      return;
    }
    if (this.state === "done") return;
    this.clientFrames?.consume(chunk);
    if (!upstream.write(chunk)) {
      this.client.pause();
      upstream.once("drain", () => this.client.resume());
    }
    // The client's close reply has been passed on to the upstream: the close handshake is complete.
    if (this.state === "close-sent" && this.clientFrames?.sawClose) this.finishClose();
  };

  /** A side that finished sending: the other side is told the same, unless a close is under way. */
  private readonly onUpstreamEnd = (): void => {
    if (this.state === "open" || this.state === "closing") this.client.end();
  };

  private readonly onClientEnd = (): void => {
    if (this.state === "handshake") this.client.destroy(); // gone before the answer (onClientClose)
    else if (this.state === "open") this.upstream?.end();
    else if (this.state === "closing" || this.state === "close-sent") this.finishClose();
  };

  private readonly onUpstreamClose = (): void => {
    if (this.state === "close-sent") return this.finishClose();
    releaseSocket(this.client);
  };

  private readonly onClientClose = (): void => {
    this.closeTimer.abort();
    if (this.state === "handshake") {
      this.state = "done";
      this.answer(CLIENT_GONE_STATUS, false);
    }
    // Not opened (still waiting, or passing a refusal on): nobody is left to read the upstream's answer.
    if (this.upstream === undefined) this.upstreamRequest?.destroy();
    else releaseSocket(this.upstream);
  };

  private onSocketError(error: Error, side: "client" | "upstream"): void {
    this.options.logger.debug({ err: error, side, url: this.req.url }, "tunnel socket error");
    this.destroyBoth();
  }

  private answer(status: number, failed: boolean, upstreamError?: UpstreamErrorKind): void {
    if (this.answered) return;
    this.answered = true;
    this.options.onAnswered({ status, failed, latencyMs: performance.now() - this.startedAt, upstreamError });
  }
}

/** The client's upgrade request as sent upstream: the usual rewrite, plus the two hop-by-hop headers an upgrade needs. */
function upgradeRequestHeaders(req: IncomingMessage): string[] {
  const headers = upstreamRequestHeaders(req, { remoteAddress: req.socket.remoteAddress, protocol: "http" });
  headers.push("connection", "upgrade", "upgrade", req.headers.upgrade ?? "websocket");
  return headers;
}

function formatHead(status: number, statusMessage: string | undefined, headers: [string, string][], setCookie: string | undefined): string {
  let head = `HTTP/1.1 ${status} ${statusMessage || STATUS_CODES[status] || ""}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (setCookie !== undefined) head += `set-cookie: ${setCookie}\r\n`;
  return `${head}\r\n`;
}

/** Ends a socket gracefully if its writing side was already ended (flushing it), else at once. */
function releaseSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroySoon();
  else socket.destroy();
}

/** A proxy-made answer on a socket handed over by an upgrade (no ServerResponse exists for it). */
export function refuseUpgrade(socket: Socket, status: number, text: string): void {
  if (socket.destroyed || socket.writableEnded) return;
  const body = `${text}\n`;
  socket.on("error", () => socket.destroy());
  lingerAfterEnd(socket);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** After the proxy's last word: read and drop what the client still sends (closing with unread data
 * would reset the answer away), and drop the socket if the client does not hang up. */
function lingerAfterEnd(socket: Socket): void {
  socket.resume();
  socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
}
