// Header rewriting between the client and an upstream: hop-by-hop headers stop at the proxy
// (RFC 9110 §7.6.1), X-Forwarded-* and Forwarded (RFC 7239) tell the app who really called.
// Pure functions, no I/O. They run once per request, so they work on flat [name, value, ...]
// lists (what node:http and undici read and write natively) and look at a name's length before
// lower-casing it: most names can be kept without a second look.
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

/** What the proxy does with one request header. */
const KEEP = 0;
const DROP = 1;
const FORWARDED_FOR = 2;
const FORWARDED = 3;
type RequestHeaderRole = typeof KEEP | typeof DROP | typeof FORWARDED_FOR | typeof FORWARDED;

/**
 * Lengths of every name the request rewrite treats specially. Any other length is kept as is
 * without lower-casing: the common case (Host, Accept, User-Agent, Cookie) costs one lookup.
 */
const SPECIAL_REQUEST_NAMES = new Map<string, RequestHeaderRole>([
  ...[...HOP_BY_HOP].map((name) => [name, DROP] as const),
  ["x-forwarded-proto", DROP],
  ["x-forwarded-host", DROP],
  ["x-forwarded-for", FORWARDED_FOR],
  ["forwarded", FORWARDED],
]);
const SPECIAL_REQUEST_LENGTHS = new Set([...SPECIAL_REQUEST_NAMES.keys()].map((name) => name.length));
/** Lengths of the response header names worth a lower-cased look (hop-by-hop, or read by the proxy). */
const SPECIAL_RESPONSE_LENGTHS = new Set([...HOP_BY_HOP, "content-length", "content-type", "set-cookie"].map((name) => name.length));

/** What the proxy knows about the client side of one request. */
export interface ClientSide {
  /** The client's IP address (undefined once its socket is gone). */
  remoteAddress: string | undefined;
  /** "http" for now: the proxy terminates plain HTTP. */
  protocol: "http" | "https";
}

/** The usual Connection values, which name no other header: no need to split them. */
const NAMES_NOTHING = /^\s*(?:keep-alive|close)\s*$/i;

/** Header names listed in `Connection:` are hop-by-hop for this message too. */
function connectionTokens(value: string | readonly string[] | undefined): Set<string> | undefined {
  if (value === undefined || (typeof value === "string" && NAMES_NOTHING.test(value))) return undefined;
  let tokens: Set<string> | undefined;
  for (const part of typeof value === "string" ? [value] : value) {
    if (NAMES_NOTHING.test(part)) continue;
    for (const token of part.split(",")) {
      const name = token.trim().toLowerCase();
      // keep-alive and close are the usual values and name nothing else to drop.
      if (name && !HOP_BY_HOP.has(name) && name !== "close") (tokens ??= new Set()).add(name);
    }
  }
  return tokens;
}

function requestHeaderRole(name: string): RequestHeaderRole {
  if (!SPECIAL_REQUEST_LENGTHS.has(name.length)) return KEEP;
  return SPECIAL_REQUEST_NAMES.get(name.toLowerCase()) ?? KEEP;
}

/**
 * The headers sent upstream, as a flat [name, value, ...] list: the client's raw headers (order,
 * case and duplicates kept) minus hop-by-hop ones, plus X-Forwarded-For/-Proto/-Host and Forwarded.
 * Host is kept as the client sent it, as kamal-proxy and Caddy do: apps build absolute URLs from it.
 * X-Forwarded-For and Forwarded are appended to, as nginx's $proxy_add_x_forwarded_for does;
 * X-Forwarded-Proto and -Host are set from what this proxy saw (a client cannot claim https
 * through a plain-HTTP listener).
 */
export function upstreamRequestHeaders(req: IncomingMessage, client: ClientSide): string[] {
  const raw = req.rawHeaders;
  const dropped = connectionTokens(req.headers.connection);
  const forwarded: string[] = [];
  let forwardedFor: string | undefined;
  let priorForwarded: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (requestHeaderRole(name)) {
      case KEEP:
        if (dropped === undefined || !dropped.has(name.toLowerCase())) forwarded.push(name, value);
        break;
      case FORWARDED_FOR:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case FORWARDED:
        priorForwarded = priorForwarded === undefined ? value : `${priorForwarded}, ${value}`;
        break;
      case DROP:
        break;
    }
  }
  const address = client.remoteAddress;
  if (address !== undefined) forwardedFor = forwardedFor === undefined ? address : `${forwardedFor}, ${address}`;
  if (forwardedFor !== undefined) forwarded.push("x-forwarded-for", forwardedFor);
  forwarded.push("x-forwarded-proto", client.protocol);
  const host = req.headers.host;
  if (host !== undefined) forwarded.push("x-forwarded-host", host);
  const element = forwardedElement(address, client.protocol, host);
  forwarded.push("forwarded", priorForwarded === undefined ? element : `${priorForwarded}, ${element}`);
  return forwarded;
}

/** RFC 7239 token characters: anything else in a value needs a quoted-string. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The last host seen and its Forwarded form: a proxy sees the same Host on request after request. */
let lastHost = "";
let lastHostValue = "";

function forwardedValue(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, "\\$&")}"`;
}

function forwardedHost(host: string): string {
  if (host !== lastHost) {
    lastHostValue = forwardedValue(host);
    lastHost = host;
  }
  return lastHostValue;
}

/** This hop's Forwarded element, e.g. `for=10.0.0.7;proto=http;host="app.example:8080"`. */
export function forwardedElement(remoteAddress: string | undefined, protocol: string, host: string | undefined): string {
  // An IPv6 node is written in brackets, which makes it a quoted-string (RFC 7239 §6).
  const node = remoteAddress === undefined ? "unknown" : remoteAddress.includes(":") ? `"[${remoteAddress}]"` : remoteAddress;
  const hostPart = host === undefined ? "" : `;host=${forwardedHost(host)}`;
  return `for=${node};proto=${protocol}${hostPart}`;
}

/** The upstream's response headers as a flat list for the client, plus what the proxy needs to know of them. */
export interface ResponseHead {
  /** [name, value, ...] minus hop-by-hop headers, as node:http's writeHead takes them. */
  headers: string[];
  /** From Content-Length; -1 when absent (the body is chunked or runs until close). */
  contentLength: number;
  /** The Content-Type value, if any (an event stream is long-lived). */
  contentType: string | undefined;
  /** Whether the upstream sets cookies (the proxy's own cookie must then join them). */
  setsCookie: boolean;
}

/**
 * The upstream's raw response headers (undici hands them over as Buffers, name then value) turned
 * into what the client gets: strings in latin1 (the bytes as sent; HTTP header values are not
 * UTF-8 text), hop-by-hop ones dropped.
 */
export function responseHead(raw: readonly (Buffer | string)[]): ResponseHead {
  const headers: string[] = [];
  let contentLength = -1;
  let contentType: string | undefined;
  let setsCookie = false;
  let connection: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = text(raw[i] as Buffer | string);
    const value = text(raw[i + 1] as Buffer | string);
    if (SPECIAL_RESPONSE_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (lower === "content-length") contentLength = lengthOf(value);
      else if (lower === "content-type") contentType ??= value;
      else if (lower === "set-cookie") setsCookie = true;
      else if (lower === "connection") (connection ??= []).push(value);
      if (HOP_BY_HOP.has(lower)) continue;
    }
    headers.push(name, value);
  }
  const dropped = connectionTokens(connection);
  if (dropped !== undefined) return { headers: withoutNames(headers, dropped), contentLength, contentType, setsCookie };
  return { headers, contentLength, contentType, setsCookie };
}

function lengthOf(value: string): number {
  const length = Number(value);
  return Number.isSafeInteger(length) && length >= 0 ? length : -1;
}

function text(value: Buffer | string): string {
  return typeof value === "string" ? value : value.toString("latin1");
}

function withoutNames(flat: readonly string[], names: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (!names.has((flat[i] as string).toLowerCase())) kept.push(flat[i] as string, flat[i + 1] as string);
  }
  return kept;
}

/** The upstream's response headers (as an object) for the client, minus hop-by-hop ones. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const dropped = connectionTokens(headers.connection);
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped?.has(name)) continue;
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
