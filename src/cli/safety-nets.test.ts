// The CLI side of issue 6's safety nets, in-process against a real API server over an engine
// double: `flip deploy --now` reaches the engine as `now: true` (the engine audits it).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startApiServer } from "../api/server.js";
import type { ApiServer } from "../api/server.js";
import { EngineDouble } from "../api/testing/engine-double.js";
import { silentLogger } from "../logging.js";
import { runCli } from "./program.js";
import { testIo } from "./testing/io.js";

let engine: EngineDouble;
let server: ApiServer | undefined;

beforeEach(async () => {
  engine = new EngineDouble();
  server = await startApiServer({ engine, listen: "127.0.0.1:0", logger: silentLogger });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error("condition not met in time");
}

describe("flip deploy --now", () => {
  it("asks the engine to switch without waiting for a window", async () => {
    const io = testIo();
    const running = runCli(["deploy", "v2", "--now", "--server", (server as ApiServer).url], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]).toEqual({ method: "deploy", args: ["v2", { actor: expect.stringMatching(/^cli:/) as unknown, force: false, now: true }] });
  });

  it("leaves `now` out when not given", async () => {
    const io = testIo();
    const running = runCli(["deploy", "v2", "--server", (server as ApiServer).url], io);
    await waitFor(() => engine.listenerCount === 1);
    engine.finish("d-1", "succeeded", "traffic on green");
    expect(await running).toBe(0);
    expect(engine.calls[0]?.args[1]).not.toHaveProperty("now");
  });
});
