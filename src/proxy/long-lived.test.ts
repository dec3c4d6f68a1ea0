import type { ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ManualClock } from "../core/clock.testing.js";
import type { Slot } from "../core/slots.js";
import { silentLogger } from "../logging.js";
import { ProxyServer, type ProxyEvent, type ProxyOptions } from "./server.js";
import { closeAll, startTextUpstream, startUpstream, type TestUpstream } from "./testing/upstream-server.js";
import { rawUpgradeUpstream, startWebSocketUpstream, TestWebSocketClient, textFrame, type TestWebSocketUpstream } from "./testing/websocket-upstream.js";

describe("long-lived connections across a switch", () => {
  const proxies: ProxyServer[] = [];
  const upstreams: { close(): Promise<void> }[] = [];
  const rawSockets: Socket[] = [];
  const clients: TestWebSocketClient[] = [];
  let agent = new Agent();

  afterEach(async () => {
    // Clients first: a tunnel waiting for a close reply would otherwise hold the proxy's close().
    for (const client of clients.splice(0)) client.close();
    for (const socket of rawSockets.splice(0)) socket.destroy();
    await closeAll(proxies);
    await closeAll(upstreams);
    await agent.destroy();
    agent = new Agent();
  });

  async function startProxy(clock: ManualClock, options: Partial<ProxyOptions> = {}): Promise<{ proxy: ProxyServer; events: ProxyEvent[]; base: string }> {
    const events: ProxyEvent[] = [];
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 1_000,
      longLivedGraceMs: 30_000,
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 60_000,
      connectionsPerReplica: 8,
      clock,
      logger: silentLogger,
      onEvent: (event) => events.push(event),
      ...options,
    });
    proxies.push(proxy);
    await proxy.start();
    return { proxy, events, base: `http://${proxy.addresses().listen}` };
  }

  async function ws(name: Slot, onConnection?: Parameters<typeof startWebSocketUpstream>[1]): Promise<TestWebSocketUpstream> {
    const upstream = await startWebSocketUpstream(name, onConnection);
    upstreams.push(upstream);
    return upstream;
  }

  async function slotsOf(proxy: ProxyServer, blue: { endpoint(slot: Slot): ReturnType<TestUpstream["endpoint"]> }, green: { endpoint(slot: Slot): ReturnType<TestUpstream["endpoint"]> }) {
    proxy.setTargets("blue", [blue.endpoint("blue")]);
    proxy.setTargets("green", [green.endpoint("green")]);
    proxy.switchTo("blue");
    return Promise.resolve();
  }

  async function openClient(proxy: ProxyServer): Promise<TestWebSocketClient> {
    const client = new TestWebSocketClient(`ws://${proxy.addresses().listen}/`);
    clients.push(client);
    await client.opened();
    return client;
  }

  /** An upstream whose /events is an SSE stream the test writes to; anything else answers `name`. */
  async function sseUpstream(name: string) {
    const streams: ServerResponse[] = [];
    const closedByProxy: boolean[] = [];
    const upstream = await startUpstream((req, res) => {
      if (req.url !== "/events") return void res.end(name);
      const index = streams.length;
      streams.push(res);
      closedByProxy.push(false);
      res.on("close", () => (closedByProxy[index] = !res.writableEnded));
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(": open\n\n");
    });
    upstreams.push(upstream);
    return { upstream, streams, closedByProxy, send: (index: number, data: string) => streams[index]?.write(`data: ${data}\n\n`) };
  }

  /** Opens an SSE stream through the proxy and collects its text until it ends. */
  async function subscribe(base: string) {
    // The timeout turns a broken proxy into a failure instead of a hang (it also aborts the body).
    const response = await request(`${base}/events`, { dispatcher: agent, signal: AbortSignal.timeout(5_000) });
    const stream = { status: response.statusCode, text: "", ended: false, error: undefined as unknown };
    const reading = (async () => {
      try {
        for await (const chunk of response.body) stream.text += String(chunk);
        stream.ended = true;
      } catch (error) {
        stream.error = error;
      }
    })();
    return { stream, reading };
  }

  it("keeps a WebSocket to the old slot open past drainTimeout until longLivedGrace, then closes it with 1001 on both sides", async () => {
    const clock = new ManualClock();
    const upstreamCloseCodes: number[] = [];
    const blue = await ws("blue", (socket) => {
      socket.on("message", (data) => socket.send(`blue:${String(data)}`));
      socket.on("close", (code) => upstreamCloseCodes.push(code));
    });
    const green = await ws("green");
    const { proxy, events } = await startProxy(clock);
    await slotsOf(proxy, blue, green);
    const client = await openClient(proxy);

    proxy.switchTo("green");
    await clock.advance(1_000); // the drain is over...
    await waitFor(() => events.some((event) => event.type === "drained"));
    expect(events.find((event) => event.type === "drained")).toEqual({ type: "drained", slot: "blue", remaining: 0, timedOut: false });
    expect(await client.ask("a")).toBe("blue:a"); // ...and the WebSocket was not part of it
    await clock.advance(28_999);
    expect(await client.ask("b")).toBe("blue:b");
    expect(client.closeCode).toBeUndefined();

    await clock.advance(1);
    expect(await client.closedWithin()).toBe(1001);
    await waitFor(() => upstreamCloseCodes.length === 1);
    expect(upstreamCloseCodes).toEqual([1001]); // the client's close reply reached the replica
    expect(client.errors).toEqual([]);
  });

  it("closes between messages only: every message of a stream running at the deadline arrives whole", async () => {
    const clock = new ManualClock();
    const sent = { count: 0 };
    const blue = await ws("blue", (socket) => streamMessages(socket, sent));
    const green = await ws("green");
    const { proxy } = await startProxy(clock, { longLivedGraceMs: 10_000 });
    await slotsOf(proxy, blue, green);
    const client = await openClient(proxy);
    await client.until(() => client.messages.length >= 30);

    proxy.switchTo("green");
    await clock.advance(10_000); // while the replica is still sending
    expect(await client.closedWithin()).toBe(1001);

    expect(client.errors).toEqual([]); // a close frame inside a frame would be a protocol error here
    expect(client.messages.length).toBeGreaterThanOrEqual(30);
    expect(sent.count).toBeGreaterThan(client.messages.length); // the close came in the middle of the stream
    client.messages.forEach((message, index) => expect(message).toBe(streamedMessage(index)));
  });

  it("waits for the end of the frame in progress at the deadline, sends 1001, then nothing more from the upstream", async () => {
    const clock = new ManualClock();
    const first = textFrame("first");
    const long = textFrame("L".repeat(120)); // 7-bit length: header [0x81, 120]
    const after = textFrame("after");
    let upstreamSocket: Socket | undefined;
    let atUpstream = Buffer.alloc(0);
    const blue = await rawUpgradeUpstream((socket) => {
      upstreamSocket = socket;
      socket.on("data", (chunk: Buffer) => (atUpstream = Buffer.concat([atUpstream, chunk])));
      socket.write(Buffer.concat([Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), first, long.subarray(0, 50)]));
    });
    const green = await startTextUpstream("green");
    upstreams.push(blue, green);
    const { proxy } = await startProxy(clock, { longLivedGraceMs: 10_000 });
    await slotsOf(proxy, blue, green);

    const client = connect(Number(proxy.addresses().listen.split(":")[1]), "127.0.0.1");
    rawSockets.push(client);
    let atClient = Buffer.alloc(0);
    let clientClosed = false;
    client.on("data", (chunk: Buffer) => (atClient = Buffer.concat([atClient, chunk])));
    client.on("close", () => (clientClosed = true));
    client.write("GET / HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    const frames = () => atClient.subarray(atClient.indexOf("\r\n\r\n") + 4);
    await waitFor(() => atClient.includes("\r\n\r\n") && frames().length === first.length + 50);

    proxy.switchTo("green");
    await clock.advance(10_000); // mid-frame: the close must wait
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(frames().length).toBe(first.length + 50);
    upstreamSocket?.write(Buffer.concat([long.subarray(50), after]));

    const closeStart = first.length + long.length;
    await waitFor(() => frames().length >= closeStart + 4);
    expect(frames().subarray(0, closeStart).equals(Buffer.concat([first, long]))).toBe(true);
    expect([...frames().subarray(closeStart, closeStart + 4)].slice(0, 1)).toEqual([0x88]); // FIN + close
    expect(frames().readUInt16BE(closeStart + 2)).toBe(1001);
    const closeEnd = closeStart + 2 + (frames()[closeStart + 1] as number);
    upstreamSocket?.write(after); // the client has been told goodbye: this must not reach it
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(frames().length).toBe(closeEnd);

    const reply = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]); // masked (with a zero key) close 1001
    client.write(reply);
    await waitFor(() => clientClosed);
    expect(atUpstream.subarray(-reply.length).equals(reply)).toBe(true); // the reply went on to the replica
  });

  it("sends new WebSockets to the new slot during the grace and cancels the grace if the old slot goes live again", async () => {
    const clock = new ManualClock();
    const blue = await ws("blue");
    const green = await ws("green");
    const { proxy } = await startProxy(clock);
    await slotsOf(proxy, blue, green);
    const onBlue = await openClient(proxy);

    proxy.switchTo("green");
    const onGreen = await openClient(proxy);
    expect(await onGreen.ask("x")).toBe("green:x");
    proxy.switchTo("blue");
    await clock.advance(60_000);

    expect(await onBlue.ask("still")).toBe("blue:still");
    expect(onBlue.closeCode).toBeUndefined();
    expect(await onGreen.closedWithin()).toBe(1001); // green left live in its turn, and its grace ran out
  });

  it("keeps an SSE stream to the old slot past drainTimeout until longLivedGrace, then ends it cleanly, not as an error", async () => {
    const clock = new ManualClock();
    const blue = await sseUpstream("blue");
    const green = await startTextUpstream("green");
    upstreams.push(green);
    const { proxy, base, events } = await startProxy(clock);
    await slotsOf(proxy, blue.upstream, green);
    const { stream, reading } = await subscribe(base);
    blue.send(0, "one");
    await waitFor(() => stream.text.includes("data: one\n\n"));

    proxy.switchTo("green");
    await waitFor(() => events.some((event) => event.type === "drained"));
    expect(events.find((event) => event.type === "drained")).toEqual({ type: "drained", slot: "blue", remaining: 0, timedOut: false });
    await clock.advance(29_999);
    blue.send(0, "two");
    await waitFor(() => stream.text.includes("data: two\n\n"));
    expect(stream.ended).toBe(false);
    expect(await (await request(`${base}/`, { dispatcher: agent })).body.text()).toBe("green");

    await clock.advance(1);
    await reading;
    expect(stream).toMatchObject({ status: 200, ended: true, error: undefined, text: ": open\n\ndata: one\n\ndata: two\n\n" });
    await waitFor(() => blue.closedByProxy[0] === true); // the upstream request was aborted
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 0, inFlight: 0 });
  });

  it("gives the grace, not the drain's cut, to a request that was in flight at the switch and turned into an SSE stream after it", async () => {
    const clock = new ManualClock();
    let answer: () => void = () => undefined;
    const blue = await startUpstream((_req, res) => {
      answer = () => {
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
        res.write("data: late\n\n");
      };
    });
    const green = await startTextUpstream("green");
    upstreams.push(blue, green);
    const { proxy, base, events } = await startProxy(clock);
    await slotsOf(proxy, blue, green);
    const subscribing = subscribe(base);
    await waitFor(() => blue.received === 1);

    proxy.switchTo("green");
    answer();
    const { stream, reading } = await subscribing;
    await waitFor(() => stream.text.includes("data: late"));
    // The drain ends as soon as its last request turned long-lived, before its deadline.
    await waitFor(() => events.some((event) => event.type === "drained"));
    expect(events.find((event) => event.type === "drained")).toEqual({ type: "drained", slot: "blue", remaining: 0, timedOut: false });
    await clock.advance(1_000); // the drain deadline: nothing to cut
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream).toMatchObject({ ended: false, error: undefined });

    await clock.advance(29_000);
    await reading;
    expect(stream).toMatchObject({ status: 200, ended: true, error: undefined, text: "data: late\n\n" });
  });

  it("closes WebSockets with 1001 and ends SSE streams when the proxy shuts down", async () => {
    const clock = new ManualClock();
    const blue = await sseUpstream("blue");
    const { proxy, base } = await startProxy(clock);
    const wsBlue = await ws("blue");
    proxy.setTargets("blue", [blue.upstream.endpoint("blue")]);
    proxy.switchTo("blue");
    const { stream, reading } = await subscribe(base);
    await waitFor(() => stream.text.includes(": open"));
    proxy.setTargets("blue", [wsBlue.endpoint("blue")]);
    const client = await openClient(proxy);

    await proxy.close();
    expect(await client.closedWithin()).toBe(1001);
    await reading;
    expect(stream).toMatchObject({ ended: true, error: undefined });
  });
});

/** Message `index` of streamMessages: sizes cross the 7-bit, 16-bit and 64-bit length forms. */
function streamedMessage(index: number): string {
  const size = [5, 300, 70_000, 126, 65_536, 400_000][index % 6] as number;
  const head = `#${index}|`;
  return head + String.fromCharCode(97 + (index % 26)).repeat(Math.max(0, size - head.length));
}

/**
 * Sends streamedMessage(0), (1), ... a few per tick, so the stream is still flowing when the test
 * acts (and bounded: 2,000 messages at most); every third message goes in two fragments.
 */
function streamMessages(socket: WebSocket, sent: { count: number }): void {
  let index = 0;
  const pump = () => {
    for (let burst = 0; burst < 6 && socket.readyState === WebSocket.OPEN && socket.bufferedAmount < 1024 * 1024 && index < 2_000; burst++) {
      const message = streamedMessage(index);
      if (index % 3 === 0 && message.length > 10) {
        socket.send(message.slice(0, 7), { fin: false });
        socket.send(message.slice(7), { fin: true });
      } else {
        socket.send(message);
      }
      index += 1;
      sent.count = index;
    }
    if (socket.readyState === WebSocket.OPEN && index < 2_000) setTimeout(pump, 1);
  };
  pump();
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
