// The OpenAPI document must describe exactly the routes the API serves, with the bodies it accepts.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../logging.js";
import { registerDashboardReads } from "./dashboard-routes.js";
import { registerMetricsRoute } from "./metrics-route.js";
import { openApiDocument } from "./openapi.js";
import { createApiApp } from "./server.js";
import { EngineDouble } from "./testing/engine-double.js";

type Operation = { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, unknown> };

/** Every method + path the app answers, in OpenAPI's spelling (`:id` → `{id}`). */
function servedRoutes(): string[] {
  const app = createApiApp({
    engine: new EngineDouble(),
    logger: silentLogger,
    // The controller adds these the same way; the dashboard's pages and files are not part of the API.
    extraRoutes: (hono) => {
      registerMetricsRoute(hono, { contentType: "text/plain", render: async () => "" });
      registerDashboardReads(hono, { traffic: { series: () => ({}) as never }, monitor: {} as never });
    },
  });
  const routes = app.routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`);
  return [...new Set(routes)].sort();
}

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

const operation = (path: string, method: string) => (openApiDocument.paths as Record<string, Record<string, Operation>>)[path]?.[method] as Operation;

describe("GET /api/openapi.json", () => {
  it("lists every route the API serves, and no other", () => {
    expect(documentedRoutes()).toEqual(servedRoutes());
    expect(servedRoutes()).toContain("GET /api/openapi.json");
    expect(servedRoutes()).toContain("POST /api/switch");
  });

  it("is served as JSON", async () => {
    const app = createApiApp({ engine: new EngineDouble(), logger: silentLogger });
    const response = await app.request("/api/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(Object.keys(openApiDocument.paths));
  });

  it("takes the request bodies from the schemas the routes validate with", () => {
    const deploy = operation("/api/deployments", "post").requestBody?.content["application/json"]?.schema;
    expect(deploy).toMatchObject({
      type: "object",
      required: ["version"],
      additionalProperties: false,
      properties: { version: { type: "string", minLength: 1, maxLength: 128 }, force: { type: "boolean" } },
    });
    expect(operation("/api/switch", "post").requestBody?.content["application/json"]?.schema).toMatchObject({ properties: { slot: { enum: ["blue", "green"] } }, required: ["slot"] });
  });

  it("gives every path its answers, and every $ref a schema", () => {
    const text = JSON.stringify(openApiDocument);
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((match) => match[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const name of refs) expect(openApiDocument.components.schemas, name).toHaveProperty(name);
    for (const [path, operations] of Object.entries(openApiDocument.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(operations)) {
        expect(Object.keys(op.responses).some((status) => status.startsWith("2")), `${method} ${path}`).toBe(true);
        if (path.startsWith("/api/")) expect(op.responses, `${method} ${path}`).toHaveProperty("401");
      }
    }
  });
});
