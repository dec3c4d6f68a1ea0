import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { LockedError } from "../core/errors.js";
import { silentLogger } from "../logging.js";
import { createApiApp, startApiServer } from "./server.js";
import type { ApiServer } from "./server.js";
import { SseParser } from "./sse.js";
import type { StreamEvent } from "./sse.js";
import { EngineDouble } from "./testing/engine-double.js";

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

describe("control API routes", () => {
  let engine: EngineDouble;
  beforeEach(() => {
    engine = new EngineDouble();
  });
  const app = (token?: string) => createApiApp({ engine, logger: silentLogger, ...(token ? { token } : {}) });

  it("answers the read routes with the engine's views", async () => {
    await engine.deploy("v2", { actor: "t" });
    const api = app();

    const health = await api.request("/healthz");
    expect(health.status).toBe(200);

    const status = await api.request("/api/status");
    expect(status.status).toBe(200);
    const statusBody = (await status.json()) as { app: string; live: string; deployment: { id: string } };
    expect(statusBody).toMatchObject({ app: "hello", live: "blue", deployment: { id: "d-1" } });

    const history = await api.request("/api/history?limit=5");
    expect(await history.json()).toMatchObject([{ id: "d-1", version: "v2" }]);
    expect(engine.calls).toContainEqual({ method: "history", args: [5] });

    const detail = await api.request("/api/deployments/d-1");
    expect(await detail.json()).toMatchObject({ id: "d-1", phases: [{ phase: "queued" }], checks: [], samples: [] });

    engine.audit.push({ id: 1, at: 1, actor: "cli:alice", kind: "deployment.started", deploymentId: "d-1", message: "hi", data: null });
    const audit = await api.request("/api/audit?limit=3");
    expect(await audit.json()).toMatchObject([{ actor: "cli:alice" }]);
    expect(engine.calls).toContainEqual({ method: "auditLog", args: [3] });
  });

  it("starts actions with the actor from X-Flip-Actor, or 'api'", async () => {
    const api = app();
    const deploy = await api.request("/api/deployments", json({ version: "v2.1-rc/1+build@x", force: true }, { "x-flip-actor": "cli:alice" }));
    expect(deploy.status).toBe(202);
    expect(await deploy.json()).toMatchObject({ id: "d-1", version: "v2.1-rc/1+build@x", phase: "queued" });
    expect(engine.calls.at(-1)).toEqual({ method: "deploy", args: ["v2.1-rc/1+build@x", { actor: "cli:alice", force: true }] });

    const abort = await api.request("/api/abort", { method: "POST" });
    expect(abort.status).toBe(200);
    expect(engine.calls.at(-1)).toEqual({ method: "abort", args: [{ actor: "api" }] });

    const promote = await api.request("/api/promote", json({}));
    expect(promote.status).toBe(200);
    expect(engine.calls.at(-1)).toEqual({ method: "promote", args: [{ actor: "api" }] });

    engine.finish("d-1", "succeeded", "done");
    const switched = await api.request("/api/switch", json({ slot: "green" }));
    expect(switched.status).toBe(202);
    expect(engine.calls.at(-1)).toEqual({ method: "switchTo", args: ["green", { actor: "api", force: false }] });

    engine.finish("d-2", "succeeded", "done");
    const rollback = await api.request("/api/rollback", json({}));
    expect(rollback.status).toBe(202);
    expect(engine.calls.at(-1)).toEqual({ method: "rollback", args: [{ actor: "api", force: false }] });
  });

  it("maps FlipErrors to their status and code", async () => {
    const api = app();
    engine.failNextAction = new LockedError("d-7", "deploy v3 to green, phase checking");
    const locked = await api.request("/api/deployments", json({ version: "v2" }));
    expect(locked.status).toBe(409);
    expect(await locked.json()).toEqual({
      error: { code: "FLIP_E_LOCKED", message: expect.stringContaining("d-7") as unknown, hint: expect.stringContaining("flip abort") as unknown },
    });

    const nothing = await api.request("/api/abort", { method: "POST" });
    expect(nothing.status).toBe(409);
    expect(((await nothing.json()) as { error: { code: string } }).error.code).toBe("FLIP_E_NOTHING_RUNNING");

    const missing = await api.request("/api/deployments/nope");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("FLIP_E_NOT_FOUND");

    const unknownRoute = await api.request("/api/nothing-here");
    expect(unknownRoute.status).toBe(404);
    expect(((await unknownRoute.json()) as { error: { code: string } }).error.code).toBe("FLIP_E_NOT_FOUND");

    engine.failNextAction = new TypeError("boom");
    const bug = await api.request("/api/deployments", json({ version: "v2" }));
    expect(bug.status).toBe(500);
    expect(((await bug.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "FLIP_E_INTERNAL", message: expect.stringContaining("boom") as unknown });
  });

  describe("refuses bad input before the engine sees it", () => {
    const cases: [string, string, RequestInit, number][] = [
      ["a bad slot", "/api/switch", json({ slot: "purple" }), 400],
      ["a missing slot", "/api/switch", json({}), 400],
      ["an empty version", "/api/deployments", json({ version: "" }), 400],
      ["an over-long version", "/api/deployments", json({ version: "v".repeat(129) }), 400],
      ["a version with a space", "/api/deployments", json({ version: "v2; rm -rf" }), 400],
      ["a version that is not a string", "/api/deployments", json({ version: 2 }), 400],
      ["an unknown field", "/api/deployments", json({ version: "v2", forse: true }), 400],
      ["force that is not a boolean", "/api/deployments", json({ version: "v2", force: "yes" }), 400],
      ["malformed JSON", "/api/deployments", { method: "POST", headers: { "content-type": "application/json" }, body: '{"version": "v2"' }, 400],
      ["JSON that is not an object", "/api/rollback", json(["x"]), 400],
      ["a body without a JSON content type", "/api/deployments", { method: "POST", headers: { "content-type": "text/plain" }, body: '{"version":"v2"}' }, 415],
      ["an empty body declared as text/plain (a cross-site form)", "/api/rollback", { method: "POST", headers: { "content-type": "text/plain" }, body: "" }, 415],
      ["a huge body", "/api/deployments", json({ version: "v2", padding: "x".repeat(70 * 1024) }), 413],
      ["a huge body declared huge", "/api/deployments", { method: "POST", headers: { "content-type": "application/json", "content-length": String(10 * 1024 * 1024) }, body: "{}" }, 413],
      ["a bad limit", "/api/history?limit=abc", { method: "GET" }, 400],
      ["a limit of zero", "/api/audit?limit=0", { method: "GET" }, 400],
    ];
    it.each(cases)("%s", async (_name, path, init, status) => {
      const response = await app().request(path, init);
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("FLIP_E_BAD_REQUEST");
      expect(body.error.message.length).toBeGreaterThan(10);
      expect(engine.calls.filter((call) => call.method !== "status")).toEqual([]);
    });
  });

  describe("with a token", () => {
    const token = "s3cret-token-123";
    it("refuses a POST without a token, and with a wrong one of the same length", async () => {
      const api = app(token);
      const without = await api.request("/api/deployments", json({ version: "v2" }));
      expect(without.status).toBe(401);
      expect(((await without.json()) as { error: { code: string } }).error.code).toBe("FLIP_E_UNAUTHORIZED");

      const wrong = "s3cret-token-124";
      expect(wrong.length).toBe(token.length);
      const wrongToken = await api.request("/api/deployments", json({ version: "v2" }, { authorization: `Bearer ${wrong}` }));
      expect(wrongToken.status).toBe(401);

      const notBearer = await api.request("/api/abort", { method: "POST", headers: { authorization: token } });
      expect(notBearer.status).toBe(401);
      expect(engine.calls).toEqual([]);
    });

    it("accepts the right token, and leaves reads open", async () => {
      const api = app(token);
      const accepted = await api.request("/api/deployments", json({ version: "v2" }, { authorization: `Bearer ${token}` }));
      expect(accepted.status).toBe(202);
      expect(engine.calls.map((call) => call.method)).toEqual(["deploy"]);
      expect((await api.request("/api/status")).status).toBe(200);
    });

    it("checks the token before reading a body", async () => {
      const response = await app(token).request("/api/deployments", { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(70 * 1024) });
      expect(response.status).toBe(401);
    });
  });
});

describe("deployment event streams over a real server", () => {
  let engine: EngineDouble;
  let server: ApiServer | undefined;
  beforeEach(() => {
    engine = new EngineDouble();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(heartbeatMs?: number): Promise<ApiServer> {
    server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger, ...(heartbeatMs ? { heartbeatMs } : {}) });
    return server;
  }

  /** Opens the stream and collects messages; `onEvent` may drive the engine as events arrive. */
  async function follow(url: string, onEvent?: (event: StreamEvent, types: string[]) => void): Promise<{ events: StreamEvent[]; types: string[]; raw: string }> {
    const response = await request(url, { bodyTimeout: 5000 });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/event-stream");
    const parser = new SseParser();
    const events: StreamEvent[] = [];
    const types: string[] = [];
    let raw = "";
    for await (const chunk of response.body) {
      raw += String(chunk);
      for (const message of parser.feed(String(chunk))) {
        const event = JSON.parse(message.data) as StreamEvent;
        expect(message.event).toBe(event.type);
        events.push(event);
        types.push(event.type);
        onEvent?.(event, types);
      }
    }
    return { events, types, raw };
  }

  it("replays what happened, streams what happens, and ends with finished", async () => {
    const { url } = await start();
    const { id } = await engine.deploy("v2", { actor: "t" });
    engine.enterPhase(id, "deploying", "v2 to green");
    engine.enterPhase(id, "checking");
    engine.recordCheck(id, { name: "health", kind: "http", ok: true, message: "200 OK", replica: 0, attempts: 1, durationMs: 5 });

    const result = await follow(`${url}/api/deployments/${id}/events`, (event, types) => {
      // Once the replay is through, drive the rest live.
      if (types.length === 4) {
        expect(engine.listenerCount).toBe(1);
        engine.recordCheck(id, { name: "smoke", kind: "command", ok: true, message: "exit 0", attempts: 1, durationMs: 9 });
        engine.enterPhase(id, "switching", "blue → green");
        engine.enterPhase(id, "monitoring");
        engine.recordSample(id, { slot: "green", requests: 40, errors: 0, judged: true, healthy: true, results: [], note: undefined }, 60_000);
        engine.finish(id, "succeeded", "monitor window passed");
      }
      expect(event.deploymentId).toBe(id);
    });

    expect(result.types).toEqual(["phase", "phase", "phase", "check", "check", "phase", "phase", "sample", "finished"]);
    const phases = result.events.flatMap((e) => (e.type === "phase" ? [e.phase] : []));
    expect(phases).toEqual(["queued", "deploying", "checking", "switching", "monitoring"]);
    expect(result.events.slice(0, 4).every((e) => e.replayed === true)).toBe(true);
    expect(result.events.slice(4).some((e) => e.replayed)).toBe(false);
    expect(result.events.at(-1)).toMatchObject({ type: "finished", outcome: "succeeded", reason: "monitor window passed" });
    expect(result.events.find((e) => e.type === "sample")).toMatchObject({ remainingMs: 60_000 });
    expect(result.raw).toContain(`event: phase\ndata: {"type":"phase","deploymentId":"${id}","phase":"queued"`);
    // The stream ended by itself, and nothing is left subscribed.
    expect(engine.listenerCount).toBe(0);
  });

  it("replays a finished deployment, then sends finished and closes", async () => {
    const { url } = await start();
    const { id } = await engine.deploy("v2", { actor: "t" });
    engine.enterPhase(id, "checking");
    engine.recordCheck(id, { name: "health", kind: "http", ok: false, message: "503", output: "a\nb", attempts: 3, durationMs: 5 });
    engine.finish(id, "aborted", "check health failed");

    const result = await follow(`${url}/api/deployments/${id}/events`);
    expect(result.types).toEqual(["phase", "phase", "check", "phase", "finished"]);
    expect(result.events.at(-1)).toMatchObject({ outcome: "aborted", reason: "check health failed", deployment: { id, outcome: "aborted" } });
    expect(result.events.at(-1)).not.toHaveProperty("deployment.phases");
    expect(engine.listenerCount).toBe(0);
  });

  it("loses nothing and repeats nothing emitted between subscribing and reading the history", async () => {
    const { url } = await start();
    const { id } = await engine.deploy("v2", { actor: "t" });
    engine.onDeploymentRead = () => {
      engine.onDeploymentRead = undefined;
      engine.enterPhase(id, "deploying"); // stored and emitted: in both the replay and the queue
      engine.emit({ type: "log", deploymentId: id, at: 5, message: "only emitted" }); // in the queue only
    };
    const result = await follow(`${url}/api/deployments/${id}/events`, (_event, types) => {
      if (types.length === 3) engine.finish(id, "failed", "boom");
    });
    expect(result.types).toEqual(["phase", "phase", "log", "finished"]);
  });

  it("answers 404 as JSON for an unknown deployment, and subscribes nothing", async () => {
    const { url } = await start();
    const response = await request(`${url}/api/deployments/d-404/events`);
    expect(response.statusCode).toBe(404);
    expect(((await response.body.json()) as { error: { code: string } }).error.code).toBe("FLIP_E_NOT_FOUND");
    expect(engine.listenerCount).toBe(0);
  });

  it("unsubscribes when the client goes away, and sends heartbeats while quiet", async () => {
    const { url } = await start(50);
    const { id } = await engine.deploy("v2", { actor: "t" });
    const controller = new AbortController();
    const response = await request(`${url}/api/deployments/${id}/events`, { signal: controller.signal });
    let text = "";
    for await (const chunk of response.body) {
      text += String(chunk);
      if (text.includes(": heartbeat")) break;
    }
    expect(text).toContain("event: phase");
    controller.abort();
    await waitFor(() => engine.listenerCount === 0);
    expect(engine.listenerCount).toBe(0);
  });

  it("streams every deployment on /api/events, and close() ends open streams", async () => {
    const { url } = await start();
    const response = await request(`${url}/api/events`);
    await waitFor(() => engine.listenerCount === 1);
    const first = await engine.deploy("v2", { actor: "t" });
    engine.enterPhase(first.id, "deploying");
    engine.finish(first.id, "failed", "x");
    const parser = new SseParser();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of response.body) for (const message of parser.feed(String(chunk))) seen.push(message.event);
    })();
    await waitFor(() => seen.length === 2);
    await server?.close();
    server = undefined;
    await reading; // the stream ended because the server closed
    expect(seen).toEqual(["phase", "finished"]);
    expect(engine.listenerCount).toBe(0);
  });

  it("reports the real address and refuses a port in use", async () => {
    const first = await start();
    expect(first.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.address.endsWith(":0")).toBe(false);
    await expect(startApiServer({ engine, listen: first.address, logger: silentLogger })).rejects.toMatchObject({ code: "FLIP_E_PORT_IN_USE" });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
