// The reference pages must stay true to the code: the example loads, every error code is listed.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load.js";

const read = (path: string) => readFile(new URL(path, import.meta.url), "utf8");

describe("docs/configuration.md", () => {
  it("has a complete example that loads, with every top-level key", async () => {
    const page = await read("../../docs/configuration.md");
    const example = /```yaml\n([\s\S]*?)```/.exec(page)?.[1];
    expect(example).toBeDefined();
    const config = parseConfigText(example as string, "/srv/hello/flip.yaml", { env: { STATUS_TOKEN: "s", FLIP_TOKEN: "f" } });
    if (config.platform.kind !== "process") throw new Error("expected the process platform");
    expect(config.platform.ports).toEqual({ blue: 9100, green: 9200 });
    expect(config.checks[1]?.http?.headers).toEqual({ Authorization: "Bearer s" });
    for (const key of ["app", "platform", "router", "checks", "monitor", "control", "state", "logs", "readyTimeout", "verifyTimeout", "approval", "approvalTimeout", "switchWindows", "maxRequestRate", "maxRequestRateTimeout", "retire", "migrations", "notify"]) {
      expect(example).toMatch(new RegExp(`^${key}:`, "m"));
    }
  });
});

describe("docs/errors.md", () => {
  it("explains every error code of src/core/errors.ts, and no other", async () => {
    const source = await read("../core/errors.ts");
    // Up to the `"...";` that closes the union (its comments may hold semicolons).
    const union = /export type ErrorCode =([\s\S]*?)";\s*\n/.exec(source)?.[1] ?? "";
    const codes = [...`${union}"`.matchAll(/"(FLIP_E_[A-Z_]+)"/g)].map((match) => match[1]);
    expect(codes.length).toBeGreaterThan(10);
    const page = await read("../../docs/errors.md");
    const sections = [...page.matchAll(/^## (FLIP_E_[A-Z_]+)$/gm)].map((match) => match[1]);
    expect(sections).toEqual(codes);
  });
});
