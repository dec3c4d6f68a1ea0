// One request's way to a replica of a slot: it sits between the exchange and the replica's pool,
// tells the replica's health whether the request reached it (passive ejection), and sends a
// request that could not reach its replica once more, to another one — only when that is safe:
// nothing was sent (the connection itself failed), or a safe method without a body whose
// connection broke before any answer (RFC 9110 §9.2.2 lets a proxy repeat those).
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { UpstreamGroup } from "./upstream-group.js";
import type { Upstream } from "./upstream.js";

type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>[2];

/** No connection: nothing of the request left the proxy. */
const CONNECT_FAILURE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);
/** A connection that broke after the request was (maybe) sent and before any answer. */
const BROKEN_CONNECTION_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Why `error` shows the replica unreachable, or undefined when it does not (the client left, a
 * drain cut the request, the proxy is closing, the request itself was refused).
 */
function unreachable(error: Error, sent: boolean, bodyless: boolean): { why: string; retry: "always" | "if-safe" | "never" } | undefined {
  const code = errorCode(error);
  if (code === undefined) return undefined;
  if (!sent) return CONNECT_FAILURE_CODES.has(code) ? { why: code, retry: "always" } : undefined;
  if (code === "UND_ERR_HEADERS_TIMEOUT") return { why: "no response headers in time", retry: "never" };
  // With a body, a reset may be the client's upload breaking off: not the replica's doing.
  if (bodyless && BROKEN_CONNECTION_CODES.has(code)) return { why: `${code} before any answer`, retry: "if-safe" };
  return undefined;
}

export class ReplicaAttempt implements Dispatcher.DispatchHandler {
  private handler: Dispatcher.DispatchHandler | undefined;
  private options: Dispatcher.DispatchOptions | undefined;
  /** onRequestStart came for the current replica: the request may have been written to it. */
  private sent = false;
  private answered = false;
  private retried = false;

  constructor(
    private readonly group: UpstreamGroup,
    /** The replica the request is going to now. */
    public upstream: Upstream,
    /** Told when the request leaves a replica it could not reach for another one (the metrics count it). */
    private readonly onRetry?: (failed: Upstream, next: Upstream, error: Error) => void,
  ) {}

  /** Sends the request to the replica picked for it; `handler` (the exchange) sees one request. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.options = options;
    this.handler = handler;
    return this.upstream.pool.dispatch(options, this);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.sent = true;
    this.handler?.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: Duplex): void {
    this.reached();
    this.handler?.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    this.reached();
    this.handler?.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.handler?.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.handler?.onResponseEnd?.(controller, trailers);
  }

  /** `controller` is undefined when the request never got a connection. */
  onResponseError(controller: Controller | undefined, error: Error): void {
    if (!this.answered && this.options !== undefined && this.triedAnother(error, this.options)) return;
    this.handler?.onResponseError?.(controller as Controller, error);
  }

  private reached(): void {
    if (this.answered) return;
    this.answered = true;
    this.upstream.health.requestAnswered();
  }

  /** Records an unreachable replica; true when the request went to another one instead. */
  private triedAnother(error: Error, options: Dispatcher.DispatchOptions): boolean {
    const failed = this.upstream;
    const verdict = unreachable(error, this.sent, options.body === null || options.body === undefined);
    if (verdict === undefined) return false;
    failed.health.requestFailed(verdict.why, !this.group.hasOtherHealthy(failed));
    const mayRetry = verdict.retry === "always" || (verdict.retry === "if-safe" && SAFE_METHODS.has(options.method));
    if (this.retried || !mayRetry) return false;
    const next = this.group.pickOther(failed);
    if (next === undefined) return false;
    this.retried = true;
    this.upstream = next;
    this.onRetry?.(failed, next, error);
    this.sent = false;
    // A refusal is reported through onResponseError (never thrown), so this cannot fail twice over.
    next.pool.dispatch(options, this);
    return true;
  }
}
