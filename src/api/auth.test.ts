// Who may call the control API: tokens on and off loopback, the wrong-token limit, Origin and
// Host checks, no CORS, and the client's address in the audit actor. In-process (app.request with
// the socket's address injected) plus a few calls over a real server on 127.0.0.1:0.
import { pino } from "pino";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isLoopbackHost, isLoopbackListen } from "../config/fields.js";
import { ManualClock } from "../core/clock.testing.js";
import type { Logger } from "../logging.js";
import { silentLogger } from "../logging.js";
import { AuthFailureLimiter, clientKey } from "./auth-limiter.js";
import { createApiApp, startApiServer } from "./server.js";
import type { ApiAppOptions, ApiServer } from "./server.js";
import { EngineDouble } from "./testing/engine-double.js";

const TOKEN = "s3cret-token-123";
const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
/** What @hono/node-server passes as the app's env: the socket the request came on. */
const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });
const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

let engine: EngineDouble;
let clock: ManualClock;
beforeEach(() => {
  engine = new EngineDouble();
  clock = new ManualClock();
});
const actions = () => engine.calls.filter((call) => !["status", "history", "auditLog", "deployment"].includes(call.method));

function app(options: Partial<ApiAppOptions> = {}) {
  return createApiApp({ engine, logger: silentLogger, clock, ...options });
}

/** A logger whose warnings a test can read. */
function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const written: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => written.push(line) });
  return { logger, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("the loopback decision", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.8.9.10", true],
    ["::1", true],
    ["[::1]", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["localhost", true],
    ["LocalHost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["128.0.0.1", false],
    ["10.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    ["flip.example.com", false],
    ["localhost.example.com", false],
    ["", false],
  ])("%s → %s", (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it("reads a whole listen address", () => {
    expect(isLoopbackListen("127.0.0.1:8787")).toBe(true);
    expect(isLoopbackListen("[::1]:8787")).toBe(true);
    expect(isLoopbackListen("localhost:0")).toBe(true);
    expect(isLoopbackListen("0.0.0.0:8787")).toBe(false);
    expect(isLoopbackListen("[::]:8787")).toBe(false);
    expect(isLoopbackListen("192.168.1.4:8787")).toBe(false);
    expect(isLoopbackListen("not an address")).toBe(false);
  });
});

describe("a listener beyond loopback", () => {
  const open = () => app({ token: TOKEN, listenIsLoopback: false });

  it("cannot be created without a token", () => {
    expect(() => app({ listenIsLoopback: false })).toThrow(/needs a token/);
    expect(() => app({ listenIsLoopback: false, token: " " })).toThrow(/control\.token is empty/);
  });

  it("refuses to listen without a token, before binding anything", async () => {
    await expect(startApiServer({ engine, listen: "0.0.0.0:0", logger: silentLogger })).rejects.toMatchObject({
      code: "FLIP_E_CONFIG",
      message: expect.stringContaining('add `token: "${FLIP_TOKEN}"` under control and export FLIP_TOKEN') as unknown,
    });
  });

  it.each(["/api/status", "/api/history", "/api/audit", "/api/deployments/d-1", "/api/deployments/d-1/events", "/api/events", "/api/openapi.json"])("needs the token to read %s", async (path) => {
    await engine.deploy("v2", { actor: "t" });
    engine.finish("d-1", "succeeded", "ok");
    const api = open();
    const refused = await api.request(path);
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("FLIP_E_UNAUTHORIZED");
    expect(body.error.message).toBe("No Authorization header: every call to a control API listening beyond loopback needs the control token.");
    expect((await api.request(path, { headers: bearer("wrong") })).status).toBe(401);
    const allowed = await api.request(path, { headers: bearer() });
    expect(allowed.status).toBe(200);
    await allowed.body?.cancel();
  });

  it("guards /metrics, and leaves /healthz and what is not under /api/ open", async () => {
    const api = app({
      token: TOKEN,
      listenIsLoopback: false,
      extraRoutes: (hono) => {
        hono.get("/metrics", (c) => c.text("flip_up 1\n"));
        hono.get("/", (c) => c.html("<h1>dashboard</h1>"));
      },
    });
    expect((await api.request("/metrics")).status).toBe(401);
    expect((await api.request("/metrics", { headers: bearer() })).status).toBe(200);
    expect((await api.request("/healthz")).status).toBe(200);
    expect((await api.request("/")).status).toBe(200);
  });

  it("needs the token for actions too", async () => {
    const api = open();
    expect((await api.request("/api/rollback", post({}))).status).toBe(401);
    expect(actions()).toEqual([]);
    expect((await api.request("/api/deployments", post({ version: "v2" }, bearer()))).status).toBe(202);
  });
});

describe("a loopback listener with a token", () => {
  it("leaves reads open and guards actions", async () => {
    const api = app({ token: TOKEN });
    expect((await api.request("/api/status")).status).toBe(200);
    const refused = await api.request("/api/abort", { method: "POST" });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe("No Authorization header: changing anything through the Flip API needs the control token.");
  });
});

describe("wrong tokens", () => {
  it("are refused 429 with Retry-After after 10 from one client within a minute, until the oldest leaves the window", async () => {
    const api = app({ token: TOKEN });
    const attacker = from("203.0.113.9");
    for (let i = 0; i < 10; i++) {
      expect((await api.request("/api/rollback", post({}, bearer(`guess-${i}`)), attacker)).status).toBe(401);
      await clock.advance(1_000);
    }
    // Now 10 s after the first try: the next one, even with the right token, waits 50 s.
    const limited = await api.request("/api/rollback", post({}, bearer()), attacker);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("50");
    const body = (await limited.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: "FLIP_E_RATE_LIMITED", message: expect.stringContaining("203.0.113.9") as unknown });
    expect(actions()).toEqual([]);

    // Others are not held up; reads that need no token are not refused.
    expect((await api.request("/api/rollback", post({}, bearer()), from("198.51.100.7"))).status).not.toBe(429);
    expect((await api.request("/api/status", {}, attacker)).status).toBe(200);

    await clock.advance(49_000);
    expect((await api.request("/api/abort", post({}, bearer()), attacker)).status).toBe(429);
    await clock.advance(1_000);
    // One failure has left the window: one more try is allowed, and a right token goes through.
    expect((await api.request("/api/abort", post({}, bearer()), attacker)).status).toBe(200);
  });

  it("count only when presented: neither right tokens nor a missing header use up the allowance", async () => {
    const api = app({ token: TOKEN });
    const client = from("192.0.2.1");
    for (let i = 0; i < 20; i++) expect((await api.request("/api/promote", post({}), client)).status).toBe(401);
    for (let i = 0; i < 20; i++) expect((await api.request("/api/promote", post({}, bearer()), client)).status).toBe(409);
    for (let i = 0; i < 9; i++) expect((await api.request("/api/promote", post({}, bearer("nope")), client)).status).toBe(401);
    expect((await api.request("/api/promote", post({}, bearer()), client)).status).toBe(409);
  });

  it("are logged as warnings with the client's address, never the token", async () => {
    const { logger, lines } = recordingLogger();
    const api = app({ token: TOKEN, logger });
    const guess = "guess-that-must-not-be-logged";
    for (let i = 0; i < 10; i++) await api.request("/api/deployments", post({ version: "v2" }, bearer(guess)), from("203.0.113.9"));
    await api.request("/api/deployments", post({ version: "v2" }, { authorization: "Basic abc" }), from("203.0.113.10"));
    const warnings = lines().filter((line) => line.level === 40);
    expect(warnings[0]).toMatchObject({ client: "203.0.113.9", method: "POST", path: "/api/deployments", reason: "wrong", msg: "control API: refused a wrong token from 203.0.113.9" });
    expect(warnings.filter((line) => String(line.msg).startsWith("control API: refused a wrong token"))).toHaveLength(10);
    expect(warnings.some((line) => String(line.msg).includes("too many wrong tokens from 203.0.113.9"))).toBe(true);
    expect(warnings.at(-1)).toMatchObject({ client: "203.0.113.10", reason: "not-bearer" });
    const everything = lines().map((line) => JSON.stringify(line)).join("\n");
    expect(everything).not.toContain(guess);
    expect(everything).not.toContain(TOKEN);
  });
});

describe("AuthFailureLimiter", () => {
  it("remembers a bounded number of clients, forgetting the least recent first", () => {
    const limiter = new AuthFailureLimiter({ clock, maxFailures: 2, maxClients: 3 });
    for (const client of ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "10.0.0.4"]) limiter.recordFailure(client);
    expect(limiter.trackedClients).toBe(3);
    expect(limiter.blockedForMs("10.0.0.1")).toBeGreaterThan(0); // failed twice, recently: kept
    limiter.recordFailure("10.0.0.2"); // .2 was forgotten: this is its first failure again
    expect(limiter.blockedForMs("10.0.0.2")).toBe(0);
  });

  it("forgets clients whose failures have left the window", async () => {
    const limiter = new AuthFailureLimiter({ clock, windowMs: 60_000 });
    for (let i = 0; i < 100; i++) limiter.recordFailure(`10.0.1.${i}`);
    expect(limiter.trackedClients).toBe(100);
    await clock.advance(60_001);
    limiter.recordFailure("10.0.2.1");
    expect(limiter.trackedClients).toBe(1);
  });

  it("counts an IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 one", () => {
    expect(clientKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:0db8:0001:0002:ffff:0:0:9")).toBe("2001:db8:1:2::/64");
    expect(clientKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(clientKey("192.0.2.1")).toBe("192.0.2.1");
    const limiter = new AuthFailureLimiter({ clock, maxFailures: 2 });
    limiter.recordFailure("2001:db8:1:2::1");
    limiter.recordFailure("2001:db8:1:2::2");
    expect(limiter.blockedForMs("2001:db8:1:2::3")).toBe(60_000);
    expect(limiter.blockedForMs("2001:db8:1:3::1")).toBe(0);
  });
});

describe("other sites", () => {
  const statuses = async (init: RequestInit, api = app()) => {
    const response = await api.request("/api/rollback", init);
    return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
  };

  it("cannot act: a foreign or null Origin is refused before the body is read", async () => {
    const foreign = await statuses(post({}, { origin: "https://evil.example" }));
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.message).toContain("https://evil.example");
    expect((await statuses(post({}, { origin: "null" }))).status).toBe(403);
    // A token does not make a cross-site call acceptable either.
    expect((await statuses(post({}, { origin: "http://evil.example", ...bearer() }), app({ token: TOKEN }))).status).toBe(403);
    expect(actions()).toEqual([]);
  });

  it("can be the API's own origin (the dashboard), compared by host:port", async () => {
    const api = app();
    const response = await api.request("http://127.0.0.1:8787/api/rollback", post({}, { origin: "http://127.0.0.1:8787", host: "127.0.0.1:8787" }));
    expect(response.status).toBe(202);
    expect(actions().map((call) => call.method)).toEqual(["rollback"]);
  });

  it("cannot act with the classic CSRF shape: a text/plain POST, with or without a body", async () => {
    const withBody = await statuses({ method: "POST", headers: { "content-type": "text/plain;charset=UTF-8" }, body: '{"force":true}' });
    expect(withBody.status).toBe(415);
    const empty = await statuses({ method: "POST", headers: { "content-type": "text/plain" }, body: "" });
    expect(empty.status).toBe(415);
    const form = await statuses({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "force=true" });
    expect(form.status).toBe(415);
    expect(actions()).toEqual([]);
  });

  it("get no CORS headers, and no permissive answer to a preflight", async () => {
    for (const api of [app(), app({ token: TOKEN, listenIsLoopback: false })]) {
      const preflight = await api.request("/api/deployments", {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
      expect(preflight.status).toBeGreaterThanOrEqual(400);
      const read = await api.request("/api/status", { headers: { origin: "https://evil.example", ...bearer() } });
      expect(read.status).toBe(200);
      for (const response of [preflight, read]) {
        expect([...response.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([]);
      }
    }
  });
});

describe("over a real server on loopback", () => {
  let server: ApiServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("answers only to loopback names in Host (no DNS rebinding)", async () => {
    server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger });
    const port = server.address.split(":").pop() as string;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const response = await request(`${server.url}/api/status`, { headers: { host } });
      expect(response.statusCode, host).toBe(200);
      await response.body.dump();
    }
    const rebound = await request(`${server.url}/api/rollback`, { method: "POST", headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` } });
    expect(rebound.statusCode).toBe(403);
    expect(((await rebound.body.json()) as { error: { message: string } }).error.message).toContain('host "evil.example');
    const read = await request(`${server.url}/api/status`, { headers: { host: `evil.example:${port}` } });
    expect(read.statusCode).toBe(403);
    await read.body.dump();
    expect(actions()).toEqual([]);
  });

  it("writes the client's address after the actor of every action", async () => {
    server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger, token: TOKEN });
    const call = async (path: string, body: unknown) => {
      const response = await request(`${server?.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-flip-actor": "cli:alice", ...bearer() }, body: JSON.stringify(body) });
      await response.body.dump();
      return response.statusCode;
    };
    expect(await call("/api/deployments", { version: "v2" })).toBe(202);
    expect(await call("/api/promote", {})).toBe(200);
    expect(await call("/api/abort", {})).toBe(200);
    engine.finish("d-1", "aborted", "x");
    expect(await call("/api/switch", { slot: "green", force: true })).toBe(202);
    engine.finish("d-2", "succeeded", "x");
    expect(await call("/api/rollback", {})).toBe(202);
    const actors = actions().map((action) => [action.method, (action.args.at(-1) as { actor: string }).actor]);
    expect(actors).toEqual([
      ["deploy", "cli:alice@127.0.0.1"],
      ["promote", "cli:alice@127.0.0.1"],
      ["abort", "cli:alice@127.0.0.1"],
      ["switchTo", "cli:alice@127.0.0.1"],
      ["rollback", "cli:alice@127.0.0.1"],
    ]);
  });
});

describe("the actor", () => {
  it("is the claimed one (printable, short) or 'api', then @ and the address the server saw", async () => {
    const api = app();
    await api.request("/api/deployments", post({ version: "v2" }, { "x-flip-actor": "cli:bob\u0007" }), from("::ffff:192.0.2.4"));
    engine.finish("d-1", "succeeded", "ok");
    await api.request("/api/rollback", post({}), from("2001:db8::5"));
    expect(actions().map((action) => (action.args.at(-1) as { actor: string }).actor)).toEqual(["cli:bob@192.0.2.4", "api@2001:db8::5"]);
  });
});
