// For routers whose data plane is another program (nginx, Caddy): one request through it to see
// which slot answers, and what the answer means. Always on a new connection — a kept-alive one is
// served with the configuration it was accepted under, so only a new one shows what runs now.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { SLOTS, isSlot, type Slot } from "../core/slots.js";

export type ProbeAnswer = { reached: true; status: number; header: string | undefined } | { reached: false; reason: string };

/** `timeoutMs` is an I/O limit for one request; a poll loop's deadline runs on the injected clock. */
export function probeSlot(url: string, headerName: string, timeoutMs: number): Promise<ProbeAnswer> {
  const send = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, { method: "GET", agent: false, headers: { connection: "close", "user-agent": "flip-probe" }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("error", () => undefined);
      resolve({ reached: true, status: res.statusCode ?? 0, header: headerValue(res.headers, headerName) });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ reached: false, reason: describeRequestError(error) }));
    req.end();
  });
}

/**
 * The slot a header value names: the slot's own name (an app that knows its slot says so), or the
 * address of one of the slot's upstreams (nginx's $upstream_addr, Caddy's
 * {http.reverse_proxy.upstream.hostport}). A list ("a:1, b:2": every address tried) names the last.
 */
export function slotOfHeader(value: string | undefined, addressesBySlot: Partial<Record<Slot, readonly string[]>>): Slot | undefined {
  if (value === undefined) return undefined;
  // A fully qualified name keeps its final dot (Caddy's SRV targets: "blue-0.shop.example.com.:8080").
  const answered = value.trim().toLowerCase().split(/[,\s]+/).filter(Boolean).at(-1)?.replace(/\.:(\d+)$/, ":$1");
  if (answered === undefined) return undefined;
  if (isSlot(answered)) return answered;
  return SLOTS.find((slot) => (addressesBySlot[slot] ?? []).some((address) => hostPort(address) === answered));
}

/** "10.0.0.5:8080 max_fails=3" (nginx) or "tcp/10.0.0.5:8080" (Caddy) → "10.0.0.5:8080". */
function hostPort(address: string): string {
  return (address.trim().split(/\s+/)[0] ?? "").replace(/^[a-z0-9]+\//, "").toLowerCase();
}

export function describeProbeAnswer(answer: ProbeAnswer, headerName: string): string {
  if (!answer.reached) return `no answer (${answer.reason})`;
  return answer.header === undefined ? `${answer.status} without a ${headerName} header` : `${answer.status} with ${headerName}: ${answer.header}`;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

function describeRequestError(error: NodeJS.ErrnoException): string {
  if (error.code === "ECONNREFUSED") return "connection refused";
  if (error.code === "ECONNRESET") return "connection reset";
  if (error.code === "ENOTFOUND") return "host not found";
  return error.message;
}
