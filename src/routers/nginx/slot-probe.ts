// One request through nginx to see which slot answers: always on a new connection (so a new
// connection's worker answers — after a reload, the new workers' configuration), never following
// redirects, the body thrown away. What the answer means is upstream-file.ts's slotOfHeader().
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

export type ProbeAnswer =
  | { reached: true; status: number; header: string | undefined }
  | { reached: false; reason: string };

/**
 * An I/O limit, not a policy decision: it bounds one request so that a hung nginx cannot stall a
 * poll loop, whose own deadline runs on the injected clock.
 */
export const PROBE_REQUEST_TIMEOUT_MS = 2_000;

export function probeOnce(url: string, headerName: string): Promise<ProbeAnswer> {
  const send = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, { method: "GET", agent: false, headers: { connection: "close", "user-agent": "flip-probe" }, timeout: PROBE_REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on("error", () => undefined);
      resolve({ reached: true, status: res.statusCode ?? 0, header: headerValue(res.headers, headerName) });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_REQUEST_TIMEOUT_MS / 1000}s`)));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ reached: false, reason: describeRequestError(error) }));
    req.end();
  });
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
