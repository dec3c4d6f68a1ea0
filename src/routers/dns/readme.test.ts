// The README's DNS section must stay true: its flip.yaml loads, and its named.conf stanza names the
// key, algorithm and record the flip.yaml does, and passes BIND's own named-checkconf.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";

async function blocksUnder(heading: string): Promise<string[]> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const section = readme.split(`\n### ${heading}\n`)[1]?.split(/\n##+ /)[0] ?? "";
  return [...section.matchAll(/```\w*\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

describe("README: DNS (RFC 2136)", () => {
  it("has a flip.yaml that loads, and a named.conf stanza for the same key and record", async () => {
    const [yaml, namedConf] = await blocksUnder("DNS (RFC 2136)");
    const config = parseConfigText(yaml as string, "/srv/shop/flip.yaml", { env: { FLIP_TSIG_SECRET: "5/2leS22EgimWyO/8/cuXci642SR5Sbr/OTO2/A+dDk=" } });
    if (config.router.kind !== "dns") throw new Error("expected the dns router");
    expect(config.router).toMatchObject({ server: { host: "ns1.example.com", port: 53 }, zone: "example.com", recordName: "shop.example.com", ttl: 60_000 });
    expect(config.router.tsig).toMatchObject({ name: "flip-key", algorithm: "hmac-sha256" });
    expect(namedConf).toContain('key "flip-key" {\n  algorithm hmac-sha256;');
    expect(namedConf).toContain('zone "example.com" {');
    expect(namedConf).toContain("update-policy { grant flip-key name shop.example.com. A; };");
    const dir = mkdtempSync(join(tmpdir(), "flip-named-conf-"));
    try {
      writeFileSync(join(dir, "named.conf"), namedConf as string);
      const check = spawnSync("named-checkconf", [join(dir, "named.conf")], { encoding: "utf8" });
      expect(check.error).toBeUndefined();
      expect(`${check.stdout}${check.stderr}`).toBe("");
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
