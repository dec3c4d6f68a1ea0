// The README's Caddy section must stay true: its flip.yaml loads, and its Caddy JSON is valid JSON
// with the "@id" the flip.yaml names on a reverse_proxy handler.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";

async function blocksUnder(heading: string): Promise<Record<string, string>> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const section = readme.split(`\n### ${heading}\n`)[1]?.split(/\n##+ /)[0] ?? "";
  return Object.fromEntries([...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((match) => [match[1] || "text", match[2] as string]));
}

describe("README: Caddy", () => {
  it("has a flip.yaml that loads and a Caddy handler with the @id it names", async () => {
    const blocks = await blocksUnder("Caddy");
    const config = parseConfigText(blocks.yaml as string, "/srv/shop/flip.yaml", { env: {} });
    expect(config.router).toMatchObject({ kind: "caddy", adminUrl: "http://127.0.0.1:2019", handlerId: "shop", slotHeader: "x-flip-upstream" });
    const caddy = JSON.parse(blocks.json as string) as { apps: { http: { servers: Record<string, { routes: { handle: Record<string, unknown>[] }[] }> } } };
    const handler = caddy.apps.http.servers.shop?.routes[0]?.handle[0];
    expect(handler).toMatchObject({ handler: "reverse_proxy", "@id": "shop", headers: { response: { set: { "X-Flip-Upstream": ["{http.reverse_proxy.upstream.hostport}"] } } } });
  });
});
