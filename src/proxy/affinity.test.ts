import type { IncomingMessage } from "node:http";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import { silentLogger } from "../logging.js";
import { mayStayOn, slotFromCookie, type SessionOptions } from "./affinity.js";
import { ProxyServer, type ProxyOptions } from "./server.js";
import { closeAll, startTextUpstream, startUpstream } from "./testing/upstream-server.js";
import { startWebSocketUpstream, TestWebSocketClient } from "./testing/websocket-upstream.js";

const MINUTE = 60_000;
const COOKIE: SessionOptions = { affinity: "cookie", drainMs: 15 * MINUTE, cookieName: "flip_slot" };

describe("slotFromCookie", () => {
  it("reads exactly blue or green from the named cookie, among others", () => {
    expect(slotFromCookie("flip_slot=blue", "flip_slot")).toBe("blue");
    expect(slotFromCookie("a=1; flip_slot=green; b=2", "flip_slot")).toBe("green");
    expect(slotFromCookie("flip_slot=green; flip_slot=green", "flip_slot")).toBe("green");
    expect(slotFromCookie("sticky=blue", "sticky")).toBe("blue");
  });

  it("ignores anything else: other names, forged values, disagreeing duplicates", () => {
    for (const header of [undefined, "", "other=blue", "flip_slot=Blue", "flip_slot=blue.sig", "flip_slot=purple", "flip_slot=", "flip_slot", "xflip_slot=blue", "flip_slot=blue; flip_slot=green"]) {
      expect(slotFromCookie(header, "flip_slot")).toBeUndefined();
    }
  });
});

describe("mayStayOn", () => {
  it("keeps a client on the slot that left live less than drain ago, and only that", () => {
    expect(mayStayOn("blue", "green", 1_000, 1_000 + 15 * MINUTE - 1, 15 * MINUTE)).toBe(true);
    expect(mayStayOn("blue", "green", 1_000, 1_000 + 15 * MINUTE, 15 * MINUTE)).toBe(false);
    expect(mayStayOn("blue", "green", undefined, 1_000, 15 * MINUTE)).toBe(false); // never live here (or before a restart)
    expect(mayStayOn("green", "green", 1_000, 1_000, 15 * MINUTE)).toBe(false); // already live: nothing to keep
  });
});

describe("version-aware sessions in the proxy", () => {
  const proxies: ProxyServer[] = [];
  const upstreams: { close(): Promise<void> }[] = [];
  const clients: TestWebSocketClient[] = [];
  let agent = new Agent();

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await closeAll(proxies);
    await closeAll(upstreams);
    await agent.destroy();
    agent = new Agent();
  });

  /** A proxy with blue live and both slots filled by upstreams answering their slot's name. */
  async function startProxy(sessions: SessionOptions | undefined, options: Partial<ProxyOptions> = {}) {
    const clock = new ManualClock();
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 1_000,
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 5_000,
      connectionsPerReplica: 8,
      sessions,
      clock,
      logger: silentLogger,
      ...options,
    });
    proxies.push(proxy);
    await proxy.start();
    for (const slot of ["blue", "green"] as const) {
      const upstream = await startTextUpstream(slot);
      upstreams.push(upstream);
      proxy.setTargets(slot, [upstream.endpoint(slot)]);
    }
    proxy.switchTo("blue");
    const base = `http://${proxy.addresses().listen}`;
    const get = async (cookie?: string, url = `${base}/`) => {
      const response = await request(url, { dispatcher: agent, headers: cookie === undefined ? {} : { cookie }, signal: AbortSignal.timeout(5_000) });
      return { text: await response.body.text(), setCookie: response.headers["set-cookie"] };
    };
    return { proxy, clock, get };
  }

  it("names the serving slot in a cookie on every answer of the live listener", async () => {
    const { get } = await startProxy(COOKIE);
    expect(await get()).toEqual({ text: "blue", setCookie: "flip_slot=blue; Path=/; HttpOnly; SameSite=Lax" });
  });

  it("keeps a client with the old slot's cookie there after a switch until sessions.drain has passed, then moves it", async () => {
    const { proxy, clock, get } = await startProxy(COOKIE);
    const cookie = "flip_slot=blue";
    proxy.switchTo("green");

    expect(await get(cookie)).toEqual({ text: "blue", setCookie: "flip_slot=blue; Path=/; HttpOnly; SameSite=Lax" });
    expect(await get()).toEqual({ text: "green", setCookie: "flip_slot=green; Path=/; HttpOnly; SameSite=Lax" }); // a new client
    expect(await get("flip_slot=green")).toMatchObject({ text: "green" });
    await clock.advance(15 * MINUTE - 1);
    expect(await get(cookie)).toMatchObject({ text: "blue" });

    await clock.advance(1);
    expect(await get(cookie)).toEqual({ text: "green", setCookie: "flip_slot=green; Path=/; HttpOnly; SameSite=Lax" });
    // Sticky requests are real traffic of the slot that served them.
    expect(proxy.traffic.snapshot("blue").requests).toBe(2);
    expect(proxy.traffic.snapshot("green").requests).toBe(3);
  });

  it("sends forged, unknown and foreign cookie values to the live slot", async () => {
    const { proxy, get } = await startProxy(COOKIE);
    proxy.switchTo("green");
    for (const cookie of ["flip_slot=blue.forged", "flip_slot=BLUE", "flip_slot=purple", "other=blue", "flip_slot=blue; flip_slot=green"]) {
      expect(await get(cookie)).toMatchObject({ text: "green" });
    }
  });

  it("moves a sticky client to the live slot when its slot has no healthy replica left", async () => {
    const { proxy, get } = await startProxy(COOKIE);
    proxy.switchTo("green");
    proxy.setTargets("blue", []);
    expect(await get("flip_slot=blue")).toEqual({ text: "green", setCookie: "flip_slot=green; Path=/; HttpOnly; SameSite=Lax" });
  });

  it("keeps the upstream's own cookies, and its other repeated headers, next to the slot cookie", async () => {
    const { proxy } = await startProxy(COOKIE);
    const withCookies = await startUpstream((_req, res) => {
      res.setHeader("set-cookie", ["sid=1; Path=/", "theme=dark"]);
      res.setHeader("link", ["</a.css>; rel=preload", "</b.js>; rel=preload"]);
      res.end("green");
    });
    upstreams.push(withCookies);
    proxy.setTargets("green", [withCookies.endpoint("green")]);
    proxy.switchTo("green");
    const response = await fetch(`http://${proxy.addresses().listen}/`, { signal: AbortSignal.timeout(5_000) });
    await response.text();
    expect(response.headers.getSetCookie()).toEqual(["sid=1; Path=/", "theme=dark", "flip_slot=green; Path=/; HttpOnly; SameSite=Lax"]);
    expect(response.headers.get("link")).toBe("</a.css>; rel=preload, </b.js>; rel=preload");
  });

  it("sets no cookie and honours none when affinity is off (the default)", async () => {
    const { proxy, get } = await startProxy(undefined);
    proxy.switchTo("green");
    expect(await get("flip_slot=blue")).toEqual({ text: "green", setCookie: undefined });
  });

  it("sets no cookie on the preview listener", async () => {
    const { proxy, get } = await startProxy(COOKIE, { preview: "127.0.0.1:0" });
    expect(await get(undefined, `http://${proxy.addresses().preview}/`)).toEqual({ text: "green", setCookie: undefined });
  });

  it("routes a sticky WebSocket like a request, names the slot in the 101, and keeps it open for the session drain", async () => {
    const { proxy, clock } = await startProxy(COOKIE, { longLivedGraceMs: 30_000 });
    for (const slot of ["blue", "green"] as const) {
      const upstream = await startWebSocketUpstream(slot);
      upstreams.push(upstream);
      proxy.setTargets(slot, [upstream.endpoint(slot)]);
    }
    proxy.switchTo("green");
    const sticky = new TestWebSocketClient(`ws://${proxy.addresses().listen}/`, { cookie: "flip_slot=blue" });
    clients.push(sticky);
    const upgraded = new Promise<IncomingMessage>((resolve) => sticky.socket.once("upgrade", resolve));
    await sticky.opened();

    expect((await upgraded).headers["set-cookie"]).toEqual(["flip_slot=blue; Path=/; HttpOnly; SameSite=Lax"]);
    expect(await sticky.ask("hi")).toBe("blue:hi");
    await clock.advance(30_000); // longLivedGrace alone would close it here
    expect(await sticky.ask("still")).toBe("blue:still");
    await clock.advance(15 * MINUTE - 30_000);
    expect(await sticky.closedWithin()).toBe(1001);
  });
});
