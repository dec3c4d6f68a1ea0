// Which flip serve a command talks to, and as whom. The server is --server / FLIP_SERVER, or the
// config's control.listen; the token is FLIP_TOKEN, or the config's control.token. With a server
// given, the config is read only when one was named (-c / FLIP_CONFIG), so it need not exist.
import { userInfo } from "node:os";
import { parseListenAddress } from "../config/fields.js";
import { loadConfig } from "../config/load.js";
import type { FlipConfig } from "../config/schema.js";
import { BadRequestError } from "../core/errors.js";
import { ApiClient } from "./client.js";
import type { CliIo } from "./io.js";

export const DEFAULT_CONFIG_FILE = "flip.yaml";

/** The options every command takes. */
export interface ConnectionOptions {
  config?: string;
  server?: string;
}

/** The config file a command means: -c, else FLIP_CONFIG, else ./flip.yaml. */
export function configFileOf(options: ConnectionOptions, env: NodeJS.ProcessEnv): string {
  return options.config ?? (env.FLIP_CONFIG || DEFAULT_CONFIG_FILE);
}

export interface Target {
  baseUrl: string;
  token: string | undefined;
  configFile: string;
  config: FlipConfig | undefined;
}

export async function resolveTarget(options: ConnectionOptions, io: CliIo): Promise<Target> {
  const configFile = configFileOf(options, io.env);
  const namedConfig = options.config !== undefined || Boolean(io.env.FLIP_CONFIG);
  const server = options.server ?? (io.env.FLIP_SERVER || undefined);
  const config = server === undefined || namedConfig ? await loadConfig(configFile, { env: io.env }) : undefined;
  const baseUrl = server !== undefined ? serverUrl(server) : urlOfListen((config as FlipConfig).control.listen);
  const token = io.env.FLIP_TOKEN || config?.control.token || undefined;
  return { baseUrl, token, configFile, config };
}

/** A client for the target, sending `cli:<os user>` as the actor. */
export async function connect(options: ConnectionOptions, io: CliIo): Promise<ApiClient> {
  const target = await resolveTarget(options, io);
  return new ApiClient({
    baseUrl: target.baseUrl,
    token: target.token,
    actor: `cli:${osUser(io.env)}`,
    unreachableHint: `Start it with \`flip serve -c ${target.configFile}\`${options.server ?? io.env.FLIP_SERVER ? ", or check --server / FLIP_SERVER" : ""}.`,
  });
}

/** --server as given: a URL, or host:port (http assumed). */
export function serverUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new BadRequestError(`--server "${text}" is not a URL.`, "Write it like http://127.0.0.1:8787 (or set FLIP_SERVER).");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BadRequestError(`--server "${text}" is not an http(s) URL.`, "Write it like http://127.0.0.1:8787.");
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}

/** control.listen → the URL to call; a wildcard listen address is reached on loopback. */
export function urlOfListen(listen: string): string {
  const address = parseListenAddress(listen);
  if (!address) throw new BadRequestError(`control.listen "${listen}" is not host:port.`, "Write it like 127.0.0.1:8787 in flip.yaml.");
  let host = address.host;
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
}

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the environment is the next best thing.
    return env.USER || env.USERNAME || "unknown";
  }
}
