// Which slot a line of nginx's access log counts for, through the router: the app's slot header,
// else a server's address, else — nginx's own 502 when no server is up logs the upstream's name —
// the slot the upstream file points at. No nginx needed: the router only reads the two files here.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { MemoryDriverState } from "../../core/state.js";
import { silentLogger } from "../../logging.js";
import { DEFAULT_TEMPLATE, nginxRouterSchema } from "./config.js";
import { NginxRouter } from "./nginx-router.js";
import { renderUpstreamFile } from "./upstream-file.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it("counts nginx's own 502s (no server up) for the slot the upstream file points at", async () => {
  const dir = mkdtempSync(join(tmpdir(), "flip-nginx-log-slots-"));
  dirs.push(dir);
  writeFileSync(join(dir, "shop.conf"), renderUpstreamFile({ app: "shop", upstream: "shop", template: DEFAULT_TEMPLATE, slot: "green", servers: ["127.0.0.1:3101"] }));
  writeFileSync(join(dir, "access.log"), "");
  const config = nginxRouterSchema.parse({ kind: "nginx", file: "shop.conf", slots: { blue: ["127.0.0.1:3001"], green: ["127.0.0.1:3101"] }, accessLog: "access.log" });
  const router = new NginxRouter(config, { app: "shop", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() }, { configDir: dir });
  await router.start();
  appendFileSync(
    join(dir, "access.log"),
    ["1795820000.000 200 0.002 blue 127.0.0.1:3101", "1795820000.001 200 0.002 - 127.0.0.1:3001", "1795820000.002 502 0.000 - shop", "1795820000.003 502 0.000 - 127.0.0.1:3101", ""].join("\n"),
  );
  expect(await router.readTraffic?.("blue")).toMatchObject({ requests: 2, errors: 0 }); // by header, then by address
  expect(await router.readTraffic?.("green")).toMatchObject({ requests: 2, errors: 2 }); // the file's slot, then by address
});
