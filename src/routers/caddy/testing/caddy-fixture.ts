// The router contract's fixture for a real Caddy, one way of switching or the other: `start` brings
// up Caddy (and a DNS server, for router.srv) and says how the router is configured against it.
import { request } from "undici";
import { systemClock } from "../../../core/clock.js";
import type { Slot } from "../../../core/slots.js";
import { MemoryDriverState } from "../../../core/state.js";
import { silentLogger } from "../../../logging.js";
import { closeAll, startTextUpstream, type TestUpstream } from "../../../proxy/testing/upstream-server.js";
import type { RouterFixture } from "../../router.contract.js";
import type { Router } from "../../router.js";
import { CaddyRouter } from "../caddy-router.js";
import type { CaddyRouterConfig } from "../config.js";
import type { CaddyServer } from "./caddy-server.js";

export const HANDLER = "shop";

/** One request through Caddy: the slot whose upstream answered (its body). */
export async function requestThrough(caddy: CaddyServer): Promise<Slot> {
  const response = await request(`${caddy.url}/`, { reset: true });
  const body = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`Caddy answered ${response.statusCode}: ${body}`);
  return body as Slot;
}

export interface StartedCaddy {
  caddy: CaddyServer;
  config: CaddyRouterConfig;
  /** Stops Caddy and whatever else `start` started. */
  stop(): Promise<void>;
}

export function caddyFixture(start: () => Promise<StartedCaddy>): RouterFixture {
  let started: StartedCaddy | undefined;
  const upstreams: TestUpstream[] = [];
  const routers: Router[] = [];
  const state = new MemoryDriverState();
  const make = () => {
    const router = new CaddyRouter((started as StartedCaddy).config, { app: HANDLER, logger: silentLogger, clock: systemClock, state });
    routers.push(router);
    return router;
  };
  return {
    async create() {
      started = await start();
      return make();
    },
    async fillSlot(router, slot) {
      const upstream = await startTextUpstream(slot);
      upstreams.push(upstream);
      await router.setTargets(slot, [upstream.endpoint(slot)]);
    },
    async restart(router) {
      await router.close();
      const next = make();
      await next.start();
      return next;
    },
    request: () => requestThrough((started as StartedCaddy).caddy),
    async cleanup() {
      await closeAll(routers);
      await started?.stop();
      await closeAll(upstreams);
    },
  };
}
