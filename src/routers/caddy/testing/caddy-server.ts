// A real Caddy for the router's tests: `caddy run` with a JSON config written into its own folder,
// the admin API and one plain-HTTP site on free loopback ports, one reverse_proxy handler with an
// "@id". HOME and the XDG folders point into that folder too, so Caddy writes nothing elsewhere.
// stop() ends it by its PID.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { pickFreePort } from "../../../platforms/process/ports.js";
import { findServerBinary, stopTree } from "../../testing/local-server.js";

/** The header Caddy sets on every answer: the upstream it used, which the router maps to a slot. */
export const UPSTREAM_HEADER = "x-flip-upstream";

export interface CaddyServer {
  dir: string;
  adminUrl: string;
  /** The site Caddy serves through the handler, e.g. http://127.0.0.1:PORT */
  url: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

export interface CaddyOptions {
  handlerId: string;
  /** The handler's upstreams before Flip changes them (Caddy needs at least one to load). */
  initialDials?: string[];
  /** Instead of a static list: upstreams from this SRV record, asked of `resolver` ("127.0.0.1:PORT") every `refresh`. */
  srv?: SrvSource;
  /** Caddy writes its JSON access log of the server there (router.accessLog). */
  accessLog?: string;
}

export interface SrvSource {
  name: string;
  resolver: string;
  refresh: string;
}

/** How the handler finds its upstreams: a static list, or an SRV record (targets resolved by the same server). */
function upstreamsOf(dials: string[], srv: SrvSource | undefined): object {
  if (srv === undefined) return { upstreams: dials.map((dial) => ({ dial })) };
  const resolver = { addresses: [`udp/${srv.resolver}`] };
  return {
    dynamic_upstreams: { source: "srv", name: srv.name, refresh: srv.refresh, resolver },
    transport: { protocol: "http", resolver },
  };
}

export function caddyConfig(options: { adminPort: number; port: number; dir: string; handlerId: string; dials: string[]; srv?: SrvSource | undefined; accessLog?: string | undefined }): object {
  const accessLog = options.accessLog;
  return {
    admin: { listen: `127.0.0.1:${options.adminPort}`, config: { persist: false } },
    storage: { module: "file_system", root: join(options.dir, "data") },
    logging: {
      logs: {
        default: { level: "WARN", ...(accessLog ? { exclude: ["http.log.access.flip"] } : {}) },
        ...(accessLog ? { flip: { writer: { output: "file", filename: accessLog }, encoder: { format: "json" }, include: ["http.log.access.flip"] } } : {}),
      },
    },
    apps: {
      http: {
        // Bounds how long a stop waits for open connections (Caddy's default waits for ever).
        grace_period: "2s",
        servers: {
          flip: {
            listen: [`127.0.0.1:${options.port}`],
            automatic_https: { disable: true },
            ...(accessLog ? { logs: { default_logger_name: "flip" } } : {}),
            routes: [
              {
                handle: [
                  {
                    handler: "reverse_proxy",
                    "@id": options.handlerId,
                    ...upstreamsOf(options.dials, options.srv),
                    headers: { response: { set: { [UPSTREAM_HEADER]: ["{http.reverse_proxy.upstream.hostport}"] } } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  };
}

export async function startCaddy(options: CaddyOptions): Promise<CaddyServer> {
  const caddy = findServerBinary("caddy");
  const dir = mkdtempSync(join(tmpdir(), "flip-caddy-"));
  const [adminPort, port] = [await pickFreePort(), await pickFreePort()];
  const config = join(dir, "caddy.json");
  // 127.0.0.1:9 (discard) answers for no slot: a fresh Caddy points at neither.
  writeFileSync(config, JSON.stringify(caddyConfig({ adminPort, port, dir, handlerId: options.handlerId, dials: options.initialDials ?? ["127.0.0.1:9"], srv: options.srv, accessLog: options.accessLog }), null, 2));
  let log = "";
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
  const child: ChildProcess = spawn(caddy, ["run", "--config", config], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const stop = () => stopTree(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitUntilServing(child, adminUrl, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, adminUrl, url: `http://127.0.0.1:${port}`, pid: child.pid as number, log: () => log, stop };
}

/**
 * GET on Caddy's admin API for a test, sent again when the connection is reset: Caddy swaps its
 * admin endpoint just after a config change (the router does the same, see admin-api.ts).
 */
export async function adminGet(adminUrl: string, path: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await request(`${adminUrl}${path}`, { reset: true });
      return await response.body.text();
    } catch (error) {
      if (attempt >= 4 || (error as { code?: string }).code !== "ECONNRESET") throw error;
      await sleep(50);
    }
  }
}

/** Caddy answers on the admin API once the config is loaded and its servers listen. */
async function waitUntilServing(child: ChildProcess, adminUrl: string, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}:\n${log()}`);
    const ready = await request(`${adminUrl}/config/`, { reset: true }).then(
      async (response) => (await response.body.dump(), response.statusCode === 200),
      () => false,
    );
    if (ready) return;
    await sleep(50);
  }
  throw new Error(`caddy's admin API did not answer within 5s:\n${log()}`);
}
