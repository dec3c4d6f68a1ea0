// init, validate and serve run in-process against a temp folder; runCli's own behaviour (usage
// errors, error reporting) through the same in-memory io.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FlipConfig } from "../config/schema.js";
import { silentLogger } from "../logging.js";
import { runCli } from "./program.js";
import { serveCommand } from "./serve.js";
import { testIo } from "./testing/io.js";

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "flip-cli-"));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("flip init and flip validate", () => {
  it("writes a starter named after the folder that validate then accepts", async () => {
    const file = join(folder, "flip.yaml");
    const init = testIo();
    expect(await runCli(["init", "-c", file], init)).toBe(0);
    expect(init.out()).toContain(`wrote ${file}`);
    expect(init.out()).toContain(`flip validate -c ${file}`);
    const text = await readFile(file, "utf8");
    const folderName = folder.split("/").pop() as string;
    expect(text).toContain(`app: ${folderName}`);

    const validate = testIo();
    expect(await runCli(["validate", "-c", file], validate)).toBe(0);
    expect(validate.out()).toMatch(new RegExp(`^✓ ${file} is valid: app ${folderName}, platform process, router builtin, \\d+ checks?\\n$`));
  });

  it("takes the app name from --app and the file from FLIP_CONFIG, and refuses to overwrite", async () => {
    const file = join(folder, "conf", "app.yaml");
    expect(await runCli(["init", "--app", "shop"], testIo({ FLIP_CONFIG: file }))).toBe(0);
    expect(await readFile(file, "utf8")).toContain("app: shop");

    const again = testIo({ FLIP_CONFIG: file });
    expect(await runCli(["init"], again)).toBe(1);
    expect(again.err()).toMatch(/^error: .*already exists.*\nhint: .*--force/s);
    expect(await runCli(["init", "--force", "--app", "cart"], testIo({ FLIP_CONFIG: file }))).toBe(0);
    expect(await readFile(file, "utf8")).toContain("app: cart");
  });

  it("lists every problem of an invalid config, with lines, and exits 1", async () => {
    const file = join(folder, "flip.yaml");
    await writeFile(file, "app: hello\nplatform:\n  kind: process\n  command: node server.js\nmonitor:\n  duration: soon\ncontrol:\n  listen: nowhere\n");
    const io = testIo();
    expect(await runCli(["validate", "-c", file], io)).toBe(1);
    expect(io.out()).toBe("");
    expect(io.err()).toMatch(/^error: .*is not a valid Flip config \(2 problems\)/);
    expect(io.err()).toContain(":6");
    expect(io.err()).toContain(":8");
    expect(io.err()).toMatch(/\nhint: /);
    expect(io.err()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("says how to start when the config does not exist", async () => {
    const io = testIo();
    expect(await runCli(["status", "-c", join(folder, "missing.yaml")], io)).toBe(1);
    expect(io.err()).toMatch(/^error: No Flip config at .*missing\.yaml/);
    expect(io.err()).toContain("flip init");
  });
});

describe("runCli", () => {
  it("reports usage errors through commander with exit code 1", async () => {
    const io = testIo();
    expect(await runCli(["deploy"], io)).toBe(1);
    expect(io.err()).toContain("missing required argument 'version'");
    const limit = testIo();
    expect(await runCli(["history", "--limit", "0", "--server", "http://127.0.0.1:1"], limit)).toBe(1);
    expect(limit.err()).toContain("expected a whole number from 1 to 1000");
  });

  it("prints help and the version with exit code 0", async () => {
    const help = testIo();
    expect(await runCli(["--help"], help)).toBe(0);
    expect(help.out()).toContain("deploy [options] <version>");
    const version = testIo();
    expect(await runCli(["--version"], version)).toBe(0);
    expect(version.out()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("refuses a bad slot before calling anyone", async () => {
    const io = testIo();
    expect(await runCli(["switch", "purple", "--server", "http://127.0.0.1:1"], io)).toBe(1);
    expect(io.err()).toBe('error: "purple" is not a slot.\nhint: Use `flip switch blue` or `flip switch green`.\n');
  });
});

describe("flip serve", () => {
  async function starter(): Promise<string> {
    const file = join(folder, "flip.yaml");
    expect(await runCli(["init", "-c", file, "--app", "hello"], testIo())).toBe(0);
    return file;
  }

  /** A controller stand-in: records close(), which resolves when the test says. */
  function controllerDouble() {
    let finishClose: (() => void) | undefined;
    const double = {
      started: [] as FlipConfig[],
      closeCalls: 0,
      finishClose: () => finishClose?.(),
      start: async (config: FlipConfig) => {
        double.started.push(config);
        return {
          apiAddress: "127.0.0.1:8787",
          proxyAddresses: { listen: "127.0.0.1:8080", preview: "127.0.0.1:8081" },
          close: () => {
            double.closeCalls += 1;
            return new Promise<void>((resolve) => (finishClose = resolve));
          },
        };
      },
    };
    return double;
  }

  it("prints where it listens, and on SIGTERM closes the controller and exits 0", async () => {
    const file = await starter();
    const controller = controllerDouble();
    const io = testIo();
    const serving = serveCommand({ config: file }, io, { startController: controller.start, createLogger: () => silentLogger });
    await waitFor(() => io.out().includes("API"));
    expect(controller.started[0]?.app).toBe("hello");
    expect(io.out()).toContain("traffic  http://127.0.0.1:8080");
    expect(io.out()).toContain("preview  http://127.0.0.1:8081");
    expect(io.out()).toContain("API      http://127.0.0.1:8787");

    expect(io.raise("SIGTERM")).toBe(true);
    expect(controller.closeCalls).toBe(1);
    expect(io.raise("SIGTERM")).toBe(true); // a second SIGTERM while closing changes nothing
    expect(controller.closeCalls).toBe(1);
    controller.finishClose();
    expect(await serving).toBe(0);
    expect(io.exits).toEqual([]);
    expect(io.raise("SIGINT")).toBe(false); // handlers removed
  });

  it("quits at once on a second Ctrl-C while closing", async () => {
    const file = await starter();
    const controller = controllerDouble();
    const io = testIo();
    const serving = serveCommand({ config: file }, io, { startController: controller.start, createLogger: () => silentLogger });
    await waitFor(() => io.out().includes("API"));
    io.raise("SIGINT");
    expect(io.exits).toEqual([]);
    io.raise("SIGINT");
    expect(io.exits).toEqual([130]);
    expect(io.err()).toContain("quitting now");
    controller.finishClose();
    await serving;
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
