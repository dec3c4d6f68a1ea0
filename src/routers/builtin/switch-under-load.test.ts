// The one thing Flip exists for: moving all traffic from one slot to the other without a single
// failed request. Modest load (16 keep-alive clients on a shared two-core machine); the full-load
// version is `npm run bench:switch`.
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { runSwitchLoad } from "../../proxy/testing/switch-load.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../../proxy/testing/upstream-server.js";
import { BuiltinRouter } from "./builtin-router.js";
import { builtinRouterSchema } from "./config.js";

describe("BuiltinRouter switching under load", () => {
  const routers: BuiltinRouter[] = [];
  const upstreams: TestUpstream[] = [];

  afterEach(async () => {
    await closeAll(routers);
    await closeAll(upstreams);
  });

  it("fails no request across 20 switches, and every request started after a switch returned reaches the new slot", async () => {
    const config = builtinRouterSchema.parse({ kind: "builtin", listen: "127.0.0.1:0", drainTimeout: "5s" });
    const router = new BuiltinRouter(config, { app: "test", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() });
    routers.push(router);
    await router.start();
    for (const slot of ["blue", "green"] as const) {
      const upstream = await startTextUpstream(slot);
      upstreams.push(upstream);
      await router.setTargets(slot, [upstream.endpoint(slot)]);
    }
    await router.switchTo("blue");

    const report = await runSwitchLoad({
      url: `http://${router.listenAddresses().listen}/`,
      clients: 16,
      switches: 20,
      switchEveryMs: 150,
      firstSlot: "blue",
      switchTo: (slot) => router.switchTo(slot),
    });

    expect(report.failures).toEqual([]);
    expect(report.wrongSlot).toEqual([]);
    expect(report.switches).toHaveLength(21);
    // Enough requests around each switch for the check to mean something, even on a busy machine.
    expect(report.requests.length).toBeGreaterThan(400);
    const counted = router.traffic.snapshot("blue").requests + router.traffic.snapshot("green").requests;
    expect(counted).toBe(report.requests.length);
  });
});
