// The dns router against a real BIND (named, started per test on a free loopback port): the shared
// router contract, what the real `dig` answers after a switch, the TTL wait, and the refusals —
// unsigned, wrong secret, unknown key — each of which leaves the record as it was.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError, TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger, type Logger } from "../../logging.js";
import { pickFreePort } from "../../platforms/process/ports.js";
import { routerContract, type RouterFixture } from "../router.contract.js";
import type { Router, RouterEvent } from "../router.js";
import { dnsRouterSchema } from "./config.js";
import { DnsRouter, SWITCH_STATE_KEY, type PendingSwitch } from "./dns-router.js";
import { KEY_NAME, KEY_SECRET, RECORD, startBind, ZONE, type BindServer } from "./testing/bind-server.js";

const BLUE = "192.0.2.10";
const GREEN = ["198.51.100.20", "198.51.100.21"];

function routerConfig(server: string, overrides: Record<string, unknown> = {}) {
  return dnsRouterSchema.parse({
    kind: "dns",
    server,
    zone: ZONE,
    recordName: RECORD,
    slots: { blue: { value: BLUE }, green: { value: GREEN } },
    ttl: "30s",
    tsig: { name: KEY_NAME, secret: KEY_SECRET },
    ...overrides,
  });
}

function dnsFixture(): RouterFixture {
  let bind: BindServer | undefined;
  const state = new MemoryDriverState();
  const routers: Router[] = [];
  const make = () => {
    const router = new DnsRouter(routerConfig((bind as BindServer).address), { app: "shop", logger: silentLogger, clock: new InstantClock(), state });
    routers.push(router);
    return router;
  };
  return {
    supportsEmptySlots: false,
    async create() {
      bind = await startBind();
      return make();
    },
    // Both slots' answers are in the config: there is nothing to fill.
    fillSlot: () => Promise.resolve(),
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    async cleanup() {
      for (const router of routers) await router.close();
      await bind?.stop();
    },
  };
}

routerContract("dns (BIND)", dnsFixture);

describe("DnsRouter against BIND", () => {
  let bind: BindServer | undefined;
  let state: MemoryDriverState;
  let clock: InstantClock;
  let events: RouterEvent[];
  let logLines: { msg: string }[];

  afterEach(async () => {
    await bind?.stop();
    bind = undefined;
  });

  function capturingLogger(): Logger {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString()) as { msg: string });
        done();
      },
    });
    return pino({ level: "info" }, sink);
  }

  async function setUp(records: string[] = [`shop 60 IN A ${BLUE}`], updateRule?: string): Promise<BindServer> {
    bind = await startBind({ records, ...(updateRule ? { updateRule } : {}) });
    state = new MemoryDriverState();
    clock = new InstantClock();
    events = [];
    logLines = [];
    return bind;
  }

  function router(overrides: Record<string, unknown> = {}): DnsRouter {
    const server = (bind as BindServer).address;
    return new DnsRouter(routerConfig(server, overrides), { app: "shop", logger: capturingLogger(), clock, state, onEvent: (event) => events.push(event) });
  }

  it("switches the record with one signed UPDATE: dig then answers green's values, and verify waits out the old TTL", async () => {
    const server = await setUp();
    const dns = router();
    expect(await dns.live()).toBe("blue");

    await dns.switchTo("green");
    expect(server.dig(RECORD).sort()).toEqual(GREEN);
    expect(await dns.live()).toBe("green");
    expect(events).toMatchObject([{ type: "switched", from: "blue", to: "green" }]);
    // The old record said 60s, longer than the new 30s: resolvers may hold it that long.
    expect(state.get<PendingSwitch>(SWITCH_STATE_KEY)).toMatchObject({ slot: "green", from: "blue", resolverWaitMs: 60_000 });

    await dns.verify("green", 5_000);
    expect(clock.sleeps).toEqual([60_000]);
    expect(logLines.map((line) => line.msg)).toContain("waiting 60s for resolvers to drop the old answer (TTL)");
    // Waited once: a second verify (a restarted controller's, say) has nothing left to wait for.
    await dns.verify("green", 5_000);
    expect(clock.sleeps).toEqual([60_000]);

    await dns.switchTo("blue");
    expect(server.dig(RECORD)).toEqual([BLUE]);
    expect(server.dig(RECORD, "A")).toHaveLength(1);
  });

  it("makes no update when the record already answers for the slot, in any order", async () => {
    const server = await setUp([`shop 60 IN A ${GREEN[1]}`, `shop 60 IN A ${GREEN[0]}`]);
    const dns = router();
    await dns.switchTo("green");
    expect(events).toEqual([]);
    expect(await dns.planSwitch("green")).toEqual([`record ${RECORD} A already answers for green: no change`]);
    expect(server.log()).not.toMatch(/updating zone/);
  });

  it("plans the exact UPDATE without sending it, and never shows the secret", async () => {
    const server = await setUp();
    const plan = await router().planSwitch("green");
    expect(plan).toEqual([
      `dns: UPDATE zone ${ZONE} at ${server.address}: delete record ${RECORD} A, add ${GREEN.join(", ")} with TTL 30s (signed with TSIG key ${KEY_NAME}, hmac-sha256) (now: ${BLUE} (TTL 60s))`,
      `then ask ${server.address} every 1.0s until it answers green's value, and wait at least 30s for resolvers to drop the old answer (TTL)`,
    ]);
    expect(plan.join("\n")).not.toContain(KEY_SECRET);
    expect(server.dig(RECORD)).toEqual([BLUE]);
  });

  it("switches a CNAME, and an AAAA record written in another spelling", async () => {
    const server = await setUp(["www 60 IN CNAME shop-blue.example.net.", "v6 60 IN AAAA 2001:db8::10"]);
    const cname = router({ recordName: `www.${ZONE}`, recordType: "CNAME", slots: { blue: { value: "shop-blue.example.net" }, green: { value: "Shop-Green.example.net." } } });
    expect(await cname.live()).toBe("blue");
    await cname.switchTo("green");
    // Written as flip.yaml spells it (names are case-insensitive), read back whatever the spelling.
    expect(server.dig(`www.${ZONE}`, "CNAME")).toEqual(["Shop-Green.example.net."]);
    expect(await cname.live()).toBe("green");

    const aaaa = router({ recordName: `v6.${ZONE}`, recordType: "AAAA", slots: { blue: { value: "2001:DB8:0:0::10" }, green: { value: "2001:db8::20" } } });
    expect(await aaaa.live()).toBe("blue");
    await aaaa.switchTo("green");
    expect(server.dig(`v6.${ZONE}`, "AAAA")).toEqual(["2001:db8::20"]);
  });

  it("reads an answer too big for UDP over TCP, and writes one", async () => {
    // 90 addresses: over 1232 bytes (what Flip asks for over UDP), under BIND's 100 records per set.
    const many = Array.from({ length: 90 }, (_, index) => `10.0.0.${index + 1}`);
    const server = await setUp(many.map((address) => `big 60 IN A ${address}`));
    const big = router({ recordName: `big.${ZONE}`, slots: { blue: { value: many }, green: { value: [...many.slice(1), "10.9.9.9"] } } });
    expect(await big.live()).toBe("blue");
    await big.switchTo("green");
    expect(server.dig(`big.${ZONE}`)).toContain("10.9.9.9");
    expect(await big.live()).toBe("green");
  });

  it("works with the README's update-policy, which lets the key change that one record only", async () => {
    const server = await setUp([`shop 60 IN A ${BLUE}`, `www 60 IN A ${BLUE}`], `update-policy { grant ${KEY_NAME} name ${RECORD}. A; };`);
    await router().switchTo("green");
    expect(server.dig(RECORD).sort()).toEqual(GREEN);
    const other = router({ recordName: `www.${ZONE}` });
    await expect(other.switchTo("green")).rejects.toThrow(/refused the update of record www\.example\.test A .*\(REFUSED\)/);
    expect(server.dig(`www.${ZONE}`)).toEqual([BLUE]);
  });

  describe("refused updates change nothing and say what to check", () => {
    const cases = [
      { name: "unsigned", overrides: { tsig: undefined }, rcode: "REFUSED" },
      { name: "signed with the wrong secret", overrides: { tsig: { name: KEY_NAME, secret: Buffer.from("not the secret").toString("base64") } }, rcode: "NOTAUTH, TSIG BADSIG" },
      { name: "signed with a key BIND does not know", overrides: { tsig: { name: "other-key", secret: KEY_SECRET } }, rcode: "NOTAUTH, TSIG BADKEY" },
    ];
    for (const { name, overrides, rcode } of cases) {
      it(`${name}: ${rcode}`, async () => {
        const server = await setUp();
        const dns = router(overrides);
        const error = await dns.switchTo("green").catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(RouterError);
        expect((error as RouterError).message).toBe(
          `The DNS server refused the update: check the TSIG key name/secret and allow-update. ${server.address} refused the update of record ${RECORD} A to green's ${GREEN.join(", ")} (${rcode}).`,
        );
        expect((error as RouterError).hint).toMatch(/allow-update \{ key "/);
        expect(server.dig(RECORD)).toEqual([BLUE]);
        expect(await dns.live()).toBe("blue");
        expect(state.get(SWITCH_STATE_KEY)).toBeUndefined();
        expect(events).toEqual([]);
      });
    }
  });

  it("times out verify() when the server keeps another answer, naming both", async () => {
    await setUp();
    const error = await router().verify("green", 3_000).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe(`After 3.0s, ${bind?.address} still answers ${BLUE} (TTL 60s) for record ${RECORD} A, not green's ${GREEN.join(", ")}.`);
    expect(clock.sleeps).toEqual([1_000, 1_000, 1_000]);
  });

  it("says where it looked when no server answers, and changes nothing", async () => {
    await setUp();
    const closed = `127.0.0.1:${await pickFreePort()}`;
    const dns = new DnsRouter(routerConfig(closed, { timeout: "1s" }), { app: "shop", logger: silentLogger, clock, state });
    const error = await dns.switchTo("green").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toMatch(new RegExp(`^Cannot reach the DNS server ${closed} \\(UDP\\) for a query for record ${RECORD} A: `));
    expect((error as RouterError).hint).toMatch(/Is the server running/);
    expect(bind?.dig(RECORD)).toEqual([BLUE]);
  });
});
