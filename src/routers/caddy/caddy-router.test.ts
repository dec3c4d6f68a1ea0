// The caddy router against a real Caddy (started per test, admin API and site on free loopback
// ports): the shared router contract, the admin API calls, the probe, and the failure paths —
// Caddy not running, an @id Caddy does not know, a probe header that never names the slot.
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError, TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { pickFreePort } from "../../platforms/process/ports.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { routerContract } from "../router.contract.js";
import type { RouterEvent } from "../router.js";
import { CaddyRouter, WRITTEN_STATE_KEY } from "./caddy-router.js";
import { caddyRouterSchema } from "./config.js";
import { caddyFixture, HANDLER, requestThrough } from "./testing/caddy-fixture.js";
import { adminGet, startCaddy, UPSTREAM_HEADER, type CaddyServer } from "./testing/caddy-server.js";

function routerConfig(caddy: CaddyServer, overrides: Record<string, unknown> = {}) {
  return caddyRouterSchema.parse({ kind: "caddy", adminUrl: caddy.adminUrl, probeUrl: `${caddy.url}/`, slotHeader: UPSTREAM_HEADER, ...overrides });
}

routerContract(
  "caddy",
  () =>
    caddyFixture(async () => {
      const caddy = await startCaddy({ handlerId: HANDLER });
      return { caddy, config: routerConfig(caddy), stop: () => caddy.stop() };
    }),
);

describe("CaddyRouter against Caddy", () => {
  let caddy: CaddyServer | undefined;
  const upstreams: TestUpstream[] = [];
  let state: MemoryDriverState;
  let events: RouterEvent[];

  afterEach(async () => {
    await caddy?.stop();
    caddy = undefined;
    await closeAll(upstreams);
  });

  /** Caddy, and blue's and green's upstreams (which answer their slot's name). */
  async function setUp(): Promise<{ caddy: CaddyServer; blue: TestUpstream; green: TestUpstream }> {
    caddy = await startCaddy({ handlerId: HANDLER });
    const [blue, green] = [await startTextUpstream("blue"), await startTextUpstream("green")];
    upstreams.push(blue, green);
    state = new MemoryDriverState();
    events = [];
    return { caddy, blue, green };
  }

  function router(overrides: Record<string, unknown> = {}, clock = systemClock as typeof systemClock | InstantClock): CaddyRouter {
    return new CaddyRouter(routerConfig(caddy as CaddyServer, overrides), { app: HANDLER, logger: silentLogger, clock, state, onEvent: (event) => events.push(event) });
  }

  async function adminUpstreams(server: CaddyServer): Promise<unknown> {
    return JSON.parse(await adminGet(server.adminUrl, `/id/${HANDLER}/upstreams`)) as unknown;
  }

  it("replaces the handler's upstreams through the admin API, reads them back, and plans the same call", async () => {
    const { caddy, blue, green } = await setUp();
    const caddyRouter = router();
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    await caddyRouter.setTargets("green", [green.endpoint("green")]);

    expect(await caddyRouter.planSwitch("blue")).toEqual([
      `caddy: PATCH ${caddy.adminUrl}/id/${HANDLER}/upstreams [{"dial":"127.0.0.1:${blue.port}"}] (now: 127.0.0.1:9)`,
      "note: Caddy reloads its whole config for any admin API change: connections kept alive by clients are closed, and a request sent on one at that moment fails unless the client retries it (router.srv switches without a reload)",
      `then GET ${caddy.url}/ (a new connection each time) every 100ms until ${UPSTREAM_HEADER} names blue`,
    ]);
    expect(await adminUpstreams(caddy)).toEqual([{ dial: "127.0.0.1:9" }]);

    await caddyRouter.switchTo("blue");
    expect(await adminUpstreams(caddy)).toEqual([{ dial: `127.0.0.1:${blue.port}` }]);
    expect(events).toMatchObject([{ type: "switched", from: undefined, to: "blue" }]);
    expect(await caddyRouter.planSwitch("blue")).toEqual([`Caddy's handler "${HANDLER}" already sends to blue (127.0.0.1:${blue.port}): no change`]);

    await caddyRouter.switchTo("green");
    await caddyRouter.verify("green", 5_000);
    expect(await requestThrough(caddy)).toBe("green");
    expect(events.map((event) => event.type === "switched" && `${event.from}→${event.to}`)).toEqual(["undefined→blue", "blue→green"]);
  });

  it("follows the live slot's replicas when they move, and leaves the idle slot's to the next switch", async () => {
    const { caddy, blue, green } = await setUp();
    const caddyRouter = router();
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    await caddyRouter.switchTo("blue");
    const moved = await startTextUpstream("blue");
    upstreams.push(moved);

    await caddyRouter.setTargets("blue", [moved.endpoint("blue")]);
    expect(await adminUpstreams(caddy)).toEqual([{ dial: `127.0.0.1:${moved.port}` }]);
    expect(await caddyRouter.live()).toBe("blue");
    // Emptying the live slot would leave Caddy nothing to send to: it keeps what it has.
    await caddyRouter.setTargets("blue", []);
    expect(await adminUpstreams(caddy)).toEqual([{ dial: `127.0.0.1:${moved.port}` }]);
    expect(await caddyRouter.live()).toBe("blue");
    await caddyRouter.setTargets("green", [green.endpoint("green")]);
    expect(await adminUpstreams(caddy)).toEqual([{ dial: `127.0.0.1:${moved.port}` }]);
    expect(state.get(WRITTEN_STATE_KEY)).toEqual({ slot: "blue", dials: [`127.0.0.1:${moved.port}`] });
  });

  it("uses the dial addresses fixed in flip.yaml when `slots` is set", async () => {
    const { caddy, blue, green } = await setUp();
    const caddyRouter = router({ slots: { blue: [`127.0.0.1:${blue.port}`], green: [`tcp/127.0.0.1:${green.port}`] } });
    await caddyRouter.switchTo("green");
    await caddyRouter.verify("green", 5_000);
    expect(await requestThrough(caddy)).toBe("green");
    expect(await caddyRouter.live()).toBe("green");
  });

  it("says Caddy is not running when its admin API does not answer, and changes nothing", async () => {
    await setUp();
    const closedPort = await pickFreePort();
    const caddyRouter = router({ adminUrl: `http://127.0.0.1:${closedPort}` });
    await caddyRouter.setTargets("blue", [(upstreams[0] as TestUpstream).endpoint("blue")]);
    const error = await caddyRouter.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(`Cannot reach Caddy's admin API at http://127.0.0.1:${closedPort} (router.adminUrl): connection refused.`);
    expect((error as RouterError).hint).toMatch(/^Is Caddy running\?/);
    await expect(caddyRouter.live()).rejects.toBeInstanceOf(RouterError);
    expect(events).toEqual([]);
  });

  it("passes on Caddy's own message for an @id it does not know, with what to do", async () => {
    const { caddy, blue } = await setUp();
    const caddyRouter = router({ handlerId: "nope" });
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    const error = await caddyRouter.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(`Caddy has no config object with "@id": "nope" (Caddy said: unknown object ID 'nope').`);
    expect((error as RouterError).hint).toMatch(/^Add "@id": "nope" to the reverse_proxy handler in Caddy's JSON config/);
    expect(await adminUpstreams(caddy)).toEqual([{ dial: "127.0.0.1:9" }]);
  });

  it("gives verify() up when the probe never names the slot, saying what it heard", async () => {
    const { caddy, blue } = await setUp();
    const clock = new InstantClock();
    const caddyRouter = router({ slotHeader: "x-not-set" }, clock);
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    await caddyRouter.switchTo("blue");
    const error = await caddyRouter.verify("blue", 300).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe(`Caddy did not answer from blue within 300ms: ${caddy.url}/ last answered 200 without a x-not-set header.`);
    expect((error as TimeoutError).hint).toContain('"headers": {"response": {"set": {"x-not-set": ["{http.reverse_proxy.upstream.hostport}"]}}}');
    expect(clock.sleeps).toEqual([100, 100, 100]);
  });
});
