// The README's flip.yaml examples for the AWS routers must stay loadable as the schemas change.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";

async function exampleUnder(heading: string): Promise<string> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const section = readme.split(`\n### ${heading}\n`)[1]?.split(/\n##+ /)[0] ?? "";
  const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (!example) throw new Error(`no yaml example under "### ${heading}"`);
  return example;
}

describe("README examples of the AWS routers", () => {
  it("AWS Application Load Balancer", async () => {
    const config = parseConfigText(await exampleUnder("AWS Application Load Balancer"), "/srv/shop/flip.yaml", { env: {} });
    expect(config.router).toMatchObject({ kind: "aws-alb", pollInterval: 5_000 });
    expect(config.verifyTimeout).toBe(300_000);
  });

  it("Route 53", async () => {
    const config = parseConfigText(await exampleUnder("Route 53"), "/srv/shop/flip.yaml", { env: {} });
    expect(config.router).toMatchObject({ kind: "route53", recordType: "A", ttl: 60_000, slots: { blue: { alias: { evaluateTargetHealth: false } } } });
  });
});
