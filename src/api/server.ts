// The control API: a Hono app over the engine (createApiApp, used by tests with app.request())
// and the node:http server that carries it (startApiServer, used by the controller). The CLI and
// the dashboard talk to Flip only through this.
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { controlTokenProblem } from "../config/crossChecks.js";
import { isLoopbackHost, parseListenAddress } from "../config/fields.js";
import { systemClock } from "../core/clock.js";
import type { Clock } from "../core/clock.js";
import { FlipError, NotFoundError, PortInUseError } from "../core/errors.js";
import type { EngineApi } from "../engine/views.js";
import type { Logger } from "../logging.js";
import { registerGuards } from "./auth.js";
import { AuthFailureLimiter } from "./auth-limiter.js";
import { errorResponse } from "./respond.js";
import { registerRoutes } from "./routes.js";
import { HEARTBEAT_MS, OpenStreams } from "./streams.js";

export interface ApiAppOptions {
  engine: EngineApi;
  /** When set, every POST needs `Authorization: Bearer <token>`, and every call off loopback. */
  token?: string | undefined;
  /**
   * Whether only this machine can reach the listener (startApiServer decides it from the listen
   * address; true by default for in-process tests). When false, a token is required to start.
   */
  listenIsLoopback?: boolean;
  /** Times wrong-token limits (systemClock by default). */
  clock?: Clock;
  logger: Logger;
  /** Comment lines on quiet event streams; 15 s unless a test wants it sooner. */
  heartbeatMs?: number;
  /** Open event streams, so a server can end them when it closes. */
  streams?: OpenStreams;
  /** More routes on the same app (the dashboard). Registered after the API's own. */
  extraRoutes?: (app: Hono) => void;
}

export interface ApiServerOptions extends ApiAppOptions {
  /** host:port, e.g. 127.0.0.1:8787 (port 0 picks a free one). */
  listen: string;
}

export interface ApiServer {
  /** Where it really listens, as host:port (the real port when 0 was asked for). */
  address: string;
  /** The same as a base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  /** Stops accepting, ends the event streams, and resolves once every connection is closed. */
  close(): Promise<void>;
}

export function createApiApp(options: ApiAppOptions): Hono {
  const listenIsLoopback = options.listenIsLoopback ?? true;
  refuseUnguarded("(not loopback)", options.token, listenIsLoopback);
  const app = new Hono();
  registerGuards(app, {
    token: options.token,
    listenIsLoopback,
    limiter: new AuthFailureLimiter({ clock: options.clock ?? systemClock }),
    logger: options.logger,
  });
  registerRoutes(app, {
    engine: options.engine,
    logger: options.logger,
    streams: options.streams ?? new OpenStreams(),
    heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
  });
  options.extraRoutes?.(app);
  app.notFound((c) => errorResponse(c, new NotFoundError(`No such API route: ${c.req.method} ${c.req.path}.`, "See the API reference for the routes, e.g. GET /api/status."), options.logger));
  app.onError((error, c) => errorResponse(c, error, options.logger));
  return app;
}

/** How long close() lets open requests finish before it cuts their connections. */
const CLOSE_GRACE_MS = 2_000;

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const where = parseListenAddress(options.listen);
  if (!where) {
    throw new FlipError("FLIP_E_CONFIG", `control.listen "${options.listen}" is not host:port.`, "Write it like 127.0.0.1:8787 in flip.yaml.");
  }
  // Refused before anything listens: an open API must never be reachable from elsewhere, even for a moment.
  refuseUnguarded(options.listen, options.token);
  const streams = options.streams ?? new OpenStreams();
  const app = createApiApp({ ...options, streams, listenIsLoopback: isLoopbackHost(where.host) });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await listen(server, where.host, where.port, options.listen);

  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  const address = `${host}:${bound.port}`;
  options.logger.info({ address }, `control API listening on http://${address}`);

  let closing: Promise<void> | undefined;
  return {
    address,
    url: `http://${address}`,
    close() {
      closing ??= closeServer(server, streams);
      return closing;
    },
  };
}

/** The config check of the same rule (crossChecks.ts), for callers that built a config by hand. */
function refuseUnguarded(listen: string, token: string | undefined, loopback?: boolean): void {
  const problem = controlTokenProblem(listen, token, loopback);
  if (problem !== undefined) throw new FlipError("FLIP_E_CONFIG", `The control API will not start: ${problem}.`, "`flip validate` checks this before `flip serve` starts.");
}

function listen(server: Server, host: string, port: number, asWritten: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE") reject(new PortInUseError("the control API", asWritten));
      else reject(new FlipError("FLIP_E_CONFIG", `Cannot listen for the control API on ${asWritten}: ${error.message}.`, "Check control.listen in flip.yaml: the host must be an address of this machine.", { cause: error }));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server, streams: OpenStreams): Promise<void> {
  return new Promise((resolve) => {
    // Connections whose last response ends after close() was called stay open as keep-alive
    // until their idle timeout: sweep idle ones until none is left, then cut the rest.
    const sweep = setInterval(() => server.closeIdleConnections(), 20);
    const cutOff = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    sweep.unref();
    cutOff.unref();
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cutOff);
      resolve();
    });
    // Event streams would keep their connections open forever: end them now.
    streams.closeAll();
  });
}
