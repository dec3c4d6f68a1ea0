// The CLI's side of the control API: one method per route, over undici. A server that cannot be
// reached, or that is not flip serve, becomes a FlipError that says where it looked and what to do;
// an API error comes back as the FlipError the server described (same code, message and hint).
import { Agent, request } from "undici";
import type { Dispatcher } from "undici";
import { FlipError, ServerUnreachableError } from "../core/errors.js";
import type { ErrorCode } from "../core/errors.js";
import type { Slot } from "../core/slots.js";
import type { DeploymentDetail, DeploymentPlan, DeploymentSummary, StandbyRetired, StatusView } from "../engine/views.js";
import type { EventRecord } from "../store/records.js";
import { SseParser } from "../api/sse.js";
import type { StreamEvent } from "../api/sse.js";

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8787 (no trailing slash). */
  baseUrl: string;
  token?: string | undefined;
  /** Sent as X-Flip-Actor, recorded in the audit log. */
  actor?: string | undefined;
  /** Said when the server cannot be reached, e.g. "Start it with `flip serve -c flip.yaml`." */
  unreachableHint?: string;
}

/** An error answer from the API: the server's FlipError, with the HTTP status it came with. */
export class ApiError extends FlipError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    hint: string | undefined,
  ) {
    // The code is the server's; a newer server may send one this CLI does not know yet.
    super(code as ErrorCode, message, hint);
  }
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly options: ClientOptions;
  private readonly agent: Agent;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.options = options;
    this.agent = new Agent({ connectTimeout: 5_000 });
  }

  status(): Promise<StatusView> {
    return this.call("GET", "/api/status");
  }

  history(limit?: number): Promise<DeploymentSummary[]> {
    return this.call("GET", `/api/history${limit === undefined ? "" : `?limit=${limit}`}`);
  }

  deployment(id: string): Promise<DeploymentDetail> {
    return this.call("GET", `/api/deployments/${encodeURIComponent(id)}`);
  }

  audit(limit?: number): Promise<EventRecord[]> {
    return this.call("GET", `/api/audit${limit === undefined ? "" : `?limit=${limit}`}`);
  }

  planDeploy(version: string, force = false): Promise<DeploymentPlan> {
    return this.call("POST", "/api/deployments/plan", { version, force });
  }

  deploy(version: string, force = false, now = false): Promise<DeploymentSummary> {
    return this.call("POST", "/api/deployments", now ? { version, force, now } : { version, force });
  }

  switchTo(slot: Slot, force = false): Promise<DeploymentSummary> {
    return this.call("POST", "/api/switch", { slot, force });
  }

  rollback(force = false): Promise<DeploymentSummary> {
    return this.call("POST", "/api/rollback", { force });
  }

  contract(): Promise<DeploymentSummary> {
    return this.call("POST", "/api/contract", {});
  }

  abort(): Promise<DeploymentSummary> {
    return this.call("POST", "/api/abort", {});
  }

  promote(): Promise<DeploymentSummary> {
    return this.call("POST", "/api/promote", {});
  }

  retire(): Promise<StandbyRetired> {
    return this.call("POST", "/api/retire", {});
  }

  /**
   * The events of one deployment as the server sends them (replay first, then live), ending after
   * `finished` or when the connection ends. Throws like any call if it cannot connect.
   */
  async *events(deploymentId: string, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
    const response = await this.send("GET", `/api/deployments/${encodeURIComponent(deploymentId)}/events`, undefined, {
      signal,
      // A deployment can be quiet for minutes between phases; heartbeats come every 15 s, but
      // the stream itself must never time out.
      bodyTimeout: 0,
      accept: "text/event-stream",
    });
    if (response.statusCode !== 200) throw await this.errorFrom(response);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        for (const message of parser.feed(decoder.decode(chunk as Buffer, { stream: true }))) {
          yield JSON.parse(message.data) as StreamEvent;
        }
      }
    } finally {
      // Leaving early (finished, Ctrl-C) must not leave the connection reading.
      response.body.destroy();
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body, {});
    if (response.statusCode < 200 || response.statusCode >= 300) throw await this.errorFrom(response);
    if (!isJson(response)) throw this.notFlip(response.statusCode, response.headers["content-type"]);
    return (await response.body.json()) as T;
  }

  private async send(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    extra: { signal?: AbortSignal | undefined; bodyTimeout?: number; accept?: string },
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { accept: extra.accept ?? "application/json" };
    if (this.options.actor) headers["x-flip-actor"] = this.options.actor;
    // Reads need the token too when flip serve listens beyond loopback.
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await request(`${this.baseUrl}${path}`, {
        method,
        headers,
        dispatcher: this.agent,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(extra.signal ? { signal: extra.signal } : {}),
        ...(extra.bodyTimeout === undefined ? {} : { bodyTimeout: extra.bodyTimeout }),
      });
    } catch (error) {
      if (extra.signal?.aborted) throw error;
      throw this.unreachable(error);
    }
  }

  private async errorFrom(response: Dispatcher.ResponseData): Promise<FlipError> {
    if (isJson(response)) {
      const body = (await response.body.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | undefined;
      const error = body?.error;
      if (error && typeof error.code === "string" && typeof error.message === "string") {
        return new ApiError(response.statusCode, error.code, error.message, typeof error.hint === "string" ? error.hint : undefined);
      }
    } else {
      await response.body.dump();
    }
    return this.notFlip(response.statusCode, response.headers["content-type"]);
  }

  private notFlip(status: number, contentType: string | string[] | undefined): FlipError {
    return new ServerUnreachableError(
      this.baseUrl,
      `it answered HTTP ${status}${contentType ? ` with ${String(contentType)}` : ""}, not like flip serve`,
      "Something else listens there. Check control.listen in flip.yaml, or --server / FLIP_SERVER.",
    );
  }

  unreachable(error: unknown): FlipError {
    if (error instanceof FlipError) return error;
    return new ServerUnreachableError(this.baseUrl, describeConnectionError(error), this.options.unreachableHint ?? "Start it with `flip serve`.", { cause: error });
  }
}

function isJson(response: Dispatcher.ResponseData): boolean {
  return /^application\/json\b/i.test(String(response.headers["content-type"] ?? ""));
}

/** "connection refused", "host not found", ... from what undici or node:net threw. */
export function describeConnectionError(error: unknown): string {
  const codes = new Set<string>();
  const collect = (value: unknown) => {
    const code = (value as { code?: unknown } | undefined)?.code;
    if (typeof code === "string") codes.add(code);
  };
  collect(error);
  collect((error as { cause?: unknown } | undefined)?.cause);
  // Dual-stack connects fail with an AggregateError holding one error per address.
  for (const inner of (error as { errors?: unknown[] } | undefined)?.errors ?? []) collect(inner);
  if (codes.has("ECONNREFUSED")) return "connection refused";
  if (codes.has("ENOTFOUND") || codes.has("EAI_AGAIN")) return "host not found";
  if (codes.has("UND_ERR_CONNECT_TIMEOUT") || codes.has("ETIMEDOUT")) return "connection timed out";
  if (codes.has("EHOSTUNREACH") || codes.has("ENETUNREACH")) return "no route to host";
  if (codes.has("UND_ERR_HEADERS_TIMEOUT")) return "no answer in time";
  if (codes.has("ECONNRESET") || codes.has("UND_ERR_SOCKET")) return "the connection was closed";
  return error instanceof Error ? error.message : String(error);
}
