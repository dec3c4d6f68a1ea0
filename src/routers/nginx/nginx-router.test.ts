// The nginx router against a real nginx (Debian's package), started by each test in its own folder
// on a loopback port and stopped by PID afterwards: the shared router contract, the file it writes,
// nginx -t refusing a user's template, nginx not running, and failures per reload under load.
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock, type Clock } from "../../core/clock.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { isSlot, type Endpoint, type Slot } from "../../core/slots.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { runSwitchLoad } from "../../proxy/testing/switch-load.js";
import { closeAll, startUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { nginxRouterSchema } from "./config.js";
import { NginxRouter } from "./nginx-router.js";
import { startNginx, type NginxServer } from "./testing/nginx-server.js";

const UPSTREAM = "flip_test";
/** What nginx.conf includes before Flip writes anything: a server nobody listens on (nginx answers 502). */
const PLACEHOLDER = `upstream ${UPSTREAM} { server 127.0.0.1:1; }\n`;

/** An app replica that names its slot in a header and in its body, like an app given FLIP_SLOT. */
function slotUpstream(slot: Slot): Promise<TestUpstream> {
  return startUpstream((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-flip-slot": slot });
    res.end(slot);
  });
}

function routerFor(server: NginxServer, extra: Record<string, unknown> = {}, options: { clock?: Clock; onEvent?: (event: RouterEvent) => void } = {}): NginxRouter {
  const config = nginxRouterSchema.parse({
    kind: "nginx",
    file: server.upstreamFile,
    upstream: UPSTREAM,
    testCommand: server.testCommand,
    reloadCommand: server.reloadCommand,
    probeUrl: server.url,
    pollInterval: "20ms",
    ...extra,
  });
  const context = { app: "shop", logger: silentLogger, clock: options.clock ?? systemClock, state: new MemoryDriverState(), ...(options.onEvent ? { onEvent: options.onEvent } : {}) };
  return new NginxRouter(config, context, { configDir: server.dir });
}

/** One GET through nginx on a new connection: the status and the slot header. */
function get(url: string): Promise<{ status: number; slot: string | undefined; upstream: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: "close" } }, (res) => {
      res.resume();
      const slot = res.headers["x-flip-slot"];
      const upstream = res.headers["x-flip-upstream"];
      resolve({ status: res.statusCode ?? 0, slot: typeof slot === "string" ? slot : undefined, upstream: typeof upstream === "string" ? upstream : undefined });
    });
    req.on("error", reject);
    req.end();
  });
}

/** How many times nginx has reloaded (its error log says so at level notice). */
function reloads(server: NginxServer): number {
  return server.errorLog().split("\n").filter((line) => /#\d+: reconfiguring$/.test(line)).length;
}

/** The reloads once a reload that was (wrongly) asked for would have shown: for "did not reload" checks. */
async function settledReloads(server: NginxServer): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return reloads(server);
}

/** Until nginx's master has logged `count` reloads: the reload command returns before it reconfigures. */
async function reloadsReach(server: NginxServer, count: number): Promise<number> {
  const deadline = Date.now() + 5_000;
  while (reloads(server) < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return reloads(server);
}

function nginxFixture(): RouterFixture {
  let server: NginxServer | undefined;
  const upstreams: TestUpstream[] = [];
  const routers: Router[] = [];
  const targets: Partial<Record<Slot, Endpoint[]>> = {};
  const make = () => {
    const router = routerFor(server as NginxServer);
    routers.push(router);
    return router;
  };
  return {
    async create() {
      server = await startNginx({ initialUpstream: PLACEHOLDER, upstream: UPSTREAM });
      return make();
    },
    async fillSlot(router, slot) {
      const upstream = await slotUpstream(slot);
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
    async request() {
      const answer = await get((server as NginxServer).url);
      if (!isSlot(answer.slot)) throw new Error(`nginx answered ${answer.status} without a slot`);
      return answer.slot;
    },
    async cleanup() {
      await closeAll(routers);
      await server?.stop();
      await closeAll(upstreams);
    },
  };
}

routerContract("nginx", nginxFixture);

describe("NginxRouter against a real nginx", () => {
  let server: NginxServer | undefined;
  const upstreams: TestUpstream[] = [];

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await closeAll(upstreams);
  });

  async function setUp(extra: Record<string, unknown> = {}, options: { clock?: Clock; onEvent?: (event: RouterEvent) => void } = {}) {
    server = await startNginx({ initialUpstream: PLACEHOLDER, upstream: UPSTREAM });
    const router = routerFor(server, extra, options);
    const endpoints = {} as Record<Slot, Endpoint>;
    for (const slot of ["blue", "green"] as const) {
      const upstream = await slotUpstream(slot);
      upstreams.push(upstream);
      endpoints[slot] = upstream.endpoint(slot);
      await router.setTargets(slot, [endpoints[slot]]);
    }
    await router.start();
    return { router, nginx: server, endpoints };
  }

  it("writes the slot's servers below a marker, tests, reloads once, and does not reload when nothing changed", async () => {
    const events: RouterEvent[] = [];
    const { router, nginx, endpoints } = await setUp({}, { onEvent: (event) => events.push(event) });
    await router.switchTo("blue");
    expect(readFileSync(nginx.upstreamFile, "utf8")).toBe(
      [
        `# Written by Flip for the app "shop": every switch replaces this file, so change router.template in flip.yaml instead.`,
        "# flip-live-slot: blue",
        `upstream ${UPSTREAM} {`,
        `server 127.0.0.1:${endpoints.blue.port};`,
        "}",
        "",
      ].join("\n"),
    );
    expect(reloads(nginx)).toBe(1);
    expect(events).toMatchObject([{ type: "switched", from: undefined, to: "blue" }]);

    await router.switchTo("blue");
    await router.setTargets("blue", [endpoints.blue]);
    expect(await settledReloads(nginx)).toBe(1);
    expect(events).toHaveLength(1);
  });

  it("follows the live slot's replicas when they change, and leaves the idle slot's out of the file", async () => {
    const { router, nginx, endpoints } = await setUp();
    await router.switchTo("green");
    const moved = await slotUpstream("green");
    upstreams.push(moved);
    await router.setTargets("blue", []);
    expect(await settledReloads(nginx)).toBe(1);
    await router.setTargets("green", [endpoints.green, moved.endpoint("green", 1)]);
    expect(readFileSync(nginx.upstreamFile, "utf8")).toContain(`server 127.0.0.1:${endpoints.green.port};\nserver 127.0.0.1:${moved.port};`);
    expect(await reloadsReach(nginx, 2)).toBe(2);
    await expect(router.switchTo("blue")).rejects.toBeInstanceOf(EmptySlotError);
  });

  it("keeps the previous file when nginx -t refuses the template, with nginx's own message, and traffic stays", async () => {
    const { router, nginx } = await setUp({ template: "upstream {upstream} {\n  {servers}\n  keepalive_bogus 4;\n}\n" });
    const before = readFileSync(nginx.upstreamFile, "utf8");
    const error = await router.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    const message = (error as RouterError).message;
    expect(message).toMatch(/^`.+ -t` exited with code 1 with blue's upstream file in place, so Flip put the previous file back and did not reload \(traffic is as before\):/);
    expect(message).toContain(`nginx: [emerg] unknown directive "keepalive_bogus" in ${nginx.upstreamFile}:5`);
    expect(readFileSync(nginx.upstreamFile, "utf8")).toBe(before);
    expect(await settledReloads(nginx)).toBe(0);
    expect((await get(nginx.url)).status).toBe(502); // the placeholder, as before
    expect(await router.live()).toBeUndefined();
  });

  it("says so when nginx is not running: live() cannot probe, and a switch puts the previous file back", async () => {
    const { router, nginx } = await setUp();
    await router.switchTo("blue");
    const before = readFileSync(nginx.upstreamFile, "utf8");
    await nginx.kill();
    await expect(router.live()).rejects.toThrow(`nginx does not answer at ${nginx.url} (router.probeUrl): connection refused.`);
    const error = await router.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toMatch(/-s reload` exited with code 1, so Flip put the previous file back \(nginx runs the configuration it had\):\n {2}nginx: \[error\] .*nginx\.pid/);
    expect(readFileSync(nginx.upstreamFile, "utf8")).toBe(before);
  });

  it("puts the previous file back when nginx never answers from the new slot after the reload", async () => {
    const { router, nginx, endpoints } = await setUp();
    await router.switchTo("blue");
    const before = readFileSync(nginx.upstreamFile, "utf8");
    // A reload command that reloads nothing (a wrong one, or an nginx that refused the file at reload time).
    const stuck = routerFor(nginx, { reloadCommand: "true", reloadTimeout: "300ms" });
    for (const slot of ["blue", "green"] as const) await stuck.setTargets(slot, [endpoints[slot]]);
    const error = await stuck.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(
      `nginx was told to reload with ${nginx.upstreamFile} pointing at green, but ${nginx.url} still answered from blue after 300ms; Flip put the previous file back and reloaded again.`,
    );
    expect(readFileSync(nginx.upstreamFile, "utf8")).toBe(before);
    expect(await stuck.live()).toBe("blue");
  });

  it("tells slots apart by $upstream_addr when the app sets no header of its own", async () => {
    const { router, nginx } = await setUp({ slotHeader: "X-Flip-Upstream" });
    await router.switchTo("green");
    expect(await router.live()).toBe("green");
    await router.verify("green", 5_000);
    await router.switchTo("blue");
    await router.verify("blue", 5_000);
    expect((await get(nginx.url)).slot).toBe("blue");
  });

  it("trusts the file without probeUrl, and says verify does not observe nginx then", async () => {
    const { router, nginx } = await setUp({ probeUrl: undefined });
    expect(router.capabilities.verify).toBe(false);
    await router.switchTo("green");
    expect(await router.live()).toBe("green");
    await router.verify("green", 1_000);
    await expect(router.verify("blue", 1_000)).rejects.toThrow(`${nginx.upstreamFile} points at green, not blue.`);
  });

  it("uses the servers fixed in flip.yaml, whatever the platform reports", async () => {
    server = await startNginx({ initialUpstream: PLACEHOLDER, upstream: UPSTREAM });
    const [blue, green] = [await slotUpstream("blue"), await slotUpstream("green")];
    upstreams.push(blue, green);
    const router = routerFor(server, { slots: { blue: [`127.0.0.1:${blue.port}`], green: [`127.0.0.1:${green.port} max_fails=2`] } });
    await router.setTargets("green", []);
    await router.switchTo("green");
    expect(readFileSync(server.upstreamFile, "utf8")).toContain(`server 127.0.0.1:${green.port} max_fails=2;`);
    await router.verify("green", 5_000);
  });

  it("times out in verify while nginx still answers from the other slot (a reload that never came)", async () => {
    const { router, nginx } = await setUp();
    await router.switchTo("green");
    // Someone points the file at blue without reloading nginx.
    writeFileSync(nginx.upstreamFile, readFileSync(nginx.upstreamFile, "utf8").replace("flip-live-slot: green", "flip-live-slot: blue"));
    const error = await router.verify("blue", 300).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe(`nginx did not converge on blue within 300ms: ${nginx.url} last answered from green.`);
    // live() believes nginx over the file, and a switch to blue reloads although the file is right.
    expect(await router.live()).toBe("green");
    await router.switchTo("blue");
    expect(reloads(nginx)).toBe(2);
    await router.verify("blue", 5_000);
  });

  it("plans the exact change without making it", async () => {
    const { router, nginx, endpoints } = await setUp();
    expect(await router.planSwitch("blue")).toEqual([
      `write ${nginx.upstreamFile} (a temporary file in the same folder, then rename): upstream ${UPSTREAM} { server 127.0.0.1:${endpoints.blue.port}; } (now: not written by Flip)`,
      `check: ${nginx.testCommand} — if it fails, the previous file is put back and nothing is reloaded`,
      `apply: ${nginx.reloadCommand} (graceful: new workers take new connections, old ones finish theirs)`,
      `then GET ${nginx.url} every 20ms until x-flip-slot names blue 3 times in a row, and 250ms after it first did (old workers accept for 100 ms after a reload)`,
    ]);
    expect(readFileSync(nginx.upstreamFile, "utf8")).toBe(PLACEHOLDER);
    await router.switchTo("blue");
    expect(await router.planSwitch("blue")).toEqual([`${nginx.upstreamFile} already points at blue: no change, no reload`]);
  });

  it("under load, each reload is measured: verify() returns only once new requests reach the new slot", async () => {
    const { router, nginx } = await setUp();
    await router.switchTo("blue");
    await router.verify("blue", 5_000);
    const report = await runSwitchLoad({
      url: nginx.url,
      clients: 8,
      switches: 4,
      switchEveryMs: 100,
      firstSlot: "blue",
      // "Applied" once verify() has resolved: from then on, no request may reach the old slot.
      switchTo: async (slot) => {
        await router.switchTo(slot);
        await router.verify(slot, 10_000);
      },
    });
    expect(report.switches.map((record) => record.slot)).toEqual(["blue", "green", "blue", "green", "blue"]);
    expect(reloads(nginx)).toBe(5);
    expect(report.wrongSlot).toEqual([]);
    expect(report.requests.length).toBeGreaterThan(100);
    // Not asserted to be 0: a graceful reload closes idle keep-alive connections (see the README).
    console.log(`nginx under load: ${report.requests.length} requests, ${report.failures.length} failed over 4 reloads (${(report.failures.length / 4).toFixed(1)} per reload)${report.failures.length ? `, e.g. ${report.failures[0]}` : ""}`);
  });
});
