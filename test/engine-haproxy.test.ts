// The monitor without any metrics system in front of a real HAProxy: the haproxy router counts each
// slot's requests and 5xx answers from HAProxy's own stats (`show stat` on the runtime API), so a
// release that fails real traffic after the switch is rolled back by the same rules as with the
// built-in proxy. The slots are two node:http servers on the ports haproxy.cfg expects (the static
// platform); the engine's clock is a ManualClock, so a monitor window ends only when the test says
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
import { startHaproxy } from "../src/routers/haproxy/testing/haproxy-server.js";
import { startEngine } from "./helpers/engine-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A slot deployed "elsewhere", on the port haproxy.cfg lists: healthy, but `/` may fail. */
async function slotApp(slot: Slot, port: number, version: string, failing: boolean): Promise<void> {
  const server = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200).end("ok");
    else if (req.url === "/api/status") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version }));
    else res.writeHead(failing ? 500 : 200).end(slot);
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

describe("the monitor on HAProxy's own counters", () => {
  it("rolls back a release whose answers fail through HAProxy, with no monitor.source", async () => {
    const haproxy = await startHaproxy();
    cleanups.push(() => haproxy.stop());
    await slotApp("blue", haproxy.slotPorts.blue, "v1", false);
    await slotApp("green", haproxy.slotPorts.green, "v2", true);
    await haproxy.waitForServer("blue", "UP");
    await haproxy.waitForServer("green", "UP");
    const dir = mkdtempSync(join(tmpdir(), "flip-haproxy-engine-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = parseConfigText(
      `app: shop
platform: { kind: static, readyInterval: 50ms, slots: { blue: { url: "http://127.0.0.1:${haproxy.slotPorts.blue}" }, green: { url: "http://127.0.0.1:${haproxy.slotPorts.green}" } } }
router: { kind: haproxy, runtimeApi: "${haproxy.runtimeApi}", map: "${haproxy.map}", pollInterval: 20ms }
checks:
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
monitor: { duration: 3s, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }
readyTimeout: 5s
`,
      join(dir, "flip.yaml"),
    );
    const h = await startEngine(config, dir);
    cleanups.push(h.close);
    const { engine, store, router } = h;
    expect(createMetricsSource(config, router)?.name).toBe("haproxy");
    const finish = (id: string) => h.finish(id, haproxy.url);

    const first = await finish((await engine.deploy("v1", { actor: "test" })).id);
    expect(first).toMatchObject({ outcome: "succeeded", reason: expect.stringMatching(/windows judged healthy/) as unknown });
    expect(store.samplesOf(first.id)[0]).toMatchObject({ requests: 10, errors: 0, judged: true, healthy: true });

    const second = await finish((await engine.deploy("v2", { actor: "test" })).id);
    expect(second.outcome).toBe("rolled-back");
    expect(second.reason).toMatch(/errorRate 100\.0% breaks errorRate < 5%/);
    expect(await router.live()).toBe("blue");
    expect(await get(haproxy.url)).toBe(200);
  });
});
