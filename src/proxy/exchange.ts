// One request through the proxy: client → upstream replica → client. It is the undici dispatch
// handler: response bytes are streamed to the client as they arrive (never buffered whole), with
// back-pressure both ways, and every way a request can end — upstream done, upstream failed,
// client gone, cut by a drain deadline — ends it exactly once.
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import type { Logger } from "../logging.js";
import type { UpstreamErrorKind } from "../routers/router.js";
import { clientResponseHeaders, hasRequestBody, responseHead, upstreamRequestHeaders } from "./headers.js";
import type { ExchangeOutcome } from "./traffic.js";

type Controller = Dispatcher.DispatchController;

/** Status the client gets when the proxy gives up waiting on an upstream. */
const UPSTREAM_TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);
/** undici refuses the request itself: a header the client sent cannot be forwarded. */
const BAD_REQUEST_CODES = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED"]);
/** No connection could be opened (a connect timeout counts as a timeout). */
const UPSTREAM_CONNECT_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN"]);
/** An open connection broke: the replica closed it, crashed, or the network dropped it. */
const UPSTREAM_RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);
/** nginx's convention for "the client closed the connection before the answer". */
const CLIENT_GONE_STATUS = 499;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** 504 for timeouts, 400 for requests undici cannot forward, 502 for everything else. */
export function statusForUpstreamError(error: unknown): number {
  const code = errorCode(error);
  if (code !== undefined && UPSTREAM_TIMEOUT_CODES.has(code)) return 504;
  if (code !== undefined && BAD_REQUEST_CODES.has(code)) return 400;
  return 502;
}

/** How the upstream failed, for the metrics (the status alone cannot tell a refused connection from a reset). */
export function upstreamErrorKind(error: unknown): UpstreamErrorKind {
  const code = errorCode(error);
  if (code === undefined) return "other";
  if (UPSTREAM_TIMEOUT_CODES.has(code)) return "timeout";
  if (UPSTREAM_CONNECT_CODES.has(code)) return "connect";
  if (UPSTREAM_RESET_CODES.has(code)) return "reset";
  return "other";
}

const REASONS: Record<number, string> = {
  400: "bad request: it cannot be forwarded",
  502: "bad gateway: the upstream failed",
  504: "gateway timeout: the upstream did not answer in time",
};

/** A plain-text answer made by the proxy itself (503, 502, 504, 400). */
export function respondPlain(res: ServerResponse, status: number, text: string, closeConnection = false): void {
  const body = `${text}\n`;
  const headers: Record<string, string | number> = { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) };
  if (closeConnection) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}

export class Exchange implements Dispatcher.DispatchHandler {
  private readonly startedAt = performance.now();
  private controller: Controller | undefined;
  private status = 0;
  /** Content-Length of the response, -1 when unknown: a first chunk that long is the whole body. */
  private responseLength = -1;
  /** res.end() was already called with the whole body (see onResponseData). */
  private responseEnded = false;
  private finished = false;
  private done: Promise<void> | undefined;
  private resolveDone: (() => void) | undefined;
  /** Set by the proxy to learn that the response is a server-sent-event stream (long-lived). */
  onLongLived: ((exchange: Exchange) => void) | undefined;
  /**
   * A Set-Cookie the proxy adds to the upstream's answer (session affinity). Not res.setHeader():
   * Node 20's writeHead then merges a flat header list by name, and duplicates (cookies, Link) collapse.
   */
  setCookie: string | undefined;
  /** Time to the response headers of a long-lived stream: its latency (its length says nothing). */
  private longLivedAfterMs: number | undefined;
  private settled: Promise<void> | undefined;
  private resolveSettled: (() => void) | undefined;
  /** Its place in the proxy's in-flight list (see in-flight.ts); -1 while in none. */
  inFlightIndex = -1;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly logger: Logger,
    /** Called exactly once, when the exchange ends in any way. */
    private readonly onFinish: (exchange: Exchange, outcome: ExchangeOutcome) => void,
  ) {}

  /** Sends the request through `dispatcher`: a replica's undici Pool, or a ReplicaAttempt in front of one. */
  start(dispatcher: Pick<Dispatcher, "dispatch">): void {
    if (this.clientGone()) {
      this.finish(CLIENT_GONE_STATUS, false);
      return;
    }
    this.res.on("close", this.onClientClose);
    const body = hasRequestBody(this.req);
    // IncomingMessage emits 'error' only when someone listens; undici listens while it reads the
    // body and stops afterwards, so keep a listener for the whole exchange (errors reach us via undici).
    if (body) this.req.on("error", ignoreError);
    const options: Dispatcher.DispatchOptions = {
      method: this.req.method ?? "GET",
      path: this.req.url ?? "/",
      headers: upstreamRequestHeaders(this.req, { remoteAddress: this.req.socket.remoteAddress, protocol: "http" }),
      body: body ? this.req : null,
    };
    try {
      dispatcher.dispatch(options, this);
    } catch (error) {
      this.onResponseError(undefined, error as Error);
    }
  }

  /** Resolves when the exchange has ended (the drain waits on it). */
  whenDone(): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.done ??= new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
    return this.done;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** A server-sent-event stream: not the drain's business, it gets longLivedGrace instead. */
  get isLongLived(): boolean {
    return this.longLivedAfterMs !== undefined;
  }

  /** Resolves when the exchange has ended or turned out long-lived: what a drain waits for. */
  whenSettled(): Promise<void> {
    if (this.finished || this.isLongLived) return Promise.resolve();
    this.settled ??= new Promise<void>((resolve) => {
      this.resolveSettled = resolve;
    });
    return this.settled;
  }

  /** Ends a long-lived response cleanly (grace over, shutdown): the client sees a complete response. */
  endGracefully(): void {
    if (this.finished) return;
    this.res.end(); // after the last whole chunk the upstream sent
    this.finish(this.status, false);
    this.controller?.abort(new Error("the proxy ended the long-lived response"));
  }

  /** Ends the exchange now (drain deadline, shutdown): 504 if nothing was sent yet, else a cut connection. */
  cut(reason: string): void {
    if (this.finished) return;
    if (this.res.headersSent) {
      this.res.destroy();
      this.finish(this.status, true);
    } else {
      respondPlain(this.res, 504, `gateway timeout: ${reason}`);
      this.finish(504, true);
    }
    this.controller?.abort(new Error(reason));
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    // The client left (or a drain cut it) while the request waited for a pooled connection:
    // give the connection back at once instead of sending a request nobody will read.
    if (this.finished) controller.abort(new Error("the request ended before it reached the upstream"));
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (this.finished || statusCode < 200) return;
    this.status = statusCode;
    const raw = controller.rawHeaders;
    if (Array.isArray(raw)) {
      // The fast path: undici's raw header list, written as a flat list without building objects.
      const head = responseHead(raw);
      this.responseLength = head.contentLength;
      if (this.setCookie !== undefined) head.headers.push("set-cookie", this.setCookie);
      if (statusMessage) this.res.writeHead(statusCode, statusMessage, head.headers);
      else this.res.writeHead(statusCode, head.headers);
    } else {
      const outgoing = clientResponseHeaders(headers);
      if (this.setCookie !== undefined) outgoing["set-cookie"] = [...asList(outgoing["set-cookie"]), this.setCookie];
      if (statusMessage) this.res.writeHead(statusCode, statusMessage, outgoing);
      else this.res.writeHead(statusCode, outgoing);
    }
    if (this.onLongLived !== undefined && isEventStream(headers["content-type"])) {
      this.longLivedAfterMs = performance.now() - this.startedAt;
      this.resolveSettled?.();
      this.onLongLived(this);
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.finished || this.responseEnded) return;
    if (chunk.length === this.responseLength) {
      // The whole body in one chunk (most small responses): headers and body leave in one write.
      this.responseEnded = true;
      this.res.end(chunk);
      return;
    }
    this.responseLength = -1;
    if (!this.res.write(chunk) && !controller.paused) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.finished) return;
    if (!this.responseEnded) this.res.end();
    this.finish(this.status, this.status >= 500);
  }

  onResponseError(_controller: Controller | undefined, error: Error): void {
    if (this.finished) return;
    if (this.clientGone()) {
      // The upload broke because the client left; not the upstream's fault, nobody to answer.
      this.finish(CLIENT_GONE_STATUS, false);
      return;
    }
    if (this.res.headersSent) {
      // Too late for a status: the client sees a cut connection, which is the honest answer.
      this.logger.warn({ err: error, url: this.req.url }, "upstream failed mid-response");
      this.res.destroy();
      this.finish(this.status, true, upstreamErrorKind(error));
      return;
    }
    const status = statusForUpstreamError(error);
    this.logger.warn({ err: error, url: this.req.url, status }, "upstream request failed");
    respondPlain(this.res, status, REASONS[status] ?? "bad gateway");
    this.finish(status, status >= 500, status >= 500 ? upstreamErrorKind(error) : undefined);
  }

  private readonly onClientClose = (): void => {
    if (this.finished) return;
    this.finish(CLIENT_GONE_STATUS, false);
    // Without this the pooled connection would keep serving a response nobody reads.
    this.controller?.abort(new Error("the client closed the connection"));
  };

  private clientGone(): boolean {
    // undici sets req.socket to null once it has read the whole request body (its util.destroy on an
    // IncomingMessage), so an upstream failing after the upload must not find it there.
    return this.res.destroyed || this.req.socket?.destroyed === true;
  }

  private finish(status: number, failed: boolean, upstreamError?: UpstreamErrorKind): void {
    this.finished = true;
    this.resolveDone?.();
    this.resolveSettled?.();
    const latencyMs = this.longLivedAfterMs ?? performance.now() - this.startedAt;
    this.onFinish(this, { status, failed, latencyMs, upstreamError });
  }
}

function ignoreError(): void {}

function isEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value !== undefined && value.trimStart().toLowerCase().startsWith("text/event-stream");
}

function asList(value: number | string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly string[])] : [String(value)];
}
