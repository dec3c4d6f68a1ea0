// Who may call the control API, checked before any route reads a body or asks the engine:
// - on a loopback listener, only names of this machine in Host (a DNS-rebinding page cannot call);
// - a call that changes something, from a page of another site (Origin), never;
// - the token: for calls that change something, and for every call when the listener is not
//   loopback; wrong tokens are logged and limited per client (AuthFailureLimiter).
// No CORS headers are ever sent, so browsers keep other sites from reading any answer.
import type { Context, Hono, MiddlewareHandler } from "hono";
import { isLoopbackHost } from "../config/fields.js";
import { BadRequestError, RateLimitedError, UnauthorizedError } from "../core/errors.js";
import type { Logger } from "../logging.js";
import type { AuthFailureLimiter } from "./auth-limiter.js";
import { checkToken, clientAddress } from "./requests.js";
import type { TokenVerdict } from "./requests.js";

export interface GuardOptions {
  token: string | undefined;
  /** Whether the listener is reachable from this machine only (see isLoopbackHost). */
  listenIsLoopback: boolean;
  limiter: AuthFailureLimiter;
  logger: Logger;
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The routes that hold data or act; the rest (the dashboard's files, /healthz) are open. */
export const GUARDED_PATHS = ["/api/*", "/metrics"] as const;

export function registerGuards(app: Hono, options: GuardOptions): void {
  if (options.listenIsLoopback) app.use("*", refuseForeignHost);
  const guard = guardCall(options);
  for (const path of GUARDED_PATHS) app.use(path, guard);
}

function guardCall(options: GuardOptions): MiddlewareHandler {
  const { token, listenIsLoopback } = options;
  return async (c, next) => {
    const changes = !READ_METHODS.has(c.req.method);
    if (changes) refuseCrossSite(c);
    // Without a token (allowed on loopback only) everything is open to this machine.
    if (token !== undefined && (changes || !listenIsLoopback)) authorize(c, token, changes, options);
    await next();
  };
}

const REASONS: Record<Exclude<TokenVerdict, "ok">, string> = {
  missing: "No Authorization header",
  "not-bearer": "The Authorization header is not `Bearer <token>`",
  wrong: "Wrong token",
};

function authorize(c: Context, token: string, changes: boolean, options: GuardOptions): void {
  const client = clientAddress(c) ?? "unknown";
  // A client out of tries is refused before its token is looked at: that is what stops guessing.
  const waitMs = options.limiter.blockedForMs(client);
  if (waitMs > 0) throw new RateLimitedError(client, Math.ceil(waitMs / 1000));
  const verdict = checkToken(c.req.header("authorization"), token);
  if (verdict === "ok") return;
  // No header is not a guess (a dashboard that has not been given the token yet): only a
  // presented, wrong credential counts and is logged.
  if (verdict !== "missing") {
    const spent = options.limiter.recordFailure(client);
    const where = { client, method: c.req.method, path: c.req.path, reason: verdict };
    options.logger.warn(where, `control API: refused a ${verdict === "wrong" ? "wrong token" : "malformed Authorization header"} from ${client}`);
    if (spent) options.logger.warn(where, `control API: too many wrong tokens from ${client}; refusing its calls that need the token for a while`);
  }
  throw new UnauthorizedError(REASONS[verdict], changes || options.listenIsLoopback ? undefined : "every call to a control API listening beyond loopback");
}

/** 403 — a FLIP_E_BAD_REQUEST with its own HTTP status: who sent it, not what, is refused. */
export class ForbiddenOriginError extends BadRequestError {
  readonly status = 403;
}

/**
 * A browser names the page that sent a request in Origin; a call that changes something must come
 * from the API's own origin (the dashboard) or from no page at all (the CLI, curl). Compared by
 * host:port, so a TLS-terminating proxy in front (https outside, http here) still matches.
 */
function refuseCrossSite(c: Context): void {
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  const ownHost = c.req.header("host") ?? new URL(c.req.url).host;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = undefined; // "null" (a sandboxed frame, a file) is nobody's own origin
  }
  if (originHost !== undefined && originHost !== "" && originHost.toLowerCase() === ownHost.toLowerCase()) return;
  throw new ForbiddenOriginError(
    `Refused a ${c.req.method} from the page at ${origin}: the control API takes calls that change something only from its own pages (${ownHost}) or from outside a browser.`,
    "Use the dashboard served by flip serve, the flip CLI, or a client that sends no Origin header.",
  );
}

/**
 * On a loopback listener the Host must name this machine: a page whose name was re-pointed at
 * 127.0.0.1 (DNS rebinding) would otherwise pass as same-origin. No Host at all (HTTP/1.0, tests)
 * cannot come from a browser.
 */
const refuseForeignHost: MiddlewareHandler = async (c, next) => {
  const host = c.req.header("host");
  if (host !== undefined && !isLoopbackHost(hostnameOf(host))) {
    throw new ForbiddenOriginError(
      `Refused a request for host "${host}": this control API listens on loopback and answers only to localhost, 127.0.0.1 or [::1].`,
      "Call it as http://127.0.0.1:<port>. To reach it from elsewhere, set control.listen to a public address and control.token.",
    );
  }
  await next();
};

function hostnameOf(host: string): string {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return host;
  }
}
