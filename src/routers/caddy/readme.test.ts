// The README's Caddy sections must stay true: their flip.yaml loads, their Caddy JSON is valid JSON
// with the "@id" (and the SRV record) the flip.yaml names, and the named.conf passes named-checkconf.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { readmeBlocks } from "../testing/readme-blocks.js";

describe("README: Caddy", () => {
  it("has a flip.yaml that loads and a Caddy handler with the @id it names", async () => {
    const blocks = await readmeBlocks("Caddy");
    const config = parseConfigText(blocks.yaml as string, "/srv/shop/flip.yaml", { env: {} });
    expect(config.router).toMatchObject({ kind: "caddy", adminUrl: "http://127.0.0.1:2019", handlerId: "shop", slotHeader: "x-flip-upstream" });
    const caddy = JSON.parse(blocks.json as string) as { apps: { http: { servers: Record<string, { routes: { handle: Record<string, unknown>[] }[] }> } } };
    const handler = caddy.apps.http.servers.shop?.routes[0]?.handle[0];
    expect(handler).toMatchObject({ handler: "reverse_proxy", "@id": "shop", headers: { response: { set: { "X-Flip-Upstream": ["{http.reverse_proxy.upstream.hostport}"] } } } });
  });
});

describe("README: Caddy without reloads (router.srv)", () => {
  it("has a flip.yaml with router.srv, a handler that looks up the same record, and a named.conf BIND accepts", async () => {
    const blocks = await readmeBlocks("Caddy without reloads (router.srv)");
    const config = parseConfigText(blocks.yaml as string, "/srv/shop/flip.yaml", { env: { FLIP_TSIG_SECRET: "5/2leS22EgimWyO/8/cuXci642SR5Sbr/OTO2/A+dDk=" } });
    if (config.router.kind !== "caddy") throw new Error("expected the caddy router");
    expect(config.router.srv).toMatchObject({ server: { host: "127.0.0.1", port: 53 }, zone: "example.com", name: "_http._tcp.shop.example.com", ttl: 5000 });
    const caddy = JSON.parse(blocks.json as string) as { apps: { http: { servers: Record<string, { routes: { handle: Record<string, unknown>[] }[] }> } } };
    const handler = caddy.apps.http.servers.shop?.routes[0]?.handle[0];
    expect(handler).toMatchObject({
      handler: "reverse_proxy",
      "@id": config.router.handlerId,
      dynamic_upstreams: { source: "srv", name: config.router.srv?.name, resolver: { addresses: ["udp/127.0.0.1:53"] } },
      transport: { resolver: { addresses: ["udp/127.0.0.1:53"] } },
    });
    const namedConf = blocks.text as string;
    expect(namedConf).toContain("update-policy { grant flip-key subdomain shop.example.com. SRV A AAAA; };");
    const dir = mkdtempSync(join(tmpdir(), "flip-named-conf-"));
    try {
      writeFileSync(join(dir, "named.conf"), namedConf);
      const check = spawnSync("named-checkconf", [join(dir, "named.conf")], { encoding: "utf8" });
      expect(`${check.stdout}${check.stderr}`).toBe("");
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
