// One request through Caddy to see which slot answers, and what the answer means. Always on a new
// connection: Caddy serves a kept-alive connection with the config it was accepted under, so only a
// new one shows the config running now. Same header convention as the nginx router's probe.
import { request } from "undici";
import { describeError } from "../../core/errors.js";
import { SLOTS, isSlot, type Slot } from "../../core/slots.js";

export type ProbeAnswer = { reached: true; status: number; header: string | undefined } | { reached: false; reason: string };

/** `timeoutMs` is an I/O limit for one request; the poll loop's deadline runs on the injected clock. */
export async function probeSlot(url: string, headerName: string, timeoutMs: number): Promise<ProbeAnswer> {
  try {
    const response = await request(url, { method: "GET", reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers: { "user-agent": "flip-probe" } });
    await response.body.dump();
    const value = response.headers[headerName.toLowerCase()];
    return { reached: true, status: response.statusCode, header: Array.isArray(value) ? value.join(", ") : value };
  } catch (error) {
    return { reached: false, reason: describeError(error) };
  }
}

/**
 * The slot a header value names: the slot's name, or an address of one of its upstreams (Caddy's
 * {http.reverse_proxy.upstream.hostport}); for a list (a header set twice), the last one.
 */
export function slotOfHeader(value: string | undefined, dialsBySlot: Partial<Record<Slot, readonly string[]>>): Slot | undefined {
  if (value === undefined) return undefined;
  const answered = value.trim().toLowerCase().split(/[,\s]+/).filter(Boolean).at(-1);
  if (answered === undefined) return undefined;
  if (isSlot(answered)) return answered;
  return SLOTS.find((slot) => (dialsBySlot[slot] ?? []).some((dial) => hostPort(dial) === answered));
}

/** "tcp/10.0.0.5:8080" → "10.0.0.5:8080": the placeholder gives the address without the network. */
function hostPort(dial: string): string {
  return dial.replace(/^[a-z0-9]+\//, "").toLowerCase();
}

export function describeProbeAnswer(answer: ProbeAnswer, headerName: string): string {
  if (!answer.reached) return `no answer (${answer.reason})`;
  return answer.header === undefined ? `${answer.status} without a ${headerName} header` : `${answer.status} with ${headerName}: ${answer.header}`;
}
