// The caddy router's zero-reload mode against a real Caddy and a real BIND: Caddy's handler reads
// its upstreams from an SRV record (dynamic upstreams, refresh 100ms), and Flip switches by a
// signed UPDATE of that record. The shared router contract, what `dig` answers after a switch,
// Caddy's config left untouched, and the refusals — a handler that does not read the record, a
// wrong key, no DNS server — each of which changes nothing.
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { pickFreePort } from "../../platforms/process/ports.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { KEY_NAME, KEY_SECRET, startBind, ZONE, type BindServer } from "../dns/testing/bind-server.js";
import { routerContract } from "../router.contract.js";
import { CaddyRouter } from "./caddy-router.js";
import { caddyRouterSchema } from "./config.js";
import { caddyFixture, HANDLER, requestThrough } from "./testing/caddy-fixture.js";
import { adminGet, startCaddy, UPSTREAM_HEADER, type CaddyServer } from "./testing/caddy-server.js";

const SRV_NAME = `_http._tcp.shop.${ZONE}`;
const REFRESH = "100ms";

function routerConfig(caddy: CaddyServer, bind: BindServer, overrides: Record<string, unknown> = {}, srv: Record<string, unknown> = {}) {
  return caddyRouterSchema.parse({
    kind: "caddy",
    adminUrl: caddy.adminUrl,
    probeUrl: `${caddy.url}/`,
    slotHeader: UPSTREAM_HEADER,
    srv: { server: bind.address, zone: ZONE, name: SRV_NAME, tsig: { name: KEY_NAME, secret: KEY_SECRET }, ...srv },
    ...overrides,
  });
}

function startSrvCaddy(bind: BindServer): Promise<CaddyServer> {
  return startCaddy({ handlerId: HANDLER, srv: { name: SRV_NAME, resolver: bind.address, refresh: REFRESH } });
}

async function caddyConfigText(caddy: CaddyServer): Promise<string> {
  return adminGet(caddy.adminUrl, "/config/");
}

routerContract(
  "caddy (srv)",
  () =>
    caddyFixture(async () => {
      const bind = await startBind();
      const caddy = await startSrvCaddy(bind);
      return {
        caddy,
        config: routerConfig(caddy, bind),
        async stop() {
          await caddy.stop();
          await bind.stop();
        },
      };
    }),
);

describe("CaddyRouter with router.srv, against Caddy and BIND", () => {
  let bind: BindServer | undefined;
  let caddy: CaddyServer | undefined;
  const upstreams: TestUpstream[] = [];

  afterEach(async () => {
    await caddy?.stop();
    await bind?.stop();
    caddy = undefined;
    bind = undefined;
    await closeAll(upstreams);
  });

  async function setUp(options: { srvHandler?: boolean } = {}) {
    bind = await startBind();
    caddy = options.srvHandler === false ? await startCaddy({ handlerId: HANDLER }) : await startSrvCaddy(bind);
    const [blue, green] = [await startTextUpstream("blue"), await startTextUpstream("green")];
    upstreams.push(blue, green);
    return { bind, caddy, blue, green };
  }

  function router(overrides: Record<string, unknown> = {}, srv: Record<string, unknown> = {}, clock: typeof systemClock | InstantClock = systemClock) {
    return new CaddyRouter(routerConfig(caddy as CaddyServer, bind as BindServer, overrides, srv), { app: HANDLER, logger: silentLogger, clock, state: new MemoryDriverState() });
  }

  it("switches by updating the SRV record and its targets' addresses, and never changes Caddy's config", async () => {
    const { bind, caddy, blue, green } = await setUp();
    const caddyRouter = router();
    // A dry run before the deploy: no replicas yet, so the plan names the slot, not addresses.
    expect(await caddyRouter.planSwitch("green")).toEqual([
      `caddy: point handler "${HANDLER}" at green's replicas once the platform reports them ready, by one signed DNS UPDATE of SRV record ${SRV_NAME} (no reload) (now: no upstream); an empty slot is refused`,
    ]);
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    await caddyRouter.setTargets("green", [green.endpoint("green")]);
    const configBefore = await caddyConfigText(caddy);

    expect(await caddyRouter.planSwitch("green")).toEqual([
      `dns: UPDATE zone ${ZONE} at ${bind.address} (signed with TSIG key ${KEY_NAME}, hmac-sha256, TTL 5s): SRV ${SRV_NAME} → 0 1 ${green.port} green-0.shop.${ZONE}.; A green-0.shop.${ZONE} → 127.0.0.1; AAAA green-0.shop.${ZONE} → (deleted) (now: no upstream)`,
      `note: Caddy's handler "${HANDLER}" reads the record every 100ms: no config reload, kept-alive connections stay open`,
      `then GET ${caddy.url}/ (a new connection each time) every 100ms until ${UPSTREAM_HEADER} names green`,
    ]);
    expect(bind.dig(SRV_NAME, "SRV")).toEqual([]);

    await caddyRouter.switchTo("green");
    expect(bind.dig(SRV_NAME, "SRV")).toEqual([`0 1 ${green.port} green-0.shop.${ZONE}.`]);
    expect(bind.dig(`green-0.shop.${ZONE}`, "A")).toEqual(["127.0.0.1"]);
    await caddyRouter.verify("green", 5_000);
    expect(await requestThrough(caddy)).toBe("green");

    await caddyRouter.switchTo("blue");
    await caddyRouter.verify("blue", 5_000);
    expect(bind.dig(SRV_NAME, "SRV")).toEqual([`0 1 ${blue.port} blue-0.shop.${ZONE}.`]);
    expect(await requestThrough(caddy)).toBe("blue");
    expect(await caddyRouter.live()).toBe("blue");
    expect(await caddyConfigText(caddy)).toBe(configBefore);
  });

  it("writes a replica at a host name as the SRV target itself, and reads it back", async () => {
    const { bind } = await setUp();
    const caddyRouter = router({ probeUrl: undefined, slots: { blue: ["app-blue.internal:8080"], green: ["app-green.internal:8080", "app-green-2.internal:8080"] } });
    await caddyRouter.switchTo("green");
    expect(bind.dig(SRV_NAME, "SRV").sort()).toEqual(["0 1 8080 app-green-2.internal.", "0 1 8080 app-green.internal."]);
    expect(await caddyRouter.live()).toBe("green");
  });

  it("without a probe, verify() waits one refresh of Caddy's handler after the switch", async () => {
    const { blue } = await setUp();
    const clock = new InstantClock();
    const caddyRouter = router({ probeUrl: undefined }, {}, clock);
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    await caddyRouter.switchTo("blue");
    await caddyRouter.verify("blue", 5_000);
    expect(clock.sleeps).toEqual([100]);
    await caddyRouter.verify("blue", 5_000); // the refresh has passed: no second wait
    expect(clock.sleeps).toEqual([100]);
  });

  it("refuses to switch when Caddy's handler does not read the SRV record, and changes nothing", async () => {
    const { bind, caddy, blue } = await setUp({ srvHandler: false });
    const caddyRouter = router();
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    const error = await caddyRouter.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(
      `Caddy's reverse_proxy handler "${HANDLER}" has no dynamic_upstreams, so updating SRV record ${SRV_NAME} (router.srv.name) would not move its traffic.`,
    );
    expect((error as RouterError).hint).toContain(`"dynamic_upstreams": {"source": "srv", "name": "${SRV_NAME}"`);
    expect(bind.dig(SRV_NAME, "SRV")).toEqual([]);
    expect(await requestThrough(caddy).catch((thrown: unknown) => String(thrown))).toMatch(/^Error: Caddy answered 502/);
  });

  it("in admin API mode, says to set router.srv when the handler reads an SRV record", async () => {
    const { blue } = await setUp();
    const caddyRouter = router({ srv: undefined });
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    const error = await caddyRouter.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(`Caddy's reverse_proxy handler "${HANDLER}" takes its upstreams from dynamic_upstreams (srv), which the admin API cannot switch.`);
    expect((error as RouterError).hint).toMatch(/^For an SRV source, set router.srv in flip.yaml/);
  });

  it("fails the switch on an update signed with the wrong key, and the record stays as it was", async () => {
    const { bind, blue, green } = await setUp();
    const good = router();
    await good.setTargets("blue", [blue.endpoint("blue")]);
    await good.switchTo("blue");
    const wrongKey = router({}, { tsig: { name: KEY_NAME, secret: Buffer.from("not-the-secret-the-server-has!!!").toString("base64") } });
    await wrongKey.setTargets("green", [green.endpoint("green")]);
    const error = await wrongKey.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toMatch(/^The DNS server refused the update: check the TSIG key name\/secret and allow-update\./);
    expect((error as RouterError).hint).toMatch(/^router\.srv\.tsig in flip\.yaml must name a key the server knows/);
    expect(bind.dig(SRV_NAME, "SRV")).toEqual([`0 1 ${blue.port} blue-0.shop.${ZONE}.`]);
  });

  it("says the DNS server cannot be reached, and changes nothing", async () => {
    const { blue } = await setUp();
    const closed = `127.0.0.1:${await pickFreePort()}`;
    const caddyRouter = router({}, { server: closed, timeout: "300ms" });
    await caddyRouter.setTargets("blue", [blue.endpoint("blue")]);
    const error = await caddyRouter.switchTo("blue").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toMatch(new RegExp(`^Cannot reach the DNS server ${closed} \\(UDP\\) for a query for record ${SRV_NAME} SRV`));
    expect((error as RouterError).hint).toContain("router.srv.server in flip.yaml says where it is");
  });
});
