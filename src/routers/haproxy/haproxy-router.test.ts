// The haproxy router against a real HAProxy (Debian's package), started by each test in its own
// folder on loopback ports and stopped by PID afterwards: the shared router contract, switches and
// a rollback under continuous load with no request lost, and the failure paths.
import { readFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { isSlot, type Slot } from "../../core/slots.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { pickFreePort } from "../../platforms/process/ports.js";
import { runSwitchLoad } from "../../proxy/testing/switch-load.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { haproxyRouterSchema } from "./config.js";
import { HaproxyRouter } from "./haproxy-router.js";
import { runtimeCommand } from "./runtime-api.js";
import { startHaproxy, type HaproxyServer } from "./testing/haproxy-server.js";

/** A slot's app on the port haproxy.cfg expects it: it names its slot in a header and its body. */
async function startSlotApp(slot: Slot, port: number): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-flip-slot": slot });
    res.end(slot);
  });
  // Every socket, also one HAProxy's health check opened and has not used yet: closeApp ends them all.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  openSockets.set(server, sockets);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

const openSockets = new WeakMap<Server, Set<Socket>>();

function closeApp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  });
}

function routerFor(server: HaproxyServer, extra: Record<string, unknown> = {}, onEvent?: (event: RouterEvent) => void): HaproxyRouter {
  const config = haproxyRouterSchema.parse({ kind: "haproxy", runtimeApi: server.runtimeApi, map: server.map, pollInterval: "20ms", ...extra });
  return new HaproxyRouter(config, { app: "shop", logger: silentLogger, clock: systemClock, state: new MemoryDriverState(), ...(onEvent ? { onEvent } : {}) });
}

/** One GET through HAProxy on a new connection: the slot that answered (or the status). */
function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: "close" } }, (res) => {
      res.resume();
      const slot = res.headers["x-flip-slot"];
      resolve(typeof slot === "string" ? slot : `HTTP ${res.statusCode}`);
    });
    req.on("error", reject);
    req.end();
  });
}

function haproxyFixture(): RouterFixture {
  let server: HaproxyServer | undefined;
  const apps: Server[] = [];
  const routers: Router[] = [];
  const make = () => {
    const router = routerFor(server as HaproxyServer);
    routers.push(router);
    return router;
  };
  return {
    async create() {
      server = await startHaproxy();
      return make();
    },
    async fillSlot(_router, slot) {
      const haproxy = server as HaproxyServer;
      apps.push(await startSlotApp(slot, haproxy.slotPorts[slot]));
      await haproxy.waitForServer(slot, "UP");
    },
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    async request() {
      const answer = await get((server as HaproxyServer).url);
      if (!isSlot(answer)) throw new Error(`HAProxy answered ${answer}`);
      return answer;
    },
    async cleanup() {
      await Promise.allSettled(routers.map((router) => router.close()));
      await server?.stop();
      await Promise.allSettled(apps.map(closeApp));
    },
  };
}

routerContract("haproxy", haproxyFixture);

describe("HaproxyRouter against a real HAProxy", () => {
  let server: HaproxyServer | undefined;
  const apps: Server[] = [];

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await Promise.allSettled(apps.splice(0).map(closeApp));
  });

  async function setUp(extra: Record<string, unknown> = {}, onEvent?: (event: RouterEvent) => void) {
    server = await startHaproxy();
    for (const slot of ["blue", "green"] as const) apps.push(await startSlotApp(slot, server.slotPorts[slot]));
    await server.waitForServer("blue", "UP");
    await server.waitForServer("green", "UP");
    const router = routerFor(server, extra, onEvent);
    await router.start();
    return { router, haproxy: server };
  }

  it("switches with one runtime API command, keeps the map file in step, and reads the running map back", async () => {
    const events: RouterEvent[] = [];
    const { router, haproxy } = await setUp({}, (event) => events.push(event));
    await router.switchTo("green");
    expect(readFileSync(haproxy.map, "utf8")).toBe("# written by the test: no slot is live yet\nshop shop-green\n");
    await router.switchTo("blue");
    expect(readFileSync(haproxy.map, "utf8")).toBe("# written by the test: no slot is live yet\nshop shop-blue\n");
    const running = await runtimeCommand({ kind: "tcp", host: "127.0.0.1", port: Number(haproxy.runtimeApi.split(":")[1]) }, `show map ${haproxy.map}`, 2_000);
    expect(running).toMatch(/^0x[0-9a-f]+ shop shop-blue$/);
    expect(events.map((event) => (event.type === "switched" ? `${event.from ?? "none"}→${event.to}` : event.type))).toEqual(["none→green", "green→blue"]);
    expect(await get(haproxy.url)).toBe("blue");
  });

  it("loses no request across 10 switches under continuous load, and each new request reaches the new slot", async () => {
    const { router, haproxy } = await setUp();
    await router.switchTo("blue");
    const report = await runSwitchLoad({ url: haproxy.url, clients: 8, switches: 10, switchEveryMs: 250, firstSlot: "blue", switchTo: (slot) => router.switchTo(slot) });
    expect(report.failures).toEqual([]);
    expect(report.wrongSlot).toEqual([]);
    expect(report.switches).toHaveLength(11);
    expect(report.requests.length).toBeGreaterThan(400);
    expect(await router.live()).toBe("blue");
  });

  it("rolls back the same way: under load, to green and verified, then back to blue, nothing lost", async () => {
    const { router, haproxy } = await setUp();
    await router.switchTo("blue");
    const report = await runSwitchLoad({
      url: haproxy.url,
      clients: 8,
      switches: 2,
      switchEveryMs: 500,
      firstSlot: "blue",
      switchTo: async (slot) => {
        await router.switchTo(slot);
        await router.verify(slot, 5_000);
      },
    });
    expect(report.switches.map((record) => record.slot)).toEqual(["blue", "green", "blue"]);
    expect(report.failures).toEqual([]);
    expect(report.wrongSlot).toEqual([]);
    const rolledBackAt = (report.switches[2] as { appliedAt: number }).appliedAt;
    const afterRollback = report.requests.filter((sent) => sent.startedAt > rolledBackAt);
    expect(afterRollback.length).toBeGreaterThan(10);
    expect(new Set(afterRollback.map((sent) => sent.answer))).toEqual(new Set(["blue"]));
  });

  it("talks to the unix socket as well as to the TCP port", async () => {
    const { haproxy } = await setUp();
    const router = routerFor(haproxy, { runtimeApi: haproxy.socketPath });
    await router.switchTo("green");
    expect(await router.live()).toBe("green");
    await router.verify("green", 2_000);
  });

  it("refuses a slot whose backend has no server up, and leaves traffic where it was", async () => {
    const { router, haproxy } = await setUp();
    await router.switchTo("blue");
    await closeApp(apps[1] as Server);
    await haproxy.waitForServer("green", "DOWN");
    const error = await router.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(EmptySlotError);
    expect((error as EmptySlotError).message).toBe("Cannot send traffic to green: no server of HAProxy backend shop-green is up (green1 DOWN (Layer4 connection problem)).");
    expect(await router.live()).toBe("blue");
    expect(readFileSync(haproxy.map, "utf8")).toContain("shop shop-blue");
  });

  it("times out in verify while the live backend has no server up", async () => {
    const { router, haproxy } = await setUp();
    await router.switchTo("green");
    await closeApp(apps[1] as Server);
    await haproxy.waitForServer("green", "DOWN");
    const error = await router.verify("green", 200).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe("HAProxy sends green's traffic to backend shop-green, but none of its servers was up within 200ms: green1 DOWN (Layer4 connection problem).");
    await expect(router.verify("blue", 200)).rejects.toThrow(`HAProxy map ${haproxy.map} sends shop to shop-green, not to blue's shop-blue.`);
  });

  it("says how to fix it when HAProxy is not running, or the socket path is wrong", async () => {
    const port = await pickFreePort();
    const notRunning = new HaproxyRouter(haproxyRouterSchema.parse({ kind: "haproxy", runtimeApi: `127.0.0.1:${port}`, map: "/etc/haproxy/flip.map" }), {
      app: "shop",
      logger: silentLogger,
      clock: systemClock,
      state: new MemoryDriverState(),
    });
    const error = await notRunning.live().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(`Cannot reach the HAProxy runtime API at 127.0.0.1:${port}: connection refused — is \`stats socket ipv4@127.0.0.1:${port} level admin\` in haproxy.cfg?`);
    const badPath = new HaproxyRouter(haproxyRouterSchema.parse({ kind: "haproxy", runtimeApi: "/tmp/flip-no-such-dir/admin.sock", map: "/etc/haproxy/flip.map" }), {
      app: "shop",
      logger: silentLogger,
      clock: systemClock,
      state: new MemoryDriverState(),
    });
    await expect(badPath.switchTo("blue")).rejects.toThrow(
      "Cannot reach the HAProxy runtime API at /tmp/flip-no-such-dir/admin.sock: no such socket — is `stats socket /tmp/flip-no-such-dir/admin.sock level admin` in haproxy.cfg?",
    );
  });

  it("names the map or the backend HAProxy does not have, and changes nothing", async () => {
    const { haproxy } = await setUp();
    const wrongMap = routerFor(haproxy, { map: "/etc/haproxy/other.map" });
    await expect(wrongMap.live()).rejects.toThrow("HAProxy has no map /etc/haproxy/other.map (router.map): Unknown map identifier. Please use #<id> or <file>.");
    const wrongBackend = routerFor(haproxy, { backends: { green: "shop-gren" } });
    await expect(wrongBackend.switchTo("green")).rejects.toThrow("HAProxy has no backend shop-gren for green (No such proxy.).");
    expect(readFileSync(haproxy.map, "utf8")).toBe("# written by the test: no slot is live yet\n");
    expect(await get(haproxy.url)).toBe("HTTP 503");
  });

  it("plans the exact change without making it", async () => {
    const { router, haproxy } = await setUp();
    expect(await router.planSwitch("green")).toEqual([
      `write ${haproxy.map} (a temporary file in the same folder, then rename) with "shop shop-green", so a reload of HAProxy keeps green`,
      `add map ${haproxy.map} shop shop-green on the runtime API at ${haproxy.runtimeApi} (now: no entry) — no reload; the next request goes to shop-green`,
      "needs a server of backend shop-green up (now: green1 UP)",
    ]);
    expect(await router.live()).toBeUndefined();
    await router.switchTo("green");
    expect(await router.planSwitch("green")).toEqual([`HAProxy map ${haproxy.map} already sends shop to shop-green: no change`]);
  });
});
