// The routes of the control API. Each one validates its input, asks the engine, and answers with
// the engine's view as JSON; none of them touches a driver.
import type { Hono } from "hono";
import type { EngineApi } from "../engine/views.js";
import type { Logger } from "../logging.js";
import { openApiDocument } from "./openapi.js";
import { actorOf, deployBody, emptyBody, readBody, readLimit, rollbackBody, switchBody } from "./requests.js";
import { allEvents, deploymentEvents } from "./streams.js";
import type { OpenStreams } from "./streams.js";

export interface RouteOptions {
  engine: EngineApi;
  logger: Logger;
  streams: OpenStreams;
  heartbeatMs: number;
}

export function registerRoutes(app: Hono, options: RouteOptions): void {
  // Who may call is decided before these routes run (auth.ts, registered first by createApiApp).
  const { engine } = options;
  const streamOptions = { engine, logger: options.logger, streams: options.streams, heartbeatMs: options.heartbeatMs };

  // While the server shuts down, answer what is asked but let no connection be kept alive for more.
  app.use("*", async (c, next) => {
    await next();
    if (options.streams.closed) c.res.headers.set("connection", "close");
  });

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/api/openapi.json", (c) => c.json(openApiDocument));

  app.get("/api/status", async (c) => c.json(await engine.status()));
  app.get("/api/history", (c) => c.json(engine.history(readLimit(c))));
  app.get("/api/audit", (c) => c.json(engine.auditLog(readLimit(c))));
  app.get("/api/deployments/:id", (c) => c.json(engine.deployment(c.req.param("id"))));
  app.get("/api/deployments/:id/events", (c) => deploymentEvents(c, c.req.param("id"), streamOptions));
  app.get("/api/events", (c) => allEvents(c, streamOptions));

  app.post("/api/deployments", async (c) => {
    const body = await readBody(c, deployBody);
    return c.json(await engine.deploy(body.version, { actor: actorOf(c), force: body.force ?? false, ...(body.now ? { now: true } : {}) }), 202);
  });
  app.post("/api/deployments/plan", async (c) => {
    const body = await readBody(c, deployBody);
    return c.json(await engine.planDeploy(body.version, { actor: actorOf(c), force: body.force ?? false }), 200);
  });
  app.post("/api/switch", async (c) => {
    const body = await readBody(c, switchBody);
    return c.json(await engine.switchTo(body.slot, { actor: actorOf(c), force: body.force ?? false }), 202);
  });
  app.post("/api/rollback", async (c) => {
    const body = await readBody(c, rollbackBody);
    return c.json(await engine.rollback({ actor: actorOf(c), force: body.force ?? false }), 202);
  });
  app.post("/api/contract", async (c) => {
    await readBody(c, emptyBody);
    return c.json(await engine.contract({ actor: actorOf(c) }), 202);
  });
  app.post("/api/retire", async (c) => {
    await readBody(c, emptyBody);
    return c.json(await engine.retire({ actor: actorOf(c) }), 200);
  });
  app.post("/api/abort", async (c) => {
    await readBody(c, emptyBody);
    return c.json(await engine.abort({ actor: actorOf(c) }), 200);
  });
  app.post("/api/promote", async (c) => {
    await readBody(c, emptyBody);
    return c.json(await engine.promote({ actor: actorOf(c) }), 200);
  });
}
