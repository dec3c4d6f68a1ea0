// The README's HAProxy section must stay true: its flip.yaml loads, and its haproxy.cfg lines pass
// the real `haproxy -c` with the map and backends that flip.yaml names.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { findServerBinary } from "../testing/local-server.js";
import { readmeBlocks } from "../testing/readme-blocks.js";

it("README: the HAProxy flip.yaml loads, and haproxy -c accepts the haproxy.cfg lines", async () => {
  const blocks = await readmeBlocks("HAProxy");
  const config = parseConfigText(blocks.yaml as string, "/srv/shop/flip.yaml", { env: {} });
  if (config.router.kind !== "haproxy") throw new Error(`expected the haproxy router, got ${config.router.kind}`);
  expect(config.router).toMatchObject({ runtimeApi: "/run/haproxy/admin.sock", map: "/etc/haproxy/flip.map", persistMap: true });
  const snippet = blocks.text as string;
  for (const line of [`stats socket ${config.router.runtimeApi} mode 660 level admin`, "use_backend %[str(shop),map(/etc/haproxy/flip.map)]", "backend shop-blue", "backend shop-green"]) {
    expect(snippet).toContain(line);
  }

  const dir = mkdtempSync(join(tmpdir(), "flip-haproxy-readme-"));
  try {
    const map = join(dir, "flip.map");
    writeFileSync(map, "shop shop-green\n");
    const cfg = join(dir, "haproxy.cfg");
    writeFileSync(cfg, snippet.replace(config.router.map, map).replace(config.router.runtimeApi, join(dir, "admin.sock")));
    const output = execFileSync(findServerBinary("haproxy"), ["-c", "-f", cfg], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(output).toContain("Configuration file is valid");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
