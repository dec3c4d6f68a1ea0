import { afterEach, describe, expect, it } from "vitest";
import { checksFrom, json, startReplica, targetOf, type TestReplica } from "./testing/helpers.js";
import { runChecks } from "./run-checks.js";

const replicas: TestReplica[] = [];
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((replica) => replica.close()));
});

async function replica(handler: Parameters<typeof startReplica>[1], index = 0): Promise<TestReplica> {
  const started = await startReplica(index, handler);
  replicas.push(started);
  return started;
}

const signal = new AbortController().signal;

describe("http checks", () => {
  it("passes on a 2xx answer by default, sending method, path and headers", async () => {
    let seen = "";
    const app = await replica((request, response) => {
      seen = `${request.method} ${request.url} ${request.headers["x-token"]}`;
      response.end("ok");
    });
    const outcome = await runChecks(
      checksFrom([{ name: "health", http: { path: "/health?deep=1", headers: { "x-token": "t-{version}" } } }]),
      targetOf([app.endpoint]),
      { signal },
    );
    expect(outcome.ok).toBe(true);
    expect(seen).toBe("GET /health?deep=1 t-v2");
    expect(outcome.results).toEqual([
      expect.objectContaining({ name: "health", kind: "http", ok: true, replica: 0, attempts: 1, message: "GET /health?deep=1 on green replica 0 → 200" }),
    ]);
  });

  it("fails on a wrong status, saying what came and what was expected, keeping the body", async () => {
    const app = await replica((_request, response) => json(response, 503, { status: "starting" }));
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" } }]), targetOf([app.endpoint]), { signal });
    expect(outcome.ok).toBe(false);
    expect(outcome.results[0]?.message).toBe("GET /health on green replica 0 → 503 (expected 2xx)");
    expect(outcome.results[0]?.output).toBe('{"status":"starting"}');
  });

  it("accepts a status list and a status class", async () => {
    const app = await replica((request, response) => {
      response.statusCode = request.url === "/moved" ? 302 : 204;
      response.end();
    });
    const outcome = await runChecks(
      checksFrom([
        { name: "list-ok", http: { path: "/", expectStatus: [200, 204] } },
        { name: "list-bad", http: { path: "/", expectStatus: [200, 201] } },
        { name: "class-ok", http: { path: "/moved", expectStatus: "3xx" } },
        { name: "class-bad", http: { path: "/", expectStatus: "3xx" } },
        { name: "exact-bad", http: { path: "/", expectStatus: 200 } },
      ]),
      targetOf([app.endpoint]),
      { signal },
    );
    expect(outcome.results.map((r) => [r.name, r.ok])).toEqual([
      ["list-ok", true],
      ["list-bad", false],
      ["class-ok", true],
      ["class-bad", false],
      ["exact-bad", false],
    ]);
    expect(outcome.results[1]?.message).toContain("→ 204 (expected 200 or 201)");
    expect(outcome.results[3]?.message).toContain("→ 204 (expected 3xx)");
    expect(outcome.ok).toBe(false);
  });

  describe("expectJson", () => {
    const status = { app: "hello", version: "v2", build: { version: "v2", sha: "abc" }, items: [{ id: 7 }, { id: 8 }], ready: true };

    it("matches templated and dotted paths, array indexes, non-string values", async () => {
      const app = await replica((_request, response) => json(response, 200, status));
      const outcome = await runChecks(
        checksFrom([
          {
            name: "version",
            http: { path: "/api/status", expectJson: { version: "{version}", "build.version": "{version}", "items.1.id": 8, ready: true, "items.0": { id: 7 } } },
          },
        ]),
        targetOf([app.endpoint], "v2"),
        { signal },
      );
      expect(outcome.results[0]).toMatchObject({ ok: true, message: "GET /api/status on green replica 0 → 200, JSON matches" });
    });

    it("says exactly which value differs", async () => {
      const app = await replica((_request, response) => json(response, 200, { ...status, version: "v1" }));
      const outcome = await runChecks(
        checksFrom([{ name: "version", http: { path: "/api/status", expectJson: { version: "{version}", "items.5.id": 1, "build.sha": "abc" } } }]),
        targetOf([app.endpoint], "v2"),
        { signal },
      );
      const result = outcome.results[0];
      expect(result?.ok).toBe(false);
      expect(result?.message).toBe(
        'GET /api/status on green replica 0 → 200, but version: expected "v2", got "v1"; items.5.id: expected 1, got nothing (no such field)',
      );
      expect(result?.output).toContain('"version":"v1"');
    });

    it("compares types strictly: the string \"8\" is not the number 8", async () => {
      const app = await replica((_request, response) => json(response, 200, status));
      const outcome = await runChecks(checksFrom([{ name: "id", http: { path: "/", expectJson: { "items.1.id": "8" } } }]), targetOf([app.endpoint]), {
        signal,
      });
      expect(outcome.results[0]?.message).toContain('items.1.id: expected "8", got 8');
    });

    it("fails on a body that is not JSON, showing its start", async () => {
      const app = await replica((_request, response) => {
        response.setHeader("content-type", "text/html");
        response.end("<html><body>Service temporarily unavailable</body></html>");
      });
      const outcome = await runChecks(checksFrom([{ name: "version", http: { path: "/api/status", expectJson: { version: "{version}" } } }]), targetOf([app.endpoint]), {
        signal,
      });
      expect(outcome.results[0]?.ok).toBe(false);
      expect(outcome.results[0]?.message).toBe(
        'GET /api/status on green replica 0 → 200, but the body is not JSON: "<html><body>Service temporarily unavailable</body></html>"',
      );
      expect(outcome.results[0]?.output).toContain("<html>");
    });
  });

  it("checks every replica: one broken replica among two fails the slot", async () => {
    const good = await replica((_request, response) => response.end("ok"), 0);
    const broken = await replica((_request, response) => {
      response.statusCode = 500;
      response.end("boom");
    }, 1);
    const seen: number[] = [];
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" } }]), targetOf([good.endpoint, broken.endpoint]), {
      signal,
      onResult: (result) => seen.push(result.replica ?? -1),
    });
    expect(outcome.ok).toBe(false);
    expect(outcome.results.map((r) => [r.replica, r.ok])).toEqual([
      [0, true],
      [1, false],
    ]);
    expect(outcome.results[1]?.message).toBe("GET /health on green replica 1 → 500 (expected 2xx)");
    expect(seen.sort()).toEqual([0, 1]);
    expect(good.requests).toBe(1);
    expect(broken.requests).toBe(1);
  });

  it("fails a slot without replicas instead of passing vacuously", async () => {
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" } }]), targetOf([]), { signal });
    expect(outcome.ok).toBe(false);
    expect(outcome.results[0]?.message).toContain("no replicas");
  });

  it("times out on a replica that never answers", async () => {
    const app = await replica(() => {
      // Holds the request: never answers.
    });
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" }, timeout: "200ms" }]), targetOf([app.endpoint]), { signal });
    expect(outcome.results[0]).toMatchObject({ ok: false, message: "GET /health on green replica 0 → timed out after 200ms" });
  });

  it("reports a refused connection", async () => {
    const app = await replica((_request, response) => response.end());
    const endpoint = app.endpoint;
    await app.close();
    const outcome = await runChecks(checksFrom([{ name: "health", http: { path: "/health" } }]), targetOf([endpoint]), { signal });
    expect(outcome.results[0]?.message).toBe("GET /health on green replica 0 → connection refused (nothing listens there)");
  });
});
