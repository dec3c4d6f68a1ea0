// What the proxy's listeners accept from clients, and how long they wait for them: header size and
// count, the time to send the headers and the whole request (slowloris), the idle time between two
// requests of a keep-alive connection. Node's HTTP parser enforces most of it; this module turns
// the limits into node:http server options and answers what breaks them, without ever crashing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ProxyLimits {
  /** Request line plus headers, in bytes; more gets 431 (node's maxHeaderSize). */
  maxHeaderBytes: number;
  /** Header fields per request; more gets 431. */
  maxHeaders: number;
  /** Time from the first byte of a request to the end of its headers; then 408 and a closed connection. */
  headersTimeoutMs: number;
  /** Time to receive the whole request, body included; then 408 (or a cut connection once the answer started). */
  requestTimeoutMs: number;
  /** How long a keep-alive connection may sit idle between two requests before the proxy closes it. */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: ProxyLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
};

/** Node checks the two request timeouts on an interval; this keeps the slack to a fraction of the shorter one. */
function checkingIntervalMs(limits: ProxyLimits): number {
  const shortest = Math.min(limits.headersTimeoutMs || Infinity, limits.requestTimeoutMs || Infinity);
  if (!Number.isFinite(shortest)) return 30_000;
  return Math.min(30_000, Math.max(25, Math.floor(shortest / 4)));
}

/**
 * A node:http server for one proxy listener with `limits` applied. `handler` only sees requests
 * within them; the others are answered here (431) or by `answerClientError` (400, 408, 431).
 */
export function createLimitedServer(limits: ProxyLimits, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const headersTimeout = limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
  const maxHeaders = limits.maxHeaders;
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
      // Small answers leave at once instead of waiting for the client's ACK (Nagle).
      noDelay: true,
    },
    (req, res) => {
      // rawHeaders holds at most maxHeadersCount fields (set one above the limit below), so a
      // request over the limit is seen here rather than silently cut short by the parser.
      if (req.rawHeaders.length > maxHeaders * 2) return refuseTooManyHeaders(res, maxHeaders);
      handler(req, res);
    },
  );
  server.maxHeadersCount = maxHeaders + 1;
  server.on("clientError", answerClientError);
  return server;
}

function refuseTooManyHeaders(res: ServerResponse, maxHeaders: number): void {
  const body = `request header fields too large: more than ${maxHeaders} headers\n`;
  // The rest of the request (a body) is not read: closing is the only safe end.
  res.writeHead(431, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
}

/** How long a client that sent a bad request has to read the answer before its connection is destroyed. */
const CLOSE_AFTER_ERROR_MS = 2_000;

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
};

/**
 * A request Node could not parse (or that did not arrive in time): answered if nothing of a
 * response has left on that connection yet, then the connection is closed. Never throws: a
 * malformed request must not take the proxy down.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // Node's own default handler makes the same check: bytes of an answer already on the wire
  // cannot be followed by another status line without corrupting what the client reads.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || (inFlight?.headersSent ?? false)) {
    socket.destroy();
    return;
  }
  const status = (error.code !== undefined && CLIENT_ERROR_STATUS[error.code]) || "400 Bad Request";
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  // A client that never closes its side would otherwise hold the socket open for good.
  setTimeout(() => socket.destroy(), CLOSE_AFTER_ERROR_MS).unref();
}
