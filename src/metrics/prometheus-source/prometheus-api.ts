// One instant query against the Prometheus HTTP API (POST /api/v1/query), reduced to the one number
// a rule needs. Every way it can go wrong — Prometheus down, a query it refuses, an answer that is
// not one number — comes back as a message for the monitor to record, never as an exception.
import { request } from "undici";
import { formatDuration } from "../../core/duration.js";

export type QueryAnswer = { ok: true; value: number | undefined } | { ok: false; error: string };

export interface QueryOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
}

/** The API's answer, as far as Flip reads it (https://prometheus.io/docs/prometheus/latest/querying/api/). */
interface ApiResponse {
  status?: "success" | "error";
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

type Sample = [number, string];

export async function instantQuery(baseUrl: string, query: string, options: QueryOptions): Promise<QueryAnswer> {
  const endpoint = `${baseUrl.replace(/\/+$/, "")}/api/v1/query`;
  const body = new URLSearchParams({ query, timeout: `${Math.max(1, Math.round(options.timeoutMs / 1000))}s` }).toString();
  let status: number;
  let text: string;
  try {
    const response = await request(endpoint, {
      method: "POST",
      body,
      headers: { ...options.headers, "content-type": "application/x-www-form-urlencoded", "user-agent": "flip-monitor" },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    return { ok: false, error: `cannot reach Prometheus at ${endpoint}: ${describeRequestError(error, options.timeoutMs)}` };
  }
  let parsed: ApiResponse;
  try {
    parsed = JSON.parse(text) as ApiResponse;
  } catch {
    return { ok: false, error: `${endpoint} answered ${status} with something other than the Prometheus API's JSON: ${text.slice(0, 200).trim()}` };
  }
  // Prometheus's own words: "bad_data: invalid parameter \"query\": 1:15: parse error: ..."
  if (parsed.status !== "success") return { ok: false, error: `Prometheus refused the query: ${parsed.errorType ?? `HTTP ${status}`}: ${parsed.error ?? text.slice(0, 200)}` };
  return readResult(parsed.data);
}

function readResult(data: ApiResponse["data"]): QueryAnswer {
  const type = data?.resultType;
  if (type === "scalar") return { ok: true, value: sampleValue(data?.result as Sample) };
  if (type !== "vector") return { ok: false, error: `the query returned a ${type ?? "result of no type"}; a rule needs one number (an instant vector of one series, or a scalar)` };
  const series = (data?.result ?? []) as { metric?: Record<string, string>; value: Sample }[];
  if (series.length === 0) return { ok: true, value: undefined }; // no data in the window: nothing to judge
  if (series.length > 1) {
    const labels = series.slice(0, 3).map((one) => JSON.stringify(one.metric ?? {}));
    return { ok: false, error: `the query returned ${series.length} series (${labels.join(", ")}${series.length > 3 ? ", ..." : ""}); a rule needs one number: aggregate it, e.g. sum(...)` };
  }
  return { ok: true, value: sampleValue((series[0] as { value: Sample }).value) };
}

/** Prometheus writes values as strings; NaN (0/0: no traffic) is no value, ±Inf is kept. */
function sampleValue(sample: Sample | undefined): number | undefined {
  const text = sample?.[1];
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

function describeRequestError(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string }).name;
  if (name === "TimeoutError" || name === "AbortError") return `no answer within ${formatDuration(timeoutMs)}`;
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  return code ?? (error instanceof Error ? error.message : String(error));
}
