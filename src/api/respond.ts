// How the control API answers when something goes wrong: every FlipError becomes
// `{ error: { code, message, hint } }` with the HTTP status its code implies; anything else is a
// bug, logged in full and answered with a generic 500.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { FlipError, RateLimitedError } from "../core/errors.js";
import type { ErrorCode } from "../core/errors.js";
import type { Logger } from "../logging.js";

const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  FLIP_E_BAD_REQUEST: 400,
  FLIP_E_CONFIG: 400,
  FLIP_E_UNAUTHORIZED: 401,
  FLIP_E_RATE_LIMITED: 429,
  FLIP_E_NOT_FOUND: 404,
  FLIP_E_LOCKED: 409,
  FLIP_E_NO_STANDBY: 409,
  FLIP_E_EMPTY_SLOT: 409,
  FLIP_E_NOTHING_RUNNING: 409,
  FLIP_E_NO_CHECKS: 409,
  FLIP_E_CONTRACT_BLOCKED: 409,
  FLIP_E_SCHEMA_CONTRACTED: 409,
};

/** The body of every error answer. `code` is a FlipError code, or FLIP_E_INTERNAL for a bug. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

export function statusFor(error: FlipError): ContentfulStatusCode {
  // A few BAD_REQUEST errors carry a more precise status (413, 415).
  const own = (error as { status?: unknown }).status;
  if (typeof own === "number") return own as ContentfulStatusCode;
  return STATUS_BY_CODE[error.code] ?? 500;
}

export function errorResponse(c: Context, error: unknown, logger: Logger): Response {
  if (error instanceof FlipError) {
    const status = statusFor(error);
    if (status >= 500) logger.error({ err: error, code: error.code, path: c.req.path }, `API ${c.req.method} ${c.req.path} failed: ${error.message}`);
    if (error instanceof RateLimitedError) c.header("retry-after", String(error.retryAfterSeconds));
    return c.json({ error: error.toJSON() } satisfies ErrorBody, status);
  }
  logger.error({ err: error, path: c.req.path }, `API ${c.req.method} ${c.req.path} failed unexpectedly`);
  const body: ErrorBody = {
    error: {
      code: "FLIP_E_INTERNAL",
      message: `flip serve failed to answer ${c.req.method} ${c.req.path}: ${error instanceof Error ? error.message : String(error)}`,
      hint: "This is a bug in Flip; the server log has the details. Please report it.",
    },
  };
  return c.json(body, 500);
}
