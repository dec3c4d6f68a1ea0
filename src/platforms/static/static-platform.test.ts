// The static platform against real node:http servers on port 0: it starts nothing, waits for the
// slot's URL to answer, hands the URL out as the slot's one endpoint, and remembers claimed versions.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { TimeoutError } from "../../core/errors.js";
import { MemoryDriverState } from "../../core/state.js";
import { parseConfigText } from "../../config/load.js";
import { silentLogger } from "../../logging.js";
import type { PlatformEvent } from "../platform.js";
import { staticPlatformSchema } from "./config.js";
import { StaticPlatform } from "./static-platform.js";

let state: MemoryDriverState;
let events: PlatformEvent[];
const cleanups: (() => Promise<void>)[] = [];
const neverAborted = new AbortController().signal;

beforeEach(() => {
  state = new MemoryDriverState();
  events = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function httpServer(): Promise<string> {
  const server = createServer((_request, response) => response.writeHead(500).end("broken, but answering"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function platform(urls: { blue: string; green: string }): StaticPlatform {
  const config = staticPlatformSchema.parse({ kind: "static", slots: { blue: { url: urls.blue }, green: { url: urls.green } }, readyInterval: "20ms" });
  return new StaticPlatform(config, { app: "shop", configDir: "/srv/shop", logDir: "/srv/shop/.flip/logs", logger: silentLogger, clock: systemClock, state, onEvent: (event) => events.push(event) });
}

const logLines = () => events.flatMap((event) => (event.type === "log" ? [event.message] : []));

describe("StaticPlatform", () => {
  it("starts nothing: deploy records the claimed version, and a new instance still knows it", async () => {
    const blue = await httpServer();
    const statics = platform({ blue, green: "http://127.0.0.1:9" });
    expect(await statics.describe("blue")).toEqual({ version: undefined, replicas: 1, runningReplicas: 1 });
    await statics.deploy("blue", "v7");
    expect(logLines()).toEqual([`static platform: nothing to start; recorded that blue (${blue}) runs v7 — the checks will tell`]);
    expect(await platform({ blue, green: "http://127.0.0.1:9" }).describe("blue")).toEqual({ version: "v7", replicas: 1, runningReplicas: 1 });
  });

  it("the slot's URL is its one endpoint, whether or not Flip deployed there", async () => {
    const statics = platform({ blue: "http://10.1.2.3:8080/", green: "https://[::1]" });
    expect(await statics.endpoints("blue")).toEqual([{ slot: "blue", replica: 0, host: "10.1.2.3", port: 8080, url: "http://10.1.2.3:8080" }]);
    expect(await statics.endpoints("green")).toEqual([{ slot: "green", replica: 0, host: "::1", port: 443, url: "https://[::1]" }]);
  });

  it("waitReady resolves once the URL answers HTTP at all, and times out naming why when it never does", async () => {
    const blue = await httpServer();
    const statics = platform({ blue, green: "http://127.0.0.1:9" });
    await statics.waitReady("blue", 2_000, neverAborted); // a 500 is an answer: the checks judge it
    await statics.deploy("green", "v2");
    const error = await statics.waitReady("green", 200, neverAborted).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe("green (v2) did not answer GET http://127.0.0.1:9 within 200ms: connection refused.");
  });

  it("scale and stop leave the slot alone and say so", async () => {
    const statics = platform({ blue: "http://10.0.0.1", green: "http://10.0.0.2" });
    await statics.scale("green", 0);
    await statics.stop("green");
    expect(logLines()).toEqual([
      "static platform: cannot scale green to 0; it is managed outside Flip, left as it is",
      "static platform: green is managed outside Flip; leaving it running",
    ]);
    expect(await statics.endpoints("green")).toHaveLength(1);
  });

  it("config: both slots, distinct base URLs", () => {
    const load = (slots: string) => () => parseConfigText(`app: shop\nplatform: { kind: static, slots: ${slots} }\n`, "/srv/shop/flip.yaml", { env: {} });
    expect(load('{ blue: { url: "http://a:1" } }')).toThrow(/platform\.slots\.green/);
    expect(load('{ blue: { url: "http://a:1" }, green: { url: "http://a:1/" } }')).toThrow(/blue and green are both http:\/\/a:1/);
    expect(load('{ blue: { url: "ftp://a" }, green: { url: "http://b" } }')).toThrow(/expected an http:\/\/ or https:\/\/ URL/);
    expect(load('{ blue: { url: "http://a", version: v1 }, green: { url: "http://b" } }')).toThrow(/unknown key "version"/);
    expect(load('{ blue: { url: "http://a" }, green: { url: "http://b" } }')().platform).toEqual({
      kind: "static",
      slots: { blue: { url: "http://a" }, green: { url: "http://b" } },
      readyInterval: 1_000,
    });
  });
});
