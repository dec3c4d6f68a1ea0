import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.testing.js";
import { systemClock, type Clock } from "../../core/clock.js";
import { EmptySlotError, PortInUseError, TimeoutError } from "../../core/errors.js";
import { isSlot, type Endpoint, type Slot } from "../../core/slots.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { closeAll, startTextUpstream, startUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { BuiltinRouter } from "./builtin-router.js";
import { builtinRouterSchema, type BuiltinRouterConfig } from "./config.js";

// Parsed, so every key added to the schema gets its default here too.
const baseConfig: BuiltinRouterConfig = builtinRouterSchema.parse({
  kind: "builtin",
  listen: "127.0.0.1:0",
  drainTimeout: "5s",
  connectTimeout: "1s",
  upstreamTimeout: "5s",
});

function builtinFixture(): RouterFixture {
  const state = new MemoryDriverState();
  const routers: Router[] = [];
  const upstreams: TestUpstream[] = [];
  const targets: Partial<Record<Slot, Endpoint[]>> = {};
  const client = new Agent();
  const make = () => {
    const router = new BuiltinRouter(baseConfig, { app: "test", logger: silentLogger, clock: systemClock, state });
    routers.push(router);
    return router;
  };
  return {
    create: () => Promise.resolve(make()),
    async fillSlot(router, slot) {
      const upstream = await startTextUpstream(slot);
      upstreams.push(upstream);
      targets[slot] = [upstream.endpoint(slot)];
      await router.setTargets(slot, targets[slot]);
    },
    async restart(router) {
      await router.close();
      const next = make();
      for (const [slot, endpoints] of Object.entries(targets)) await next.setTargets(slot as Slot, endpoints);
      await next.start();
      return next;
    },
    async request(router) {
      const { listen } = (router as BuiltinRouter).listenAddresses();
      const response = await request(`http://${listen}/`, { dispatcher: client });
      const text = await response.body.text();
      if (!isSlot(text)) throw new Error(`unexpected answer ${response.statusCode}: ${text}`);
      return text;
    },
    async cleanup() {
      await closeAll(routers);
      await closeAll(upstreams);
      await client.close();
    },
  };
}

routerContract("builtin", builtinFixture);

describe("BuiltinRouter", () => {
  const routers: BuiltinRouter[] = [];
  const upstreams: TestUpstream[] = [];
  let client = new Agent();

  afterEach(async () => {
    await closeAll(routers);
    await closeAll(upstreams);
    await client.destroy(); // not close(): a failed test may leave a body unread
    client = new Agent();
  });

  async function startRouter(options: { config?: Partial<BuiltinRouterConfig>; clock?: Clock; state?: MemoryDriverState } = {}) {
    const events: RouterEvent[] = [];
    const router = new BuiltinRouter(
      { ...baseConfig, ...options.config },
      { app: "test", logger: silentLogger, clock: options.clock ?? systemClock, state: options.state ?? new MemoryDriverState(), onEvent: (event) => events.push(event) },
    );
    routers.push(router);
    await router.start();
    return { router, events, base: `http://${router.listenAddresses().listen}` };
  }

  async function fill(router: BuiltinRouter, slot: Slot, handler?: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
    const upstream = handler ? await startUpstream(handler) : await startTextUpstream(slot);
    upstreams.push(upstream);
    await router.setTargets(slot, [upstream.endpoint(slot)]);
    return upstream;
  }

  /** A GET that gives up after 5 s, so a broken proxy fails the test instead of hanging it. */
  async function get(url: string): Promise<{ status: number; text: string }> {
    const response = await request(url, { dispatcher: client, signal: AbortSignal.timeout(5_000) });
    return { status: response.statusCode, text: await response.body.text() };
  }

  it("persists the live slot before switching and restores it in the constructor", async () => {
    const state = new MemoryDriverState();
    const { router } = await startRouter({ state });
    await fill(router, "green");
    await router.switchTo("green");
    expect(state.get("live")).toBe("green");

    const restarted = new BuiltinRouter(baseConfig, { app: "test", logger: silentLogger, clock: systemClock, state });
    routers.push(restarted);
    expect(await restarted.live()).toBe("green"); // before start(): reconcile asks first
  });

  it("emits switched only when traffic moves, and listening for each listener", async () => {
    const clock = new ManualClock();
    const { router, events } = await startRouter({ clock, config: { preview: "127.0.0.1:0" } });
    await fill(router, "blue");
    await fill(router, "green");
    await router.switchTo("blue");
    await router.switchTo("blue");
    await router.switchTo("green");

    const { listen, preview } = router.listenAddresses();
    expect(events.filter((event) => event.type === "listening")).toEqual([
      { type: "listening", name: "proxy", address: listen },
      { type: "listening", name: "preview", address: preview },
    ]);
    expect(events.filter((event) => event.type === "switched")).toEqual([
      { type: "switched", from: undefined, to: "blue", at: clock.now() },
      { type: "switched", from: "blue", to: "green", at: clock.now() },
    ]);
  });

  it("refuses a slot emptied by setTargets([]) and verify() rejects a slot that is not live", async () => {
    const { router } = await startRouter();
    await fill(router, "blue");
    await router.setTargets("blue", []);
    await expect(router.switchTo("blue")).rejects.toBeInstanceOf(EmptySlotError);
    await expect(router.verify("blue", 100)).rejects.toBeInstanceOf(TimeoutError);
  });

  it("reports a port in use as PortInUseError", async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = squatter.address() as AddressInfo;
      const router = new BuiltinRouter({ ...baseConfig, listen: `127.0.0.1:${port}` }, { app: "test", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() });
      routers.push(router);
      const error = await router.start().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as PortInUseError).message).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it("lets a slow request on the old slot finish after the switch and sends the old slot nothing new", async () => {
    let releaseSlow: () => void = () => undefined;
    const { router, base, events } = await startRouter();
    const blue = await fill(router, "blue", (req, res) => {
      if (req.url === "/slow") {
        releaseSlow = () => res.end("blue-slow");
        return;
      }
      res.end("blue");
    });
    await fill(router, "green");
    await router.switchTo("blue");

    const slow = get(`${base}/slow`);
    // In flight at the proxy is not enough: the replica must hold it, or releaseSlow is not set yet.
    await waitFor(() => router.traffic.snapshot("blue").inFlight === 1 && blue.received === 1);
    await router.switchTo("green");
    const receivedByBlue = blue.received;

    for (let i = 0; i < 5; i++) expect(await get(`${base}/`)).toEqual({ status: 200, text: "green" });
    expect(blue.received).toBe(receivedByBlue);
    expect(events.some((event) => event.type === "drained")).toBe(false);

    releaseSlow();
    expect(await slow).toEqual({ status: 200, text: "blue-slow" });
    await waitFor(() => events.some((event) => event.type === "drained"));
    expect(events.find((event) => event.type === "drained")).toEqual({ type: "drained", slot: "blue", remaining: 0, timedOut: false });
  });

  it("cuts a request that outlives drainTimeout with 504 and counts it in the drained event", async () => {
    const clock = new ManualClock();
    const { router, base, events } = await startRouter({ clock, config: { drainTimeout: 2_000, upstreamTimeout: 60_000 } });
    await fill(router, "blue", () => undefined); // never answers
    await fill(router, "green");
    await router.switchTo("blue");

    const stuck = get(`${base}/`);
    await waitFor(() => router.traffic.snapshot("blue").inFlight === 1);
    await router.switchTo("green");
    await waitFor(() => clock.pendingSleeps === 1);
    await clock.advance(1_999);
    expect(events.some((event) => event.type === "drained")).toBe(false);
    await clock.advance(1);

    const answer = await stuck;
    expect(answer.status).toBe(504);
    expect(answer.text).toContain("drain timeout");
    await waitFor(() => events.some((event) => event.type === "drained"));
    expect(events.find((event) => event.type === "drained")).toEqual({ type: "drained", slot: "blue", remaining: 1, timedOut: true });
    expect(router.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1, inFlight: 0 });
  });

  it("does not cut a slot that went live again before its drain deadline", async () => {
    const clock = new ManualClock();
    let release: () => void = () => undefined;
    const { router, base, events } = await startRouter({ clock, config: { drainTimeout: 1_000 } });
    await fill(router, "blue", (_req, res) => {
      release = () => res.end("blue");
    });
    await fill(router, "green");
    await router.switchTo("blue");

    const pending = get(`${base}/`);
    await waitFor(() => router.traffic.snapshot("blue").inFlight === 1);
    await router.switchTo("green");
    await router.switchTo("blue");
    await clock.advance(5_000);
    release();
    expect(await pending).toEqual({ status: 200, text: "blue" });
    expect(events.filter((event) => event.type === "drained" && event.slot === "blue")).toEqual([]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
