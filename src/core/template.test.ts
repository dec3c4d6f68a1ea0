import { describe, expect, it } from "vitest";
import { expandEnv, renderTemplate } from "./template.js";

describe("renderTemplate", () => {
  it("fills every known placeholder, as often as it appears", () => {
    expect(renderTemplate("node server.js --port {port} # {version} on {slot}, again {version}", { port: 4001, version: "v2", slot: "green" })).toBe(
      "node server.js --port 4001 # v2 on green, again v2",
    );
  });

  it("leaves unknown placeholders and non-placeholders alone", () => {
    expect(renderTemplate("{version} {unknown} {} {1x} ${HOME} {{version}}", { version: "v1" })).toBe("v1 {unknown} {} {1x} ${HOME} {v1}");
  });

  it("fills 0 and empty strings (only undefined means unknown)", () => {
    expect(renderTemplate("[{replica}] [{label}]", { replica: 0, label: "" })).toBe("[0] []");
  });
});

describe("expandEnv", () => {
  const env = { FLIP_TOKEN: "s3cret", EMPTY: "" };

  it("replaces set variables", () => {
    expect(expandEnv("Bearer ${FLIP_TOKEN}", env)).toEqual({ value: "Bearer s3cret", missing: [] });
  });

  it("uses the default when the variable is unset or empty", () => {
    expect(expandEnv("${NOPE:-8080} ${EMPTY:-x} ${FLIP_TOKEN:-unused} ${NOPE:-}", env)).toEqual({ value: "8080 x s3cret ", missing: [] });
  });

  it("names every variable that is missing without a default", () => {
    expect(expandEnv("${A}-${FLIP_TOKEN}-${B}-${EMPTY}", env)).toEqual({ value: "-s3cret--", missing: ["A", "B", "EMPTY"] });
  });

  it("leaves {placeholders} and text without references untouched", () => {
    expect(expandEnv("{version} $HOME ${not valid}", env)).toEqual({ value: "{version} $HOME ${not valid}", missing: [] });
  });
});
