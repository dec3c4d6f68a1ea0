import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { BuiltinRouter } from "./builtin-router.js";
import { builtinRouterSchema } from "./config.js";
import { sessionOptions, sessionsSchema } from "./sessions-config.js";

describe("router.sessions and router.longLivedGrace", () => {
  const routers: BuiltinRouter[] = [];
  const upstreams: TestUpstream[] = [];

  afterEach(async () => {
    await closeAll(routers);
    await closeAll(upstreams);
  });

  it("defaults to no affinity, a 15 minute drain, the flip_slot cookie and a 30 s grace", () => {
    const config = builtinRouterSchema.parse({ kind: "builtin" });
    expect(config.longLivedGrace).toBe(30_000);
    expect(config.sessions).toEqual({ affinity: "none", drain: 900_000, cookie: "flip_slot" });
    expect(sessionOptions(config.sessions)).toEqual({ affinity: "none", drainMs: 900_000, cookieName: "flip_slot" });
  });

  it("refuses an unknown affinity, a cookie name that is not a token, and unknown keys", () => {
    expect(sessionsSchema.safeParse({ affinity: "ip" }).success).toBe(false);
    expect(sessionsSchema.safeParse({ cookie: "flip slot" }).success).toBe(false);
    expect(sessionsSchema.safeParse({ cookie: "a;b" }).success).toBe(false);
    expect(sessionsSchema.safeParse({ ttl: "1m" }).success).toBe(false);
    expect(sessionsSchema.parse({ affinity: "cookie", drain: "2m", cookie: "app_slot" })).toEqual({ affinity: "cookie", drain: 120_000, cookie: "app_slot" });
  });

  it("reaches the proxy from flip.yaml: the configured cookie is set on answers", async () => {
    const config = builtinRouterSchema.parse({ kind: "builtin", listen: "127.0.0.1:0", sessions: { affinity: "cookie", cookie: "app_slot" } });
    const router = new BuiltinRouter(config, { app: "test", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() });
    routers.push(router);
    await router.start();
    const blue = await startTextUpstream("blue");
    upstreams.push(blue);
    await router.setTargets("blue", [blue.endpoint("blue")]);
    await router.switchTo("blue");

    const response = await request(`http://${router.listenAddresses().listen}/`, { signal: AbortSignal.timeout(5_000) });
    expect(await response.body.text()).toBe("blue");
    expect(response.headers["set-cookie"]).toBe("app_slot=blue; Path=/; HttpOnly; SameSite=Lax");
  });
});
