// Serves the dashboard's files on the control listener: GET / is the page, GET /assets/* its CSS,
// scripts and the vendored chart library. Plain files, no build step at run time: they are read
// from public/ beside this module (the build copies them next to the compiled one, see
// scripts/copy-assets.mjs). Open like the API's reads; every action the page takes goes through
// the API and its token.
import { readFile } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context, Hono } from "hono";
import { NotFoundError } from "../core/errors.js";

export const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The page runs only its own files and talks only to this server; it cannot be framed, so no
 * other site can trick a click on "Roll back". Styles set from scripts (the chart library's) are
 * CSSOM and need no 'unsafe-inline'.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // A new `flip serve` may ship new files: always ask again (cheap on the control listener).
  "cache-control": "no-cache",
};

/** One path segment of an asset name: no "..", no hidden files, nothing a shell or URL would treat specially. */
const SAFE_ASSET = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface DashboardOptions {
  /** Where the files are; the folder beside this module unless a test says otherwise. */
  root?: string;
}

export function registerDashboard(app: Hono, options: DashboardOptions = {}): void {
  const root = resolve(options.root ?? PUBLIC_DIR);
  app.get("/", (c) => sendFile(c, root, "index.html"));
  app.get("/assets/*", (c) => sendFile(c, root, c.req.path.slice("/assets/".length)));
}

/**
 * The file an asset name stands for, or undefined when it is not one the dashboard would serve.
 * URLs arrive normalised ("/assets/../x" is "/x" by then); this holds even for names that were not.
 */
export function assetPath(root: string, name: string): string | undefined {
  const path = join(root, name);
  if (!SAFE_ASSET.test(name) || !path.startsWith(root + sep) || !Object.hasOwn(CONTENT_TYPES, extname(name))) return undefined;
  return path;
}

async function sendFile(c: Context, root: string, name: string): Promise<Response> {
  const path = assetPath(root, name);
  if (path === undefined) throw missing(name);
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    throw missing(name);
  }
  return c.body(new Uint8Array(body), 200, { "content-type": CONTENT_TYPES[extname(name)] as string, ...SECURITY_HEADERS });
}

function missing(name: string): NotFoundError {
  return new NotFoundError(`The dashboard has no file "${name}".`, "Open the dashboard at / on the control listener; if files are missing, run `npm run build`.");
}
