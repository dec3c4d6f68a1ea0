// The two calls the caddy router makes to Caddy's admin API, through the `/id/<@id>` shortcut to
// one object of the running config: read the reverse_proxy handler, replace its upstreams. Every
// failure becomes a RouterError that says what Caddy answered and what to do.
import { request } from "undici";
import type { Clock } from "../../core/clock.js";
import { describeError, RouterError } from "../../core/errors.js";

/** A call reset while Caddy restarts its admin endpoint is tried this many times in all, RESET_RETRY_MS apart. */
const RESET_ATTEMPTS = 4;
const RESET_RETRY_MS = 50;

/** The parts of a reverse_proxy handler the router reads. */
export interface ProxyHandler {
  handler?: string;
  upstreams?: { dial?: string }[];
  /** Caddy's dynamic upstreams module, e.g. {"source": "srv", "service": "http", "proto": "tcp", "name": "shop.example.com", "refresh": "1s"}. */
  dynamic_upstreams?: { source?: string; service?: string; proto?: string; name?: string; refresh?: string | number };
}

export class CaddyAdminApi {
  constructor(
    private readonly adminUrl: string,
    readonly handlerId: string,
    /** An I/O limit per call, not a wait Flip decides on: it keeps a hung Caddy from stalling a switch. */
    private readonly timeoutMs: number,
    /** Times the pause before a call reset by Caddy's admin endpoint restart is sent again. */
    private readonly clock: Clock,
  ) {}

  /** GET /id/<handlerId>: the handler as Caddy runs it now. */
  async readHandler(): Promise<ProxyHandler> {
    const body = await this.call("GET", `/id/${this.handlerId}`);
    const handler = JSON.parse(body) as ProxyHandler | null;
    if (handler?.handler !== "reverse_proxy") {
      throw new RouterError(
        `Caddy's object with "@id": "${this.handlerId}" is ${handler?.handler ? `a ${handler.handler} handler` : "not a handler"}, not a reverse_proxy handler.`,
        `Put "@id": "${this.handlerId}" on the reverse_proxy handler that serves the app (see the README's Caddy section), or set router.handlerId to its @id.`,
      );
    }
    return handler;
  }

  /**
   * Replaces the handler's upstreams: PATCH when it has a list, PUT to create one. Caddy loads the
   * whole changed config before it answers, so once this returns, new connections get `dials`.
   */
  async writeUpstreams(dials: readonly string[], hasUpstreams: boolean): Promise<void> {
    await this.call(hasUpstreams ? "PATCH" : "PUT", `/id/${this.handlerId}/upstreams`, JSON.stringify(dials.map((dial) => ({ dial }))));
  }

  /** What writeUpstreams sends, for planSwitch. */
  describeWrite(dials: readonly string[], hasUpstreams: boolean): string {
    return `${hasUpstreams ? "PATCH" : "PUT"} ${this.url(`/id/${this.handlerId}/upstreams`)} ${JSON.stringify(dials.map((dial) => ({ dial })))}`;
  }

  private url(path: string): string {
    return `${this.adminUrl.replace(/\/+$/, "")}${path}`;
  }

  private async call(method: "GET" | "PATCH" | "PUT", path: string, body?: string): Promise<string> {
    const url = this.url(path);
    let response;
    for (let attempt = 1; ; attempt++) {
      try {
        // A new connection per call: Caddy restarts its admin endpoint after each config change,
        // closing kept-alive connections, so reusing one would fail the next call now and then.
        response = await request(url, {
          method,
          reset: true,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
        });
        break;
      } catch (error) {
        // Even a new connection can meet the admin endpoint while Caddy swaps it, just after a change:
        // the connection is reset before any answer. Every call here is idempotent (a read, or setting
        // the same upstreams), so it is sent again, a few times, a moment apart.
        if (attempt < RESET_ATTEMPTS && (error as { code?: string }).code === "ECONNRESET") {
          await this.clock.sleep(RESET_RETRY_MS);
          continue;
        }
        throw new RouterError(
          `Cannot reach Caddy's admin API at ${this.adminUrl} (router.adminUrl): ${describeRequestError(error)}.`,
          "Is Caddy running? Its admin endpoint is `admin.listen` in Caddy's config (Caddy's default: localhost:2019; `admin off` disables it). Traffic is as before.",
          { cause: error },
        );
      }
    }
    const text = await response.body.text();
    if (response.statusCode >= 200 && response.statusCode < 300) return text;
    const said = caddyErrorOf(text);
    if (response.statusCode === 404 && /unknown object ID/i.test(said)) {
      throw new RouterError(
        `Caddy has no config object with "@id": "${this.handlerId}" (Caddy said: ${said}).`,
        `Add "@id": "${this.handlerId}" to the reverse_proxy handler in Caddy's JSON config (the README's Caddy section shows where), or set router.handlerId in flip.yaml to the @id it has. A Caddyfile cannot set @id: adapt it to JSON (\`caddy adapt\`) first.`,
      );
    }
    throw new RouterError(
      `Caddy's admin API refused ${method} ${url} (${response.statusCode}): ${said}.`,
      method === "GET" ? "Check router.adminUrl and router.handlerId in flip.yaml." : "Caddy keeps running the configuration it had when it refuses a change: traffic is as before.",
    );
  }
}

/** Caddy answers errors as {"error": "..."}. */
function caddyErrorOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: say what came
  }
  return text.trim().slice(0, 300) || "(no message)";
}

function describeRequestError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return "no answer in time";
  return describeError(error);
}
