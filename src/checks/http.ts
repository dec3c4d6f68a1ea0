// One try of an http check against one replica: send the request, then judge status and JSON body
// with the pure matchers of expect.ts. Failures come back as data; only an abort throws.
import type { Readable } from "node:stream";
import { request } from "undici";
import type { HttpCheckConfig } from "../config/schema.js";
import { formatDuration } from "../core/duration.js";
import type { Endpoint } from "../core/slots.js";
import { renderTemplate, type TemplateVars } from "../core/template.js";
import { describeStatusMatcher, jsonMismatches, renderExpected, statusMatches } from "./expect.js";
import type { CheckAttempt, CheckTarget } from "./types.js";

/** More than this is not a health answer; refusing it keeps a broken replica from eating memory. */
const JSON_LIMIT_BYTES = 1024 * 1024;
/** How much of an unexpected body is kept for the user to read. */
const PREVIEW_BYTES = 1024;

export interface HttpAttemptOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

class DeadlinePassed extends Error {}

export async function runHttpCheck(
  http: HttpCheckConfig,
  endpoint: Endpoint,
  target: CheckTarget,
  options: HttpAttemptOptions,
): Promise<CheckAttempt> {
  // {url} is the replica being asked, so an expectation can name the address that answered.
  const vars: TemplateVars = { version: target.version, slot: target.slot, url: endpoint.url };
  const path = renderTemplate(http.path, vars);
  const label = `${http.method} ${path} on ${target.slot} replica ${endpoint.replica}`;
  const headers = Object.fromEntries(Object.entries(http.headers ?? {}).map(([name, value]) => [name, renderTemplate(value, vars)]));

  // headersTimeout/bodyTimeout bound each wait; the deadline bounds the whole exchange, so a body
  // trickling in one byte at a time still fails on time.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DeadlinePassed()), options.timeoutMs);
  try {
    const response = await request(endpoint.url + path, {
      method: http.method,
      headers: { "user-agent": "flip-check", ...headers },
      signal: AbortSignal.any([options.signal, deadline.signal]),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // A check is a one-off; a pooled connection would outlive the replica it points at.
      reset: true,
    });
    const status = response.statusCode;
    if (!statusMatches(status, http.expectStatus)) {
      const preview = await readBody(response.body, PREVIEW_BYTES).catch(() => undefined);
      return fail(`${label} → ${status} (expected ${describeStatusMatcher(http.expectStatus)})`, preview?.text);
    }
    if (http.expectJson === undefined) {
      await response.body.dump();
      return { ok: true, message: `${label} → ${status}` };
    }

    const body = await readBody(response.body, JSON_LIMIT_BYTES);
    if (body.truncated) return fail(`${label} → ${status}, but the body is larger than ${JSON_LIMIT_BYTES / 1024} KiB, too big to compare`);
    let document: unknown;
    try {
      document = JSON.parse(body.text);
    } catch {
      return fail(`${label} → ${status}, but the body is not JSON: ${startOf(body.text)}`, body.text.slice(0, PREVIEW_BYTES));
    }
    const expected = renderExpected(http.expectJson, vars) as Record<string, unknown>;
    const mismatches = jsonMismatches(document, expected);
    if (mismatches.length > 0) return fail(`${label} → ${status}, but ${mismatches.join("; ")}`, body.text.slice(0, PREVIEW_BYTES));
    return { ok: true, message: `${label} → ${status}, JSON matches` };
  } catch (error) {
    if (options.signal.aborted) throw options.signal.reason;
    if (deadline.signal.aborted || isTimeout(error)) return fail(`${label} → timed out after ${formatDuration(options.timeoutMs)}`);
    return fail(`${label} → ${describeRequestError(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

function fail(message: string, output?: string): CheckAttempt {
  return output ? { ok: false, message, output } : { ok: false, message };
}

async function readBody(body: Readable, limitBytes: number): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size > limitBytes) {
      body.destroy();
      return { text: Buffer.concat(chunks).subarray(0, limitBytes).toString("utf8"), truncated: true };
    }
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated: false };
}

/** The first few characters of a body on one line, quoted, for a message. */
function startOf(text: string): string {
  if (text.trim() === "") return "(empty body)";
  const line = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}...` : line);
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT";
}

function describeRequestError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (nothing listens there)";
    case "ECONNRESET":
      return "connection reset before an answer";
    case "UND_ERR_SOCKET":
      return `connection closed before an answer (${detail})`;
    case "ENOTFOUND":
      return `host not found (${detail})`;
    default:
      return detail;
  }
}
