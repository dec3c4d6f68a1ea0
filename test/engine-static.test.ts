// The engine, unchanged, driving the `static` platform: two node:http servers stand for slots that
// were deployed elsewhere; the built-in proxy switches between them; the monitor rolls back a slot
// that breaks; a slot that does not run the claimed version fails its check. Real sockets; the
// engine's clock is a ManualClock so the monitor window moves only when the test says so.
// Last, the monitor with a source that measures windows itself (as the prometheus source does).
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Slot } from "../src/core/slots.js";
import { parseConfigText } from "../src/config/load.js";
import { replayEvents } from "../src/api/sse.js";
import type { FlowEvent } from "../src/engine/views.js";
import type { MeasuredWindow, MetricsSource, WindowRequest } from "../src/metrics/source.js";
import { startEngine } from "./helpers/engine-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A slot deployed "elsewhere": says which version it runs, and can be told to fail its traffic. */
interface FakeSlot {
  url: string;
  version: string;
  failing: boolean;
}

async function fakeSlot(name: Slot, version: string): Promise<FakeSlot> {
  const slot: FakeSlot = { url: "", version, failing: false };
  const server = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200).end("ok");
    else if (req.url === "/api/status") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: slot.version }));
    else res.writeHead(slot.failing ? 500 : 200, { "x-slot": name }).end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  slot.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return slot;
}

async function setUp(options: { metrics?: MetricsSource } = {}) {
  const blue = await fakeSlot("blue", "v1");
  const green = await fakeSlot("green", "v2");
  const dir = mkdtempSync(join(tmpdir(), "flip-static-"));
  const config = parseConfigText(
    `app: shop
platform: { kind: static, readyInterval: 50ms, slots: { blue: { url: "${blue.url}" }, green: { url: "${green.url}" } } }
router: { kind: builtin, listen: "127.0.0.1:0", drainTimeout: 1s }
checks:
  - { name: health, http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
monitor: { duration: 3s, interval: 1s, minRequests: 5, rules: ["errorRate < 5%"] }
readyTimeout: 5s
`,
    join(dir, "flip.yaml"),
  );
  const harness = await startEngine(config, dir, options);
  cleanups.push(async () => {
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { engine: started, store, router } = harness;
  const proxy = `http://${router.listenAddresses?.().listen ?? "?"}`;
  const finish = (id: string) => harness.finish(id, proxy);
  return { engine: started, store, router, blue, green, proxy, finish };
}

async function get(url: string): Promise<{ status: number; slot: string }> {
  const response = await request(url);
  return { status: response.statusCode, slot: await response.body.text() };
}

const actor = { actor: "test" };

describe("Engine with the static platform", () => {
  it("deploys, switches and rolls back between two slots deployed elsewhere", async () => {
    const h = await setUp();
    const events: FlowEvent[] = [];
    h.engine.subscribeAll((event) => events.push(event));

    const first = await h.finish((await h.engine.deploy("v1", actor)).id);
    expect(first.outcome).toBe("succeeded");
    expect(h.store.phasesOf(first.id).map((p) => p.phase)).toEqual(["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring", "succeeded"]);
    expect(await h.router.live()).toBe("blue");
    expect(await get(h.proxy)).toEqual({ status: 200, slot: "blue" });
    // The platform's own words reached the deployment's event stream.
    expect(events).toContainEqual(expect.objectContaining({ type: "log", deploymentId: first.id, message: expect.stringMatching(/recorded that blue .* runs v1/) }));
    // ...and a watcher that connects afterwards still gets them: the detail holds them for the replay.
    expect(h.engine.deployment(first.id).logs).toContainEqual(expect.objectContaining({ message: expect.stringMatching(/recorded that blue .* runs v1/) }));
    expect(replayEvents(h.engine.deployment(first.id))).toContainEqual(expect.objectContaining({ type: "log", replayed: true, message: expect.stringMatching(/recorded that blue .* runs v1/) }));

    // green answers its checks but fails real traffic: switched, judged, flipped back.
    h.green.failing = true;
    const broken = await h.finish((await h.engine.deploy("v2", actor)).id);
    expect(broken.outcome).toBe("rolled-back");
    expect(broken.reason).toMatch(/errorRate 100\.0% breaks errorRate < 5%/);
    expect(await h.router.live()).toBe("blue");
    expect(await get(h.proxy)).toEqual({ status: 200, slot: "blue" });

    // Fixed in place by whoever deploys green; deployed through Flip again, it goes live.
    h.green.failing = false;
    const fixed = await h.finish((await h.engine.deploy("v2", { actor: "test" })).id);
    expect(fixed.outcome).toBe("succeeded");
    expect(await get(h.proxy)).toEqual({ status: 200, slot: "green" });
    const status = await h.engine.status();
    expect(status.slots.green).toMatchObject({ version: "v2", state: "live", replicas: 1 });
    expect(status.slots.blue).toMatchObject({ version: "v1", state: "standby" });
  }, 30_000);

  it("aborts when the idle slot does not run the version claimed, traffic untouched", async () => {
    const h = await setUp();
    expect((await h.finish((await h.engine.deploy("v1", actor)).id)).outcome).toBe("succeeded");
    const wrong = await h.finish((await h.engine.deploy("v3", actor)).id); // green still runs v2
    expect(wrong.outcome).toBe("aborted");
    expect(wrong.reason).toMatch(/check version failed/);
    expect(wrong.reason).toMatch(/traffic stayed on blue/);
    expect(await get(h.proxy)).toEqual({ status: 200, slot: "blue" });
  }, 30_000);
});

/** A source that measures each window itself, answering from a script of windows. */
class ScriptedSource implements MetricsSource {
  readonly name = "scripted";
  readonly asked: { slot: Slot; window: WindowRequest }[] = [];
  constructor(
    readonly windows: Omit<MeasuredWindow, "at">[],
    readonly consecutiveErrorLimit = 3,
  ) {}
  read(): never {
    throw new Error("the monitor must not read counters from a measuring source");
  }
  async measureWindow(slot: Slot, window: WindowRequest): Promise<MeasuredWindow> {
    this.asked.push({ slot, window });
    return { at: Date.now(), ...(this.windows.shift() ?? { requests: 100, values: { errorRate: 0 } }) };
  }
}

describe("Engine monitor with a measuring source", () => {
  it("judges the values the source measured, skipping windows with too few requests", async () => {
    const source = new ScriptedSource([]);
    const h = await setUp({ metrics: source });
    expect((await h.finish((await h.engine.deploy("v1", actor)).id)).outcome).toBe("succeeded");
    source.asked.length = 0;
    source.windows.push(
      { requests: 2, values: { errorRate: 0.9 } }, // too few requests: not judged
      { requests: 40, values: { errorRate: 0.5 } },
    );
    const broken = await h.finish((await h.engine.deploy("v2", actor)).id);

    expect(broken.outcome).toBe("rolled-back");
    expect(broken.reason).toBe("errorRate 50.0% breaks errorRate < 5%; traffic back on blue");
    expect(source.asked).toEqual([
      { slot: "green", window: { version: "v2", windowMs: 1000, metrics: ["errorRate"] } },
      { slot: "green", window: { version: "v2", windowMs: 1000, metrics: ["errorRate"] } },
    ]);
    expect(h.store.samplesOf(broken.id).map((sample) => [sample.judged, sample.requests, sample.errors, sample.note])).toEqual([
      [false, 2, 2, "2 requests in the window, fewer than minRequests (5)"],
      [true, 40, 20, undefined],
    ]);
  }, 30_000);

  it("records a window the source could not measure, and rolls back after consecutiveErrorLimit in a row", async () => {
    const down = { requests: undefined, values: {}, error: "errorRate: cannot reach Prometheus at http://127.0.0.1:9/api/v1/query: connection refused" };
    const source = new ScriptedSource([{ requests: 50, values: { errorRate: 0 } }, down, { requests: 50, values: { errorRate: 0 } }, down, down], 2);
    const h = await setUp({ metrics: source });
    const first = await h.finish((await h.engine.deploy("v1", actor)).id);
    expect(first.outcome).toBe("succeeded"); // one failure between two good windows is only recorded
    expect(h.store.samplesOf(first.id).map((sample) => sample.note)).toEqual([undefined, `scripted: ${down.error}`, undefined]);

    const blind = await h.finish((await h.engine.deploy("v2", actor)).id);
    expect(blind.outcome).toBe("rolled-back");
    expect(blind.reason).toBe(`scripted could not measure 2 windows in a row (last: ${down.error}); traffic back on blue`);
    expect(await h.router.live()).toBe("blue");
  }, 30_000);
});
