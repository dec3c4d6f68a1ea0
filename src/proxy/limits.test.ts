import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type ProxyLimits } from "./limits.js";
import { collectUntilClose, liveOn, ProxyHarness, waitFor } from "./testing/proxy-harness.js";

describe("proxy limits", () => {
  let harness = new ProxyHarness();

  afterEach(async () => {
    await harness.close();
    harness = new ProxyHarness();
  });

  async function proxyWith(limits: Partial<ProxyLimits>) {
    const started = await harness.start({ limits: { ...DEFAULT_LIMITS, ...limits } });
    const upstream = await harness.textUpstream("ok");
    liveOn(started.proxy, "blue", upstream);
    return { ...started, upstream };
  }

  /** A GET with `count` header fields in all (Host and Connection: close included). */
  function requestWithHeaders(count: number): string {
    const lines = ["Host: app", "Connection: close"];
    for (let i = lines.length; i < count; i++) lines.push(`X-Header-${i}: ${i}`);
    return `GET / HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
  }

  it("answers 431 to headers larger than maxHeaderBytes, and keeps serving", async () => {
    const { address, upstream } = await proxyWith({ maxHeaderBytes: 4096 });
    const answer = await harness.rawExchange(address, `GET / HTTP/1.1\r\nHost: app\r\nX-Big: ${"a".repeat(5000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(upstream.received).toBe(0);
    const fine = await harness.rawExchange(address, `GET / HTTP/1.1\r\nHost: app\r\nX-Big: ${"a".repeat(3000)}\r\nConnection: close\r\n\r\n`);
    expect(fine).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("answers 431 to more header fields than maxHeaders, and accepts exactly maxHeaders", async () => {
    const { address, upstream } = await proxyWith({ maxHeaders: 20 });
    const tooMany = await harness.rawExchange(address, requestWithHeaders(21));
    expect(tooMany).toMatch(/^HTTP\/1\.1 431 /);
    expect(tooMany).toContain("more than 20 headers");
    expect(upstream.received).toBe(0);

    expect(await harness.rawExchange(address, requestWithHeaders(20))).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstream.received).toBe(1);
  });

  it("answers 408 and closes the connection of a client that sends its headers too slowly (slowloris)", async () => {
    const { address, upstream } = await proxyWith({ headersTimeoutMs: 300, requestTimeoutMs: 5_000 });
    const socket = await harness.connect(address);
    const answer = collectUntilClose(socket, 3_000);
    const started = Date.now();
    socket.write("GET / HTTP/1.1\r\nHost: app\r\n");
    // One header byte every 50 ms: the connection is never idle, the headers never end.
    const drip = setInterval(() => socket.write("X"), 50);
    try {
      expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(250);
    expect(tookMs).toBeLessThan(2_000);
    expect(upstream.received).toBe(0);
  });

  it("ends a request whose body does not arrive within requestTimeout, and cancels it upstream", async () => {
    let upstreamSawClose = false;
    const { address, proxy } = await proxyWith({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const waiting = await harness.upstream((req, res) => {
      req.on("close", () => (upstreamSawClose = true));
      req.resume();
      req.on("end", () => res.end("complete"));
    });
    liveOn(proxy, "green", waiting);
    const socket = await harness.connect(address);
    const answer = collectUntilClose(socket, 3_000);
    socket.write("POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(10));
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    await waitFor(() => upstreamSawClose);
    expect(proxy.traffic.snapshot("green")).toMatchObject({ inFlight: 0, errors: 0 });
  });

  it("closes a keep-alive connection that stays idle for idleTimeout", async () => {
    const { address, upstream } = await proxyWith({ idleTimeoutMs: 200 });
    const socket = await harness.connect(address);
    const answer = collectUntilClose(socket, 3_000);
    socket.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    const started = Date.now();
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    // Node waits idleTimeout plus a second of slack (keepAliveTimeoutBuffer) before it closes.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(upstream.received).toBe(1);
  });

  it("answers 400 to malformed requests without reaching the replica or crashing, and keeps serving", async () => {
    const { address, base, upstream, proxy } = await proxyWith({});
    const malformed: Record<string, string | Buffer> = {
      garbage: "NOT HTTP AT ALL\r\n\r\n",
      "binary noise": Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
      "invalid method": "G@T / HTTP/1.1\r\nHost: app\r\n\r\n",
      "control byte in a header name": "GET / HTTP/1.1\r\nHost: app\r\nX-B\x01d: 1\r\n\r\n",
      "NUL in a header value": "GET / HTTP/1.1\r\nHost: app\r\nX-Bad: a\x00b\r\n\r\n",
      "absurd Content-Length": "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
      "negative Content-Length": "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: -1\r\n\r\n",
      "two different Content-Lengths": "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "Content-Length and Transfer-Encoding": "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "bad chunk size": "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.1 without Host": "GET / HTTP/1.1\r\n\r\n",
    };
    const answers: Record<string, string> = {};
    for (const [name, payload] of Object.entries(malformed)) answers[name] = (await harness.rawExchange(address, payload)).split("\r\n")[0] ?? "";
    expect(answers).toEqual(Object.fromEntries(Object.keys(malformed).map((name) => [name, "HTTP/1.1 400 Bad Request"])));

    expect(upstream.received).toBe(0);
    // A bad chunk shows up after the headers, once the request has begun: it ends as a client-side
    // failure (499), never as an error of the slot.
    await waitFor(() => proxy.traffic.snapshot("blue").inFlight === 0);
    expect(proxy.traffic.snapshot("blue").errors).toBe(0);
    const after = await fetch(`${base}/`);
    expect(await after.text()).toBe("ok");
  });
});
