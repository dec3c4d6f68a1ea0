import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createApiApp } from "../api/server.js";
import { EngineDouble } from "../api/testing/engine-double.js";
import { silentLogger } from "../logging.js";
import { assetPath, PUBLIC_DIR, registerDashboard } from "./serve.js";

function app(options: { token?: string; listenIsLoopback?: boolean } = {}) {
  return createApiApp({ engine: new EngineDouble(), logger: silentLogger, ...options, extraRoutes: (hono) => registerDashboard(hono) });
}

describe("the dashboard's files", () => {
  it("serves the page at / and its assets with their types, no framing and no foreign scripts", async () => {
    const page = await app().request("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(await page.text()).toContain('<script type="module" src="/assets/main.js"></script>');

    const script = await app().request("/assets/main.js");
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const css = await app().request("/assets/app.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("is open even where the API needs the token for reads: the page asks for it itself", async () => {
    const exposed = app({ token: "s3cret", listenIsLoopback: false });
    expect((await exposed.request("/")).status).toBe(200);
    expect((await exposed.request("/assets/api.js")).status).toBe(200);
    expect((await exposed.request("/api/status")).status).toBe(401);
  });

  it.each([
    ["/assets/../serve.ts"],
    ["/assets/%2e%2e/serve.ts"],
    ["/assets/..%2fserve.ts"],
    ["/assets/.hidden.js"],
    ["/assets/nope.js"],
    ["/assets/index.html.bak"],
    ["/assets/"],
  ])("answers %s with a 404 and nothing from outside its folder", async (path) => {
    const response = await app().request(path);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain("registerDashboard");
  });

  it("maps only plain names inside its folder, with a known type, to files", () => {
    const root = "/srv/flip/public";
    expect(assetPath(root, "main.js")).toBe("/srv/flip/public/main.js");
    expect(assetPath(root, "vendor/uPlot.min.css")).toBe("/srv/flip/public/vendor/uPlot.min.css");
    for (const name of ["../serve.ts", "vendor/../../x.js", "a//b.js", ".env.js", "vendor/.x.css", "/etc/passwd.txt", "main.ts", "main", "x.js\\..\\y.js", "constructor"]) {
      expect(assetPath(root, name), name).toBeUndefined();
    }
  });

  it("references only files it has: every /assets/ link of the page and every module import", () => {
    const html = readFileSync(join(PUBLIC_DIR, "index.html"), "utf8");
    const linked = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((match) => match[1] as string);
    expect(linked).toContain("main.js");
    // vendor/ is copied in by the build (scripts/copy-assets.mjs); test/dashboard.test.ts loads it for real.
    for (const name of linked.filter((name) => !name.startsWith("vendor/"))) expect(existsSync(join(PUBLIC_DIR, name)), name).toBe(true);

    const modules = readdirSync(PUBLIC_DIR).filter((name) => name.endsWith(".js"));
    for (const name of modules) {
      const source = readFileSync(join(PUBLIC_DIR, name), "utf8");
      for (const match of source.matchAll(/^import .* from "\.\/([^"]+)";$/gm)) expect(existsSync(join(PUBLIC_DIR, match[1] as string)), `${name} imports ${match[1]}`).toBe(true);
    }
  });
});
