import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Readable } from "node:stream";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Endpoint } from "../core/slots.js";
import { liveOn, ProxyHarness, waitFor, waitUntilStable } from "./testing/proxy-harness.js";

describe("proxy protocol care", () => {
  let harness = new ProxyHarness();
  let client = new Agent();
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
    await client.destroy();
    client = new Agent();
    await harness.close();
    harness = new ProxyHarness();
  });

  it("tells the replica who called: X-Forwarded-For/-Proto/-Host and Forwarded, appended to what the client sent", async () => {
    const echo = await harness.upstream((req, res) => res.end(JSON.stringify(req.headers)));
    const { proxy, base, address } = await harness.start();
    liveOn(proxy, "blue", echo);

    const response = await request(`${base}/`, {
      dispatcher: client,
      headers: { "x-forwarded-for": "203.0.113.9", forwarded: "for=203.0.113.9;proto=https", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example" },
    });
    const seen = (await response.body.json()) as Record<string, string>;
    expect(seen["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen["x-forwarded-host"]).toBe(address);
    expect(seen["forwarded"]).toBe(`for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host="${address}"`);
  });

  it("honours Connection: close from the client and keeps its own connection to the replica", async () => {
    const connections = new Set<unknown>();
    const echo = await harness.upstream((req, res) => {
      connections.add(req.socket);
      res.end(`upstream saw connection=${req.headers.connection ?? "(none)"}`);
    });
    const { proxy, address } = await harness.start();
    liveOn(proxy, "blue", echo);

    for (let i = 0; i < 2; i++) {
      const answer = await harness.rawExchange(address, "GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n");
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer.toLowerCase()).toContain("\r\nconnection: close\r\n");
      expect(answer).not.toContain("connection=close");
    }
    expect(connections.size).toBe(1); // the pooled connection outlived both client connections
  });

  it("passes repeated response headers on one by one, in order, and drops hop-by-hop ones", async () => {
    const repeats = await harness.upstream((_req, res) => {
      res.writeHead(200, ["Set-Cookie", "a=1", "Vary", "Accept", "Set-Cookie", "b=2", "Vary", "Cookie", "Connection", "X-Hop", "X-Hop", "1", "Content-Length", "2"]);
      res.end("ok");
    });
    const { proxy, address } = await harness.start();
    liveOn(proxy, "blue", repeats);
    const answer = await harness.rawExchange(address, "GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n");
    const lines = answer.split("\r\n");
    expect(lines.filter((line) => /^(set-cookie|vary):/i.test(line))).toEqual(["Set-Cookie: a=1", "Vary: Accept", "Set-Cookie: b=2", "Vary: Cookie"]);
    expect(lines.some((line) => /^x-hop:/i.test(line))).toBe(false);
    expect(answer.endsWith("\r\n\r\nok")).toBe(true);
  });

  it("answers an HTTP/1.0 client without chunked encoding and closes after the answer", async () => {
    const sized = await harness.upstream((_req, res) => {
      res.writeHead(200, { "content-length": 5 });
      res.end("sized");
    });
    const { proxy, address } = await harness.start();
    liveOn(proxy, "blue", sized);
    const answer = await harness.rawExchange(address, "GET / HTTP/1.0\r\nHost: app\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.toLowerCase()).toContain("\r\ncontent-length: 5\r\n");
    expect(answer.toLowerCase()).not.toContain("transfer-encoding");
    expect(answer.endsWith("\r\n\r\nsized")).toBe(true);

    // No length from the replica: the body runs until the proxy closes the connection.
    const streamed = await harness.upstream((_req, res) => {
      res.write("one;");
      setTimeout(() => res.end("two"), 20);
    });
    liveOn(proxy, "green", streamed);
    const unsized = await harness.rawExchange(address, "GET / HTTP/1.0\r\nHost: app\r\n\r\n");
    expect(unsized.toLowerCase()).not.toContain("transfer-encoding");
    expect(unsized.endsWith("\r\n\r\none;two")).toBe(true);
  });

  it("streams a request body with back-pressure: a replica that does not read holds the client's upload back", async () => {
    const totalBytes = 64 * 1024 * 1024;
    let startReading: () => void = () => undefined;
    const sink = await harness.upstream((req, res) => {
      let received = 0;
      startReading = () => {
        req.on("data", (chunk: Buffer) => (received += chunk.length));
        req.on("end", () => res.end(String(received)));
      };
    });
    const { proxy, base } = await harness.start();
    liveOn(proxy, "blue", sink);

    let pulledBytes = 0;
    const chunk = Buffer.alloc(64 * 1024, 97);
    const upload = Readable.from(
      (function* () {
        for (let sent = 0; sent < totalBytes; sent += chunk.length) {
          pulledBytes += chunk.length;
          yield chunk;
        }
      })(),
    );
    const response = request(`${base}/upload`, { method: "POST", body: upload, dispatcher: client });
    await waitFor(() => pulledBytes > 0);
    await waitUntilStable(() => pulledBytes, 200);
    // Socket buffers on three connections, not the whole upload (a buffering proxy would pull it all).
    expect(pulledBytes).toBeLessThan(totalBytes / 4);

    startReading();
    const answer = await response;
    expect(await answer.body.text()).toBe(String(totalBytes));
  });

  it("cancels the upstream request when the client leaves in the middle of the response", async () => {
    let upstreamClosed = false;
    const slow = await harness.upstream((_req, res) => {
      res.on("close", () => (upstreamClosed = true));
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first part;"); // and never the rest
    });
    const { proxy, address } = await harness.start();
    liveOn(proxy, "blue", slow);

    const socket = await harness.connect(address);
    socket.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    await once(socket, "data");
    socket.destroy();
    await waitFor(() => upstreamClosed);
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 0);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 0 });
  });

  it("answers 504 when no connection to the replica opens within connectTimeout", async () => {
    const endpoint = await unacceptingEndpoint(children, harness);
    const { proxy, base } = await harness.start({ connectTimeoutMs: 200 });
    proxy.setTargets("blue", [endpoint]);
    proxy.switchTo("blue");

    const started = Date.now();
    const response = await request(`${base}/`, { dispatcher: client });
    expect(response.statusCode).toBe(504);
    await response.body.text();
    // Well before upstreamTimeout (5 s), which would also end in 504 had the connection opened.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1 });
  });

  it("answers 504 when the replica sends its headers but then stalls longer than upstreamTimeout", async () => {
    const stalls = await harness.upstream((_req, res) => {
      res.writeHead(200, { "content-length": 10 });
      res.write("12345"); // half the body, then nothing
    });
    const { proxy, base } = await harness.start({ upstreamTimeoutMs: 200 });
    liveOn(proxy, "blue", stalls);

    // Too late for a status: the client sees the connection cut before the promised length.
    const response = await request(`${base}/`, { dispatcher: client });
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 1, errors: 1 });
  });
});

/**
 * A replica address where TCP connections never complete: a listener in a stopped process with a
 * full accept queue, so the kernel drops further SYNs (all on loopback).
 */
async function unacceptingEndpoint(children: ChildProcess[], harness: ProxyHarness): Promise<Endpoint> {
  const child = spawn(process.execPath, ["-e", "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  const port = Number(line.toString().trim());
  child.kill("SIGSTOP");
  // Fill the accept queue (backlog 1 admits two) with connections nobody accepts.
  for (let i = 0; i < 4; i++) {
    const filler = harness.connect(`127.0.0.1:${port}`);
    await Promise.race([filler, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  const url = `http://127.0.0.1:${port}`;
  return { slot: "blue", replica: 0, host: "127.0.0.1", port, url };
}
