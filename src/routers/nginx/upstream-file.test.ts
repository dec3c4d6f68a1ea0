import { describe, expect, it } from "vitest";
import { DEFAULT_TEMPLATE, nginxRouterSchema } from "./config.js";
import { renderUpstreamFile, serverOfEndpoint, slotOfFile, summarizeUpstreamFile } from "./upstream-file.js";

const base = { app: "shop", upstream: "shop", slot: "green" as const, servers: ["10.0.0.6:8080", "10.0.0.7:8080 max_fails=3"] };

describe("renderUpstreamFile", () => {
  it("writes the marker, then the template with one server line per server", () => {
    expect(renderUpstreamFile({ ...base, template: DEFAULT_TEMPLATE })).toBe(
      [
        '# Written by Flip for the app "shop": every switch replaces this file, so change router.template in flip.yaml instead.',
        "# flip-live-slot: green",
        "upstream shop {",
        "server 10.0.0.6:8080;",
        "server 10.0.0.7:8080 max_fails=3;",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("indents the server lines like the placeholder, and fills {slot}, {upstream} and {app}", () => {
    const text = renderUpstreamFile({ ...base, upstream: "backend_app", template: "upstream {upstream} {\n    {servers}\n    keepalive 32;\n}\n# {app} on {slot} ({version} stays)" });
    expect(text.split("\n").slice(2)).toEqual(["upstream backend_app {", "    server 10.0.0.6:8080;", "    server 10.0.0.7:8080 max_fails=3;", "    keepalive 32;", "}", "# shop on green ({version} stays)", ""]);
  });

  it("reads back the slot it wrote, and nothing from a file Flip did not write", () => {
    expect(slotOfFile(renderUpstreamFile({ ...base, template: DEFAULT_TEMPLATE }))).toBe("green");
    expect(slotOfFile("upstream shop { server 127.0.0.1:3001; }\n")).toBeUndefined();
    expect(slotOfFile("# flip-live-slot: purple\n")).toBeUndefined();
    expect(slotOfFile(undefined)).toBeUndefined();
  });
});


it("puts IPv6 replicas in brackets, and summarizes a file on one line", () => {
  expect(serverOfEndpoint({ slot: "blue", replica: 0, host: "::1", port: 3001, url: "http://[::1]:3001" })).toBe("[::1]:3001");
  expect(summarizeUpstreamFile(renderUpstreamFile({ ...base, template: DEFAULT_TEMPLATE }))).toBe("upstream shop { server 10.0.0.6:8080; server 10.0.0.7:8080 max_fails=3; }");
});

describe("nginx config", () => {
  const problems = (extra: Record<string, unknown>) => {
    const parsed = nginxRouterSchema.safeParse({ kind: "nginx", file: "/etc/nginx/flip/shop.conf", ...extra });
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  };

  it("has defaults for everything but the file", () => {
    expect(nginxRouterSchema.parse({ kind: "nginx", file: "flip/shop.conf" })).toEqual({
      kind: "nginx",
      file: "flip/shop.conf",
      template: DEFAULT_TEMPLATE,
      testCommand: "nginx -t",
      reloadCommand: "nginx -s reload",
      commandTimeout: 30_000,
      slotHeader: "x-flip-slot",
      pollInterval: 100,
      reloadTimeout: 10_000,
    });
  });

  it("refuses a server entry that could end the block, a template that ignores the slot, and equal slots", () => {
    expect(problems({ slots: { blue: ["127.0.0.1:3001; } server {"], green: ["127.0.0.1:3101"] } })).toEqual([
      'slots.blue.0: expected an nginx server address (and parameters), e.g. "127.0.0.1:3001" or "app-blue.internal:8080 max_fails=3"',
    ]);
    expect(problems({ template: "upstream shop { server 127.0.0.1:3001; }" })).toEqual(["template: needs {servers} or {slot}: otherwise the file would be the same for both slots"]);
    expect(problems({ slots: { blue: ["a:1"], green: ["a:1"] } })).toEqual(["slots: blue and green list the same servers, so a switch would change nothing"]);
    expect(problems({ probeUrl: "ftp://x/" })).toHaveLength(1);
    expect(problems({ slotHeader: "x flip" })).toHaveLength(1);
  });
});
