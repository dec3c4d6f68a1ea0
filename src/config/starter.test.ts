import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { FlipError } from "../core/errors.js";
import { loadConfig, parseConfigText } from "./load.js";
import { configSchema } from "./schema.js";
import { starterConfig, writeStarterConfig } from "./starter.js";

const FILE = "/srv/app/flip.yaml";

/** `# key: value` lines (and `# - name: ...`) are keys shown commented out; prose never looks like that. */
function uncommentKeys(text: string): string {
  return text.replace(/^(\s*)# (?=\s*(?:- )?[A-Za-z]+:(?: |$))/gm, "$1");
}

/** Every key name the schema knows, at any depth. */
function schemaKeys(schema: z.ZodType): Set<string> {
  const keys = new Set<string>();
  const visit = (node: z.ZodType): void => {
    if (node instanceof z.ZodObject) {
      for (const [key, child] of Object.entries(node.shape as Record<string, z.ZodType>)) {
        keys.add(key);
        visit(child);
      }
    } else if (node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional) {
      visit(node.unwrap() as z.ZodType);
    } else if (node instanceof z.ZodPipe) {
      visit(node.in as z.ZodType);
    } else if (node instanceof z.ZodArray) {
      visit(node.element as z.ZodType);
    } else if (node instanceof z.ZodUnion) {
      for (const option of node.options as readonly z.ZodType[]) visit(option);
    }
  };
  visit(schema);
  return keys;
}

describe("starterConfig", () => {
  it("is a valid config for a small HTTP app", () => {
    const config = parseConfigText(starterConfig(), FILE, { env: {} });
    expect(config.app).toBe("my-app");
    expect(config.platform).toMatchObject({ kind: "process", command: "npm start", env: { PORT: "{port}", APP_VERSION: "{version}" }, replicas: 1 });
    expect(config.router).toMatchObject({ kind: "builtin", listen: "127.0.0.1:8080" });
    expect(config.checks.map((check) => [check.name, check.http?.path])).toEqual([
      ["health", "/health"],
      ["version", "/version"],
    ]);
    expect(config.checks[1]?.http?.expectJson).toEqual({ version: "{version}" });
    expect(config.monitor.rules).toEqual(["errorRate < 5%", "p99 < 800ms"]);
    expect(config.control.listen).toBe("127.0.0.1:8787");
  });

  it("shows every key of the schema", () => {
    const text = starterConfig();
    const missing = [...schemaKeys(configSchema)].filter((key) => !new RegExp(`(?:^\\s*(?:# )?\\s*(?:- )?|[{,] *)${key}:`, "m").test(text));
    expect(missing).toEqual([]);
  });

  it("keeps its commented-out keys valid, and their values are the defaults", () => {
    const plain = parseConfigText(starterConfig(), FILE, { env: {} });
    const text = uncommentKeys(starterConfig());
    expect(text).not.toBe(starterConfig());
    const full = parseConfigText(text, FILE, { env: { APP_TOKEN: "a", FLIP_TOKEN: "f" } });
    // Keys shown as examples (no default) are the only differences.
    expect(full.platform).toMatchObject({ cwd: "releases/{version}", ports: { blue: 3001, green: 3101 }, readiness: { path: "/health" } });
    expect(full.router).toMatchObject({ preview: "127.0.0.1:8081" });
    expect(full.control.token).toBe("f");
    expect(full.checks.map((check) => check.name)).toEqual(["health", "version", "smoke"]);
    const withoutExamples = {
      ...full,
      platform: { ...full.platform, cwd: undefined, ports: undefined, readiness: undefined },
      router: { ...full.router, preview: undefined },
      control: { ...full.control, token: undefined },
      checks: full.checks.slice(0, 2).map((check) => ({ ...check, http: check.http && { ...check.http, headers: undefined } })),
    };
    expect(JSON.parse(JSON.stringify(withoutExamples))).toEqual(JSON.parse(JSON.stringify(plain)));
    // readiness shows the defaults the platform applies when it is absent.
    if (full.platform.kind !== "process") throw new Error("expected the process platform");
    expect(full.platform.readiness).toEqual({ path: "/health", interval: 200 });
  });

  it("uses the app name given, made safe as a name", () => {
    expect(parseConfigText(starterConfig({ app: "shop" }), FILE, { env: {} }).app).toBe("shop");
    expect(parseConfigText(starterConfig({ app: "  My Shop! " }), FILE, { env: {} }).app).toBe("My-Shop-");
    expect(parseConfigText(starterConfig({ app: "__" }), FILE, { env: {} }).app).toBe("my-app");
  });
});

describe("writeStarterConfig", () => {
  let folder: string | undefined;
  afterEach(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
    folder = undefined;
  });

  it("writes a starter that loadConfig accepts, creating the folder", async () => {
    folder = await mkdtemp(join(tmpdir(), "flip-starter-"));
    const file = join(folder, "deploy", "flip.yaml");
    await writeStarterConfig(file, { app: "hello" });
    const config = await loadConfig(file, { env: {} });
    expect(config.app).toBe("hello");
    expect(config.statePath).toBe(join(folder, "deploy", ".flip/state.db"));
  });

  it("refuses to replace an existing file unless forced", async () => {
    folder = await mkdtemp(join(tmpdir(), "flip-starter-"));
    const file = join(folder, "flip.yaml");
    await writeFile(file, "app: mine\n");
    const error = await writeStarterConfig(file).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(FlipError);
    expect((error as FlipError).code).toBe("FLIP_E_CONFIG");
    expect((error as FlipError).message).toContain(file);
    expect((error as FlipError).hint).toMatch(/--force/);
    expect(await readFile(file, "utf8")).toBe("app: mine\n");

    await writeStarterConfig(file, { force: true });
    expect(await readFile(file, "utf8")).toBe(starterConfig());
  });
});
