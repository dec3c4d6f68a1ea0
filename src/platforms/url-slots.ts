// Slots reached at a URL rather than at a local port: the `command` and `static` platforms know
// each slot only by its base URL. One config field for such URLs, the Endpoint they become, and
// the readiness wait "the URL answers HTTP at all" that both platforms use.
import { request } from "undici";
import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { formatDuration } from "../core/duration.js";
import { PlatformError, TimeoutError } from "../core/errors.js";
import type { Endpoint, Slot } from "../core/slots.js";

/**
 * An http(s) base URL with no path, query or fragment: the built-in proxy forwards to the origin,
 * so a path here would be silently dropped there. A template ({slot}) is checked once filled in.
 */
export function baseUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a URL such as http://10.0.0.5:8080, got "${text}"`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `expected an http:// or https:// URL, got "${text}"`;
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    return `"${text}" has a path: give the slot's base URL (scheme, host and port) only; checks add their own paths`;
  }
  if (url.username !== "" || url.password !== "") return `"${text}" holds credentials; put them in a check's headers instead`;
  return undefined;
}

export const baseUrl = z.string().superRefine((text, ctx) => {
  const problem = baseUrlProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** The one Endpoint of a slot served at `url` (validated with baseUrl). */
export function endpointFromUrl(slot: Slot, url: string): Endpoint {
  const parsed = new URL(url);
  const defaultPort = parsed.protocol === "https:" ? 443 : 80;
  // URL keeps IPv6 hosts in brackets; an Endpoint's host is what a socket connects to.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return { slot, replica: 0, host, port: parsed.port === "" ? defaultPort : Number(parsed.port), url: parsed.origin };
}

export interface HttpAnswerWait {
  url: string;
  /** e.g. "green (v3)" */
  slotName: string;
  timeoutMs: number;
  intervalMs: number;
  clock: Clock;
  signal: AbortSignal;
}

// One probe never waits longer than this, so a hung server cannot stall the polling.
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Resolves once a GET of the URL gets any HTTP answer (judging the answer is the checks' job),
 * rejects with TimeoutError naming the last failure when `timeoutMs` passes first.
 */
export async function waitForHttpAnswer(wait: HttpAnswerWait): Promise<void> {
  const { clock, signal } = wait;
  const deadline = clock.now() + wait.timeoutMs;
  for (;;) {
    if (signal.aborted) throw new PlatformError(`Stopped waiting for ${wait.slotName} to answer: cancelled.`, undefined, { cause: signal.reason });
    const remainingMs = deadline - clock.now();
    const failure = await probeOnce(wait.url, Math.max(100, Math.min(PROBE_TIMEOUT_MS, remainingMs)), signal);
    if (failure === undefined) return;
    if (clock.now() >= deadline) {
      throw new TimeoutError(
        `${wait.slotName} did not answer GET ${wait.url} within ${formatDuration(wait.timeoutMs)}: ${failure}.`,
        "Check that the slot is deployed and reachable from this machine at that URL, or raise `readyTimeout` in flip.yaml.",
      );
    }
    await clock.sleep(Math.min(wait.intervalMs, deadline - clock.now()), signal).catch(() => undefined);
  }
}

/** undefined when the URL answered; else why not. */
async function probeOnce(url: string, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(url, {
      method: "GET",
      reset: true, // no keep-alive: a probe must not hold a connection open
      signal: AbortSignal.any([signal, timeout]),
      headers: { "user-agent": "flip-readiness" },
    });
    await response.body.dump();
    return undefined;
  } catch (error) {
    if (timeout.aborted) return `no answer within ${formatDuration(timeoutMs)}`;
    const code = (error as { code?: string }).code;
    return code === "ECONNREFUSED" ? "connection refused" : (code ?? (error as Error).message);
  }
}
