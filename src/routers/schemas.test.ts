// ownTraffic() is what `flip validate` believes a router can count; createMetricsSource() is what
// the running controller gets. The two must agree for every router that counts anything.
import { describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.js";
import { MemoryDriverState } from "../core/state.js";
import { parseConfigText } from "../config/load.js";
import { silentLogger } from "../logging.js";
import { createMetricsSource } from "../metrics/registry.js";
import { createRouter } from "./registry.js";
import { ownTraffic } from "./schemas.js";

const PLATFORM = 'platform: { kind: static, slots: { blue: { url: "http://127.0.0.1:9" }, green: { url: "http://127.0.0.1:10" } } }';

const ROUTERS: Record<string, string> = {
  builtin: '{ kind: builtin, listen: "127.0.0.1:0" }',
  haproxy: '{ kind: haproxy, runtimeApi: "127.0.0.1:9999", map: /etc/haproxy/flip.map }',
  "nginx without accessLog": "{ kind: nginx, file: shop.conf }",
  "nginx with accessLog": "{ kind: nginx, file: shop.conf, accessLog: access.log }",
  "caddy without accessLog": "{ kind: caddy }",
  "caddy with accessLog": "{ kind: caddy, accessLog: access.log }",
  dns: '{ kind: dns, server: "127.0.0.1:53", zone: example.com, recordName: shop.example.com, slots: { blue: { value: "192.0.2.1" }, green: { value: "192.0.2.2" } } }',
};

describe("ownTraffic", () => {
  for (const [name, router] of Object.entries(ROUTERS)) {
    it(`agrees with the metrics source the controller gets: ${name}`, async () => {
      const config = parseConfigText(`app: shop\n${PLATFORM}\nrouter: ${router}\n`, "/srv/shop/flip.yaml", { env: {} });
      const built = createRouter(config, { app: "shop", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() });
      try {
        const own = ownTraffic(config.router);
        expect(createMetricsSource(config, built) !== undefined).toBe(own !== "none");
        expect(built.traffic !== undefined || built.readTraffic !== undefined).toBe(own !== "none");
      } finally {
        await built.close();
      }
    });
  }
});
