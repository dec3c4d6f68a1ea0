import { once } from "node:events";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { ProxyServer, ProxyOptions } from "./server.js";
import { liveOn, ProxyHarness } from "./testing/proxy-harness.js";

describe("ProxyServer", () => {
  const harness = new ProxyHarness();
  let client = new Agent();

  afterEach(async () => {
    await harness.close();
    await client.destroy(); // not close(): a failed test may leave a body unread
    client = new Agent();
  });

  async function startProxy(options: Partial<ProxyOptions> = {}): Promise<{ proxy: ProxyServer; base: string }> {
    const { proxy, base } = await harness.start(options);
    return { proxy, base };
  }

  const upstream = (handler: Parameters<typeof harness.upstream>[0]) => harness.upstream(handler);
  const textUpstream = (text: string) => harness.textUpstream(text);

  async function get(url: string): Promise<{ status: number; text: string }> {
    const response = await request(url, { dispatcher: client });
    return { status: response.statusCode, text: await response.body.text() };
  }

  it("forwards method, path, query, headers and a streamed 1 MB body both ways", async () => {
    const echo = await upstream((req, res) => {
      res.writeHead(201, {
        "x-method": req.method ?? "",
        "x-url": req.url ?? "",
        "x-custom": String(req.headers["x-custom"]),
        "x-framing": req.headers["transfer-encoding"] ?? "content-length",
        "x-forwarded-for": String(req.headers["x-forwarded-for"]),
        "x-forwarded-proto": String(req.headers["x-forwarded-proto"]),
        "x-forwarded-host": String(req.headers["x-forwarded-host"]),
      });
      req.pipe(res);
    });
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", echo);

    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const response = await request(`${base}/items/42?color=blue&n=1`, {
      method: "POST",
      headers: { "x-custom": "yes" },
      // A stream without a length, so it travels chunked through the proxy.
      body: Readable.from(
        (function* () {
          for (let offset = 0; offset < body.length; offset += 64 * 1024) yield body.subarray(offset, offset + 64 * 1024);
        })(),
      ),
      dispatcher: client,
    });
    const echoed = Buffer.from(await response.body.arrayBuffer());

    expect(response.statusCode).toBe(201);
    expect(response.headers["x-method"]).toBe("POST");
    expect(response.headers["x-url"]).toBe("/items/42?color=blue&n=1");
    expect(response.headers["x-custom"]).toBe("yes");
    expect(response.headers["x-framing"]).toBe("chunked");
    expect(response.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(response.headers["x-forwarded-proto"]).toBe("http");
    expect(response.headers["x-forwarded-host"]).toBe(proxy.addresses().listen);
    expect(echoed.equals(body)).toBe(true);
  });

  it("does not forward hop-by-hop headers, including those listed in Connection", async () => {
    const echo = await upstream((req, res) => res.end(JSON.stringify(req.headers)));
    const { proxy } = await startProxy();
    liveOn(proxy, "blue", echo);

    const raw = await rawExchange(
      proxy.addresses().listen,
      "GET /h HTTP/1.1\r\nHost: app\r\nConnection: close, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Keep: yes\r\n\r\n",
    );
    const seen = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Record<string, string>;
    expect(seen["x-keep"]).toBe("yes");
    expect(seen["host"]).toBe("app");
    for (const name of ["x-hop", "keep-alive", "proxy-connection", "te"]) expect(seen[name]).toBeUndefined();
  });

  it("streams the response: the client gets the first chunk before the upstream writes the second", async () => {
    let sendRest: () => void = () => undefined;
    const slow = await upstream((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first;");
      sendRest = () => res.end("second");
    });
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", slow);

    const response = await request(`${base}/`, { dispatcher: client });
    let received = "";
    for await (const chunk of response.body) {
      received += (chunk as Buffer).toString();
      // Only now may the upstream finish: a buffering proxy would never hand us this first part.
      if (received === "first;") sendRest();
    }
    expect(received).toBe("first;second");
  });

  it("applies back-pressure: the upstream stalls while the client does not read", async () => {
    const totalBytes = 32 * 1024 * 1024;
    let writtenBytes = 0;
    const big = await upstream((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (writtenBytes < totalBytes) {
          writtenBytes += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.writeHead(200, { "content-length": totalBytes });
      pump();
    });
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", big);

    const response = await request(`${base}/`, { dispatcher: client });
    // Not reading: the upstream must come to a halt well before the end (socket buffers only),
    // where a proxy that ignores back-pressure would take the whole body into memory.
    await waitUntilStable(() => writtenBytes, 150);
    expect(writtenBytes).toBeLessThan(totalBytes);
    let received = 0;
    for await (const chunk of response.body) received += (chunk as Buffer).length;
    expect(received).toBe(totalBytes);
  });

  it("takes the replicas of the live slot in turn", async () => {
    const first = await textUpstream("one");
    const second = await textUpstream("two");
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", first, second);

    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push((await get(`${base}/`)).text);
    expect(answers).toEqual(["one", "two", "one", "two", "one", "two"]);
  });

  it("answers 503 while no slot is live, and when the live slot was emptied", async () => {
    const { proxy, base } = await startProxy();
    expect(await get(`${base}/`)).toEqual({ status: 503, text: "no slot is live\n" });

    liveOn(proxy, "green", await textUpstream("green"));
    proxy.setTargets("green", []);
    expect((await get(`${base}/`)).status).toBe(503);
    expect(proxy.traffic.snapshot("green")).toMatchObject({ requests: 1, errors: 1 });
  });

  it("answers 502 when the upstream refuses connections or resets mid-request", async () => {
    const gone = await textUpstream("gone");
    await gone.close();
    const resetting = await upstream((req) => req.socket.destroy());
    const { proxy, base } = await startProxy();

    liveOn(proxy, "blue", gone);
    expect((await get(`${base}/`)).status).toBe(502);
    liveOn(proxy, "green", resetting);
    expect((await get(`${base}/`)).status).toBe(502);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1 });
    expect(proxy.traffic.snapshot("green")).toMatchObject({ requests: 1, errors: 1 });
  });

  it("answers 504 when the upstream does not answer within upstreamTimeout", async () => {
    const silent = await upstream(() => undefined);
    const { proxy, base } = await startProxy({ upstreamTimeoutMs: 150 });
    liveOn(proxy, "blue", silent);

    const started = Date.now();
    expect((await get(`${base}/`)).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1 });
  });

  it("frees pooled connections when clients abort, even while their requests wait in the pool's queue", async () => {
    const hangs = await upstream((req, res) => {
      if (req.url === "/hang") return; // never answers
      res.end("ok");
    });
    const { proxy, base } = await startProxy({ connectionsPerReplica: 2 });
    liveOn(proxy, "blue", hangs);

    const aborts = Array.from({ length: 20 }, () => new AbortController());
    const clients = aborts.map((abort) =>
      request(`${base}/hang`, { dispatcher: client, signal: abort.signal }).then(
        () => "answered",
        () => "aborted",
      ),
    );
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 20);
    for (const abort of aborts) abort.abort();
    expect(new Set(await Promise.all(clients))).toEqual(new Set(["aborted"]));
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 0);

    // With both pooled connections still stuck on /hang, this would wait forever.
    const after = await request(`${base}/`, { dispatcher: client, signal: AbortSignal.timeout(3_000) });
    expect({ status: after.statusCode, text: await after.body.text() }).toEqual({ status: 200, text: "ok" });
    // The queued requests were dropped when they reached a connection, not sent upstream.
    expect(hangs.received).toBeLessThan(20);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 21, errors: 0 });
  });

  it("counts a client that leaves mid-upload as no upstream error, and keeps serving", async () => {
    let uploadsSeen = 0;
    const sink = await upstream((req, res) => {
      uploadsSeen += 1;
      req.resume();
      req.on("end", () => res.end("stored"));
    });
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", sink);

    const address = proxy.addresses().listen;
    const separator = address.lastIndexOf(":");
    const socket = connect(Number(address.slice(separator + 1)), address.slice(0, separator));
    await once(socket, "connect");
    socket.write("POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000));
    await waitFor(() => uploadsSeen === 1);
    socket.destroy();

    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 0);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 0 });
    expect(await get(`${base}/`)).toEqual({ status: 200, text: "stored" });
  });

  it("answers a malformed request with 400 and keeps serving", async () => {
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", await textUpstream("blue"));

    const raw = await rawExchange(proxy.addresses().listen, "NOT HTTP AT ALL\r\n\r\n");
    expect(raw.startsWith("HTTP/1.1 400")).toBe(true);
    expect(await get(`${base}/`)).toEqual({ status: 200, text: "blue" });
  });

  it("counts requests, errors and latencies per slot", async () => {
    const flaky = await upstream((req, res) => {
      res.statusCode = req.url === "/fail" ? 500 : 200;
      res.end();
    });
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", flaky);

    for (const path of ["/", "/", "/fail", "/", "/fail"]) await get(`${base}${path}`);
    const blue = proxy.traffic.snapshot("blue");
    expect(blue).toMatchObject({ requests: 5, errors: 2, inFlight: 0 });
    expect(blue.latencyCounts.reduce((sum, count) => sum + count, 0)).toBe(5);
    expect(proxy.traffic.snapshot("green")).toMatchObject({ requests: 0, errors: 0 });
  });

  it("serves the idle slot on the preview listener, outside the slot counters", async () => {
    const { proxy, base } = await startProxy({ preview: "127.0.0.1:0" });
    const preview = `http://${proxy.addresses().preview}`;
    expect((await get(`${preview}/`)).status).toBe(503);

    liveOn(proxy, "blue", await textUpstream("blue"));
    expect((await get(`${preview}/`)).status).toBe(503); // the idle slot is empty
    proxy.setTargets("green", [(await textUpstream("green")).endpoint("green")]);

    expect(await get(`${preview}/`)).toEqual({ status: 200, text: "green" });
    expect(await get(`${base}/`)).toEqual({ status: 200, text: "blue" });
    expect(proxy.traffic.snapshot("green").requests).toBe(0);
    expect(proxy.traffic.snapshot("blue").requests).toBe(1);

    proxy.switchTo("green");
    expect(await get(`${preview}/`)).toEqual({ status: 200, text: "blue" });
  });

  it("keeps warm replicas and closes removed ones when targets change", async () => {
    const first = await textUpstream("one");
    const second = await textUpstream("two");
    const { proxy, base } = await startProxy();
    liveOn(proxy, "blue", first, second);
    await get(`${base}/`);

    proxy.setTargets("blue", [second.endpoint("blue")]);
    const answers = new Set<string>();
    for (let i = 0; i < 4; i++) answers.add((await get(`${base}/`)).text);
    expect(answers).toEqual(new Set(["two"]));
  });
});

/** Sends raw bytes to host:port and returns everything the server answers until it closes. */
async function rawExchange(address: string, payload: string): Promise<string> {
  const separator = address.lastIndexOf(":");
  const socket = connect(Number(address.slice(separator + 1)), address.slice(0, separator));
  socket.setTimeout(3_000, () => socket.destroy(new Error("raw exchange timed out")));
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "connect");
  socket.write(payload);
  await once(socket, "close");
  return Buffer.concat(chunks).toString();
}

/** Resolves once `read()` has not changed for `quietMs` (or after 5 s). */
async function waitUntilStable(read: () => number, quietMs: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last = read();
  let lastChange = Date.now();
  while (Date.now() - lastChange < quietMs && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (read() !== last) {
      last = read();
      lastChange = Date.now();
    }
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
