// The admin API client against a stand-in endpoint that resets connections the way Caddy's does
// while it swaps its admin listener after a config change: a reset call is sent again, a moment
// later, a few times; an endpoint that keeps resetting is reported.
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { InstantClock } from "../../core/clock.testing.js";
import { RouterError } from "../../core/errors.js";
import { CaddyAdminApi } from "./admin-api.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** Resets the first `resets` connections as soon as they send; answers the handler after that. */
async function endpoint(resets: number): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const handler = JSON.stringify({ handler: "reverse_proxy", "@id": "shop", upstreams: [{ dial: "127.0.0.1:3001" }] });
  const server = createServer((socket: Socket) => {
    connections += 1;
    const reset = connections <= resets;
    socket.once("data", () => {
      if (reset) socket.resetAndDestroy();
      else socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(handler)}\r\nconnection: close\r\n\r\n${handler}`);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}

describe("CaddyAdminApi", () => {
  it("sends a call again when Caddy resets it while restarting its admin endpoint", async () => {
    const { url, connections } = await endpoint(2);
    const clock = new InstantClock();
    const handler = await new CaddyAdminApi(url, "shop", 2_000, clock).readHandler();
    expect(handler.upstreams).toEqual([{ dial: "127.0.0.1:3001" }]);
    expect(connections()).toBe(3);
    expect(clock.sleeps).toEqual([50, 50]);
  });

  it("says it cannot reach Caddy when every attempt is reset", async () => {
    const { url, connections } = await endpoint(100);
    const error = await new CaddyAdminApi(url, "shop", 2_000, new InstantClock()).readHandler().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).message).toBe(`Cannot reach Caddy's admin API at ${url} (router.adminUrl): read ECONNRESET.`);
    expect(connections()).toBe(4);
  });
});
