// The monitor without any metrics system, in front of a real HAProxy, nginx and Caddy: the haproxy
// router counts each slot's requests and 5xx answers from HAProxy's own stats (`show stat` on the
// runtime API); the nginx and caddy routers read the access log the proxy writes. Each way a
// release that fails real traffic after the switch is rolled back by the same rules as behind the
// built-in proxy. The slots are two node:http servers on fixed ports (the static platform); the
// engine's clock is a ManualClock, so a monitor window ends only when the test says
// (test/helpers/engine-harness.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Slot } from "../src/core/slots.js";
import { parseConfigText } from "../src/config/load.js";
import { createMetricsSource } from "../src/metrics/registry.js";
import { pickFreePort } from "../src/platforms/process/ports.js";
import { startHaproxy } from "../src/routers/haproxy/testing/haproxy-server.js";
import { startCaddy } from "../src/routers/caddy/testing/caddy-server.js";
import { startNginx } from "../src/routers/nginx/testing/nginx-server.js";
import { startEngine } from "./helpers/engine-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A slot deployed "elsewhere", on a port the proxy's config lists: healthy, but `/` may fail. */
async function slotApp(slot: Slot, port: number, version: string, failing: boolean): Promise<void> {
  const server = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200, { "x-flip-slot": slot }).end("ok");
    else if (req.url === "/api/status") res.writeHead(200, { "content-type": "application/json", "x-flip-slot": slot }).end(JSON.stringify({ version }));
    else res.writeHead(failing ? 500 : 200, { "x-flip-slot": slot }).end(slot);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
}

async function get(url: string): Promise<number> {
  const response = await request(url);
  await response.body.dump();
  return response.statusCode;
}

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "flip-engine-counters-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const REST = `checks:
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
monitor: { duration: 3s, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }
readyTimeout: 5s
`;

/** Deploys v1 (healthy) then v2 (failing `/`) through the proxy at `url`; v2 must be rolled back on the router's own counters. */
async function deployAndBreak(configText: string, dir: string, url: string, kind: string, latencyKnown: boolean): Promise<void> {
  const config = parseConfigText(configText, join(dir, "flip.yaml"));
  const h = await startEngine(config, dir);
  cleanups.push(h.close);
  expect(createMetricsSource(config, h.router)?.name).toBe(kind);

  const first = await h.finish((await h.engine.deploy("v1", { actor: "test" })).id, url);
  expect(first).toMatchObject({ outcome: "succeeded", reason: expect.stringMatching(/windows judged healthy/) as unknown });
  // 10 requests a window, and maybe the switch's last probe through the proxy (Caddy writes its log a moment later).
  const firstWindow = h.store.samplesOf(first.id)[0];
  expect(firstWindow).toMatchObject({ errors: 0, judged: true, healthy: true });
  expect(firstWindow?.requests).toBeGreaterThanOrEqual(10);
  expect(firstWindow?.requests).toBeLessThanOrEqual(12);
  const p99 = (await h.router.readTraffic?.("blue"))?.latencyCounts.some((count) => count > 0);
  expect(p99 ?? false).toBe(latencyKnown);

  const second = await h.finish((await h.engine.deploy("v2", { actor: "test" })).id, url);
  expect(second.outcome).toBe("rolled-back");
  // Every request to v2 fails; a late-logged probe (a 200 from /health) may share the first window.
  const errorRate = Number(/errorRate ([\d.]+)% breaks errorRate < 5%/.exec(second.reason ?? "")?.[1]);
  expect(errorRate).toBeGreaterThanOrEqual(80);
  expect(await h.router.live()).toBe("blue");
  expect(await get(url)).toBe(200);
}

describe("the monitor on a proxy's own counters", () => {
  it("HAProxy: rolls back a release whose answers fail, from `show stat`, with no monitor.source", async () => {
    const haproxy = await startHaproxy();
    cleanups.push(() => haproxy.stop());
    await slotApp("blue", haproxy.slotPorts.blue, "v1", false);
    await slotApp("green", haproxy.slotPorts.green, "v2", true);
    await haproxy.waitForServer("blue", "UP");
    await haproxy.waitForServer("green", "UP");
    const blue = `http://127.0.0.1:${haproxy.slotPorts.blue}`;
    const green = `http://127.0.0.1:${haproxy.slotPorts.green}`;
    const text = `app: shop
platform: { kind: static, readyInterval: 50ms, slots: { blue: { url: "${blue}" }, green: { url: "${green}" } } }
router: { kind: haproxy, runtimeApi: "${haproxy.runtimeApi}", map: "${haproxy.map}", pollInterval: 20ms }
${REST}`;
    await deployAndBreak(text, workDir(), haproxy.url, "haproxy", false);
  });

  it("nginx: rolls back a release whose answers fail, from nginx's access log, with no monitor.source", async () => {
    const ports = { blue: await pickFreePort(), green: await pickFreePort() };
    await slotApp("blue", ports.blue, "v1", false);
    await slotApp("green", ports.green, "v2", true);
    const nginx = await startNginx({ initialUpstream: `upstream shop {\n  server 127.0.0.1:9;\n}\n`, upstream: "shop" });
    cleanups.push(() => nginx.stop());
    const text = `app: shop
platform: { kind: static, readyInterval: 50ms, slots: { blue: { url: "http://127.0.0.1:${ports.blue}" }, green: { url: "http://127.0.0.1:${ports.green}" } } }
router:
  kind: nginx
  file: "${nginx.upstreamFile}"
  upstream: shop
  slots: { blue: ["127.0.0.1:${ports.blue}"], green: ["127.0.0.1:${ports.green}"] }
  testCommand: '${nginx.testCommand}'
  reloadCommand: '${nginx.reloadCommand}'
  probeUrl: "${nginx.url}"
  accessLog: "${nginx.accessLog}"
${REST}`;
    await deployAndBreak(text, workDir(), nginx.url, "nginx", true);
  });

  it("Caddy: rolls back a release whose answers fail, from Caddy's JSON access log, with no monitor.source", async () => {
    const ports = { blue: await pickFreePort(), green: await pickFreePort() };
    await slotApp("blue", ports.blue, "v1", false);
    await slotApp("green", ports.green, "v2", true);
    const dir = workDir();
    const accessLog = join(dir, "caddy-access.log");
    const caddy = await startCaddy({ handlerId: "shop", accessLog });
    cleanups.push(() => caddy.stop());
    const text = `app: shop
platform: { kind: static, readyInterval: 50ms, slots: { blue: { url: "http://127.0.0.1:${ports.blue}" }, green: { url: "http://127.0.0.1:${ports.green}" } } }
router:
  kind: caddy
  adminUrl: "${caddy.adminUrl}"
  handlerId: shop
  slots: { blue: ["127.0.0.1:${ports.blue}"], green: ["127.0.0.1:${ports.green}"] }
  probeUrl: "${caddy.url}/health"
  accessLog: "${accessLog}"
${REST}`;
    await deployAndBreak(text, dir, `${caddy.url}/`, "caddy", true);
  });
});
