// Header rewriting between the client and an upstream: hop-by-hop headers stop at the proxy
// (RFC 9110 §7.6.1), X-Forwarded-* tell the app who really called. Pure functions: no I/O.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";

/** Headers that describe one connection, not the message; never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  // Node's server already answered `Expect: 100-continue` to the client; undici refuses the header.
  "expect",
]);

/** What the proxy knows about the client side of one request. */
export interface ClientSide {
  /** The client's IP address (undefined once its socket is gone). */
  remoteAddress: string | undefined;
  /** "http" for now: the proxy terminates plain HTTP. */
  protocol: "http" | "https";
}

/** Header names listed in `Connection:` are hop-by-hop for this message too. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const tokens = new Set<string>();
  if (value === undefined) return tokens;
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(",")) {
      const name = token.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

/**
 * The headers sent upstream, as a flat [name, value, ...] list: the client's raw headers (order,
 * case and duplicates kept) minus hop-by-hop ones, plus X-Forwarded-For/-Proto/-Host.
 * Host is kept as the client sent it, as kamal-proxy and Caddy do: apps build absolute URLs from it.
 * X-Forwarded-For is appended to; X-Forwarded-Proto and -Host are set from what this proxy saw
 * (a client cannot claim https through a plain-HTTP listener).
 */
export function upstreamRequestHeaders(req: IncomingMessage, client: ClientSide): string[] {
  const dropped = connectionTokens(req.headers.connection);
  const forwarded: string[] = [];
  const priorForwardedFor: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    if (lower === "x-forwarded-for") {
      priorForwardedFor.push(value);
      continue;
    }
    if (lower === "x-forwarded-proto" || lower === "x-forwarded-host") continue;
    forwarded.push(name, value);
  }
  if (client.remoteAddress !== undefined) priorForwardedFor.push(client.remoteAddress);
  if (priorForwardedFor.length > 0) forwarded.push("x-forwarded-for", priorForwardedFor.join(", "));
  forwarded.push("x-forwarded-proto", client.protocol);
  if (req.headers.host !== undefined) forwarded.push("x-forwarded-host", req.headers.host);
  return forwarded;
}

/** The upstream's response headers as sent to the client, minus hop-by-hop ones. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const dropped = connectionTokens(headers.connection);
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}

/** Whether the client's request carries a body to stream upstream (same rule as Node's parser). */
export function hasRequestBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}
