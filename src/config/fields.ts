// zod field types shared by the config schemas of Flip and of every driver.
import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { parseDuration } from "../core/duration.js";

function toMs(text: string | number, ctx: z.RefinementCtx): number {
  const ms = typeof text === "string" ? parseDuration(text) : undefined;
  if (ms === undefined) {
    // A bare number (`timeout: 30`) is let through the type check so the answer can name the fix.
    const got = typeof text === "number" ? `${text}, a number without a unit` : `"${text}"`;
    ctx.addIssue({ code: "custom", message: `expected a duration such as 500ms, 30s, 10m or 24h, got ${got}` });
    return z.NEVER;
  }
  return ms;
}

const durationText = z.union([z.string(), z.number()], { error: "expected a duration such as 500ms, 30s, 10m or 24h" });

/** A duration such as `500ms`, `30s`, `10m`, `24h`; becomes milliseconds. */
export function duration() {
  return durationText.transform(toMs);
}

/** The same, optional in the file, with a default written the way a user would write it. */
export function durationOr(defaultValue: string) {
  return durationText.default(defaultValue).transform(toMs);
}

/** host:port on which Flip listens, e.g. 127.0.0.1:8080 or [::1]:8080 */
export const listenAddress = z.string().refine((text) => parseListenAddress(text) !== undefined, {
  message: "expected host:port, e.g. 127.0.0.1:8080",
});

export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * Whether a listen host is reachable from this machine only: 127.0.0.0/8, ::1 (also written
 * as an IPv4-mapped address) or the name localhost. Wildcards (0.0.0.0, ::) and any other name
 * count as reachable from elsewhere — a name is not resolved, so it is taken at its worst.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (bare === "localhost" || bare === "localhost.") return true;
  const family = isIP(bare);
  if (family === 0) return false;
  return LOOPBACK.check(bare, family === 4 ? "ipv4" : "ipv6");
}

/** isLoopbackHost for a whole `host:port` listen address (false when it is not one). */
export function isLoopbackListen(address: string): boolean {
  const parsed = parseListenAddress(address);
  return parsed !== undefined && isLoopbackHost(parsed.host);
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

export const port = z.number().int().min(1).max(65535);

/** The name of an app, a slot label or a check: safe in file names and URLs. */
export const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, "expected letters, digits, '.', '_' or '-' (starting with a letter or digit)");
