// What the control API accepts: the request bodies and queries (zod), how a body is read (JSON
// only, bounded), who is asking (the audit log's actor), and whether they may change anything.
// Everything here refuses before the engine is called, so bad input changes nothing.
import { createHash, timingSafeEqual } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import { z } from "zod";
import { BadRequestError } from "../core/errors.js";

export const MAX_BODY_BYTES = 64 * 1024;

/** Versions are opaque, but end up in commands, URLs and file names: no spaces, no shell specials. */
export const versionSchema = z
  .string({ error: "expected the version as a string" })
  .min(1, "the version is empty")
  .max(128, "the version is longer than 128 characters")
  .regex(/^[A-Za-z0-9._:/+@-]+$/, "the version may hold only letters, digits and . _ : / + @ -");

export const deployBody = z.strictObject({ version: versionSchema, force: z.boolean().optional(), now: z.boolean().optional() });
export const switchBody = z.strictObject({
  slot: z.enum(["blue", "green"], { error: 'expected slot "blue" or "green"' }),
  force: z.boolean().optional(),
});
export const rollbackBody = z.strictObject({ force: z.boolean().optional() });
export const emptyBody = z.strictObject({});

const limitQuery = z.coerce
  .number({ error: "expected a number" })
  .int("expected a whole number")
  .min(1, "expected at least 1")
  .max(1000, "expected at most 1000")
  .optional();

/** `?limit=N` → N, or undefined when absent (the engine picks its default). */
export function readLimit(c: Context): number | undefined {
  const parsed = limitQuery.safeParse(c.req.query("limit"));
  if (!parsed.success) throw new BadRequestError(`limit: ${firstMessage(parsed.error)}.`, "Pass ?limit=N with N from 1 to 1000.");
  return parsed.data;
}

/**
 * Reads and validates a JSON body. An absent body counts as `{}` so that `curl -X POST` works
 * for actions without parameters; a present one must say it is JSON and fit in 64 KiB. A declared
 * type other than JSON is refused even with an empty body: that is what a form or a no-cors
 * fetch from another site sends, and neither may act.
 */
export async function readBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const contentType = c.req.header("content-type");
  if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new UnsupportedMediaError(contentType);
  }
  const text = await readBodyText(c);
  let value: unknown = {};
  if (text.trim() !== "") {
    if (contentType === undefined) throw new UnsupportedMediaError("");
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new BadRequestError(`The request body is not valid JSON: ${(error as Error).message}.`, 'Send a JSON object, e.g. {"version": "v2"}.');
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
    throw new BadRequestError(`Invalid request: ${problems.join("; ")}.`, "Check the request body against the API reference.");
  }
  return parsed.data;
}

/** The body as text, refusing (413) as soon as it is known to exceed the limit. */
async function readBodyText(c: Context): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new BodyTooLargeError();
  const body = c.req.raw.body;
  if (!body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Read as a stream so a chunked body without Content-Length is cut off at the limit too.
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** 413 — a FLIP_E_BAD_REQUEST with its own HTTP status. */
export class BodyTooLargeError extends BadRequestError {
  readonly status = 413;
  constructor() {
    super(`The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`, "Requests to the Flip API are small JSON objects; check what is being sent.");
  }
}

/** 415 — a FLIP_E_BAD_REQUEST with its own HTTP status. */
export class UnsupportedMediaError extends BadRequestError {
  readonly status = 415;
  constructor(contentType: string) {
    super(
      `The request body is ${contentType ? `"${contentType}"` : "of no declared type"}; the Flip API takes application/json.`,
      "Send the header `Content-Type: application/json`.",
    );
  }
}

/** What the Authorization header says about the token: all of it but "ok" is refused. */
export type TokenVerdict = "ok" | "missing" | "not-bearer" | "wrong";

/**
 * Compares `Authorization: Bearer <token>` with the token. Both sides are hashed first so
 * timingSafeEqual compares equal lengths and the time taken says nothing about the token.
 */
export function checkToken(header: string | undefined, token: string): TokenVerdict {
  if (header === undefined) return "missing";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return "not-bearer";
  const given = createHash("sha256").update(match[1] as string).digest();
  const expected = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, expected) ? "ok" : "wrong";
}

/**
 * The address of the client as this server saw it (IPv4-mapped IPv6 written as IPv4), or
 * undefined when the request did not come over a socket (app.request() in tests). Headers such
 * as X-Forwarded-For are ignored: any client could write them.
 */
export function clientAddress(c: Context): string | undefined {
  let address: string | undefined;
  try {
    address = getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
  return address?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
}

/**
 * Who is asking, for the audit log: X-Flip-Actor (the CLI sends `cli:<user>`), else "api", then
 * `@<client address>` — the part after the last @ is the address the server saw, which the
 * caller cannot choose.
 */
export function actorOf(c: Context): string {
  // The actor lands in logs and tables: keep it printable and short.
  const claimed = c.req.header("x-flip-actor")?.trim().replace(/[^\x20-\x7e]/g, "").slice(0, 128) || "api";
  const address = clientAddress(c);
  return address === undefined ? claimed : `${claimed}@${address}`;
}

function firstMessage(error: z.ZodError): string {
  return error.issues[0]?.message ?? "invalid value";
}
