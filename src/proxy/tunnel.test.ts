import { once } from "node:events";
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.js";
import type { Slot } from "../core/slots.js";
import { silentLogger } from "../logging.js";
import { ProxyServer, type ProxyOptions } from "./server.js";
import { closeAll } from "./testing/upstream-server.js";
import { rawUpgradeUpstream, startWebSocketUpstream, TestWebSocketClient, textFrame as frame, type TestWebSocketUpstream } from "./testing/websocket-upstream.js";

describe("WebSocket upgrades through the proxy", () => {
  const proxies: ProxyServer[] = [];
  const upstreams: { close(): Promise<void> }[] = [];
  const clients: TestWebSocketClient[] = [];
  const rawSockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of rawSockets.splice(0)) socket.destroy();
    for (const client of clients.splice(0)) client.close();
    await closeAll(proxies);
    await closeAll(upstreams);
  });

  async function startProxy(options: Partial<ProxyOptions> = {}): Promise<ProxyServer> {
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 5_000,
      connectionsPerReplica: 8,
      clock: systemClock,
      logger: silentLogger,
      ...options,
    });
    proxies.push(proxy);
    await proxy.start();
    return proxy;
  }

  async function wsUpstream(name: string, onConnection?: Parameters<typeof startWebSocketUpstream>[1]): Promise<TestWebSocketUpstream> {
    const upstream = await startWebSocketUpstream(name, onConnection);
    upstreams.push(upstream);
    return upstream;
  }

  function client(proxy: ProxyServer, path = "/", listener: "listen" | "preview" = "listen"): TestWebSocketClient {
    const opened = new TestWebSocketClient(`ws://${proxy.addresses()[listener]}${path}`);
    clients.push(opened);
    return opened;
  }

  function target(proxy: ProxyServer, slot: Slot, upstream: { endpoint(slot: Slot): ReturnType<TestWebSocketUpstream["endpoint"]> }): void {
    proxy.setTargets(slot, [upstream.endpoint(slot)]);
  }

  it("tunnels a WebSocket both ways, with the forwarding headers, and counts it as one 101", async () => {
    const blue = await wsUpstream("blue");
    const proxy = await startProxy();
    target(proxy, "blue", blue);
    proxy.switchTo("blue");

    const ws = client(proxy, "/chat?room=1");
    await ws.opened();
    expect(await ws.ask("hello")).toBe("blue:hello");
    expect(await ws.ask("x".repeat(200_000))).toBe(`blue:${"x".repeat(200_000)}`); // 64-bit length, many TCP chunks

    const seen = blue.requests[0];
    expect(seen?.url).toBe("/chat?room=1");
    expect(seen?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen?.headers["x-forwarded-host"]).toBe(proxy.addresses().listen);
    expect(seen?.headers.upgrade).toBe("websocket");
    expect(proxy.traffic.counts("blue")).toMatchObject({ requests: 1, responses: { "1xx": 1 } });
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 0 });
  });

  it("forwards the bytes that came with the client's request and with the replica's 101", async () => {
    let receivedUpstream = Buffer.alloc(0);
    const raw = await rawUpgradeUpstream((socket, head) => {
      receivedUpstream = Buffer.concat([receivedUpstream, head]);
      socket.on("data", (chunk: Buffer) => (receivedUpstream = Buffer.concat([receivedUpstream, chunk])));
      // The 101 and a first frame in one write: they reach the proxy together.
      socket.write(Buffer.concat([Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), frame("welcome")]));
    });
    upstreams.push(raw);
    const proxy = await startProxy();
    proxy.setTargets("blue", [raw.endpoint("blue")]);
    proxy.switchTo("blue");

    const socket = connect(Number(proxy.addresses().listen.split(":")[1]), "127.0.0.1");
    rawSockets.push(socket);
    let receivedClient = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => (receivedClient = Buffer.concat([receivedClient, chunk])));
    const early = frame("early", true);
    socket.write(Buffer.concat([Buffer.from("GET /raw HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), early]));

    await waitFor(() => receivedClient.includes(frame("welcome")) && receivedUpstream.equals(early));
    expect(receivedClient.toString("latin1")).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
  });

  it("passes a refused upgrade back to the client and closes the connection", async () => {
    const refusing = await rawUpgradeUpstream((socket) => {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nX-Why: policy\r\n\r\nnot for you\r\n");
    });
    upstreams.push(refusing);
    const proxy = await startProxy();
    proxy.setTargets("blue", [refusing.endpoint("blue")]);
    proxy.switchTo("blue");

    const ws = client(proxy);
    const refusal = (await ws.opened().then(
      () => undefined,
      (error: unknown) => error,
    )) as { status: number; body: string; headers: Record<string, string> };
    expect(refusal).toMatchObject({ status: 403, body: "not for you\r\n" });
    expect(refusal.headers["x-why"]).toBe("policy");
    expect(refusal.headers.connection).toBe("close");
    expect(proxy.traffic.counts("blue")).toMatchObject({ requests: 1, responses: { "4xx": 1 } });
  });

  it("answers 502 when the replica cannot be reached, counted as an error", async () => {
    const deadPort = await freePort();
    const proxy = await startProxy();
    proxy.setTargets("blue", [{ slot: "blue", replica: 0, host: "127.0.0.1", port: deadPort, url: `http://127.0.0.1:${deadPort}` }]);
    proxy.switchTo("blue");

    const ws = client(proxy);
    await expect(ws.opened()).rejects.toMatchObject({ status: 502 });
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1 });
  });

  it("drops the replica's connection when the client leaves before the answer, counted as 499, not an error", async () => {
    let upstreamHungUp = false;
    const silent = await rawUpgradeUpstream((socket) => {
      socket.resume(); // reading, so the proxy's hang-up is noticed
      socket.on("end", () => (upstreamHungUp = true));
    });
    upstreams.push(silent);
    const proxy = await startProxy();
    proxy.setTargets("blue", [silent.endpoint("blue")]);
    proxy.switchTo("blue");

    const socket = connect(Number(proxy.addresses().listen.split(":")[1]), "127.0.0.1");
    rawSockets.push(socket);
    socket.write("GET / HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    await waitFor(() => silent.upgrades === 1);
    socket.destroy();

    await waitFor(() => upstreamHungUp);
    expect(proxy.traffic.counts("blue")).toMatchObject({ requests: 1, responses: { "499": 1 } });
    expect(proxy.traffic.snapshot("blue").errors).toBe(0);
  });

  it("answers 503 when no slot is live", async () => {
    const proxy = await startProxy();
    await expect(client(proxy).opened()).rejects.toMatchObject({ status: 503 });
  });

  it("sends a new WebSocket to the new slot after a switch while the old one keeps working", async () => {
    const blue = await wsUpstream("blue");
    const green = await wsUpstream("green");
    const proxy = await startProxy();
    target(proxy, "blue", blue);
    target(proxy, "green", green);
    proxy.switchTo("blue");

    const before = client(proxy);
    await before.opened();
    proxy.switchTo("green");
    const after = client(proxy);
    await after.opened();

    expect(await after.ask("hi")).toBe("green:hi");
    expect(await before.ask("hi")).toBe("blue:hi");
    expect(proxy.traffic.snapshot("green").requests).toBe(1);
  });

  it("serves WebSockets on the preview listener from the idle slot only, uncounted", async () => {
    const blue = await wsUpstream("blue");
    const green = await wsUpstream("green");
    const proxy = await startProxy({ preview: "127.0.0.1:0" });
    target(proxy, "blue", blue);
    target(proxy, "green", green);
    proxy.switchTo("blue");

    const preview = client(proxy, "/", "preview");
    await preview.opened();
    expect(await preview.ask("hi")).toBe("green:hi");
    expect(proxy.traffic.snapshot("green").requests).toBe(0);
  });
});

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
