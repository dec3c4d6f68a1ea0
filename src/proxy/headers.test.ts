import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientResponseHeaders, forwardedElement, hasRequestBody, responseHead, upstreamRequestHeaders } from "./headers.js";

/** Just the parts of IncomingMessage the header functions read. */
function incoming(raw: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    headers[name] = headers[name] === undefined ? (raw[i + 1] as string) : `${headers[name]}, ${raw[i + 1]}`;
  }
  return { rawHeaders: raw, headers } as unknown as IncomingMessage;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

describe("upstreamRequestHeaders", () => {
  it("drops hop-by-hop headers, including those named in Connection, and keeps the rest as sent", () => {
    const req = incoming([
      "Host", "app.example",
      "Connection", "keep-alive, X-Hop",
      "Keep-Alive", "timeout=5",
      "Proxy-Connection", "keep-alive",
      "TE", "trailers",
      "Trailer", "X-Checksum",
      "Upgrade", "h2c",
      "Transfer-Encoding", "chunked",
      "Expect", "100-continue",
      "X-Hop", "secret",
      "Proxy-Authorization", "Basic abc",
      "Cookie", "a=1",
      "Cookie", "b=2",
    ]);
    const sent = pairs(upstreamRequestHeaders(req, { remoteAddress: "10.0.0.7", protocol: "http" }));
    expect(sent).toEqual([
      ["Host", "app.example"],
      ["Proxy-Authorization", "Basic abc"],
      ["Cookie", "a=1"],
      ["Cookie", "b=2"],
      ["x-forwarded-for", "10.0.0.7"],
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "app.example"],
      ["forwarded", "for=10.0.0.7;proto=http;host=app.example"],
    ]);
  });

  it("appends the client to an existing X-Forwarded-For and overrides a claimed proto and host", () => {
    const req = incoming(["Host", "real.example", "X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"]);
    const sent = pairs(upstreamRequestHeaders(req, { remoteAddress: "127.0.0.1", protocol: "http" }));
    expect(sent).toEqual([
      ["Host", "real.example"],
      ["x-forwarded-for", "1.2.3.4, 127.0.0.1"],
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "real.example"],
      ["forwarded", "for=127.0.0.1;proto=http;host=real.example"],
    ]);
  });

  it("appends this hop to an existing Forwarded header, joining repeated ones", () => {
    const req = incoming(["Host", "app.example:8080", "Forwarded", "for=192.0.2.60;proto=https", "forwarded", "for=198.51.100.17"]);
    const sent = new Map(pairs(upstreamRequestHeaders(req, { remoteAddress: "::1", protocol: "http" })));
    expect(sent.get("forwarded")).toBe('for=192.0.2.60;proto=https, for=198.51.100.17, for="[::1]";proto=http;host="app.example:8080"');
    expect(sent.get("x-forwarded-for")).toBe("::1");
  });

  it("drops the headers a Connection header names, whatever their case", () => {
    const req = incoming(["Host", "a", "Connection", "Keep-Alive, X-Secret", "x-SECRET", "1", "X-Other", "2"]);
    expect(pairs(upstreamRequestHeaders(req, { remoteAddress: undefined, protocol: "http" }))).toEqual([
      ["Host", "a"],
      ["X-Other", "2"],
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "a"],
      ["forwarded", "for=unknown;proto=http;host=a"],
    ]);
  });
});

describe("forwardedElement", () => {
  it("quotes what is not a token and escapes quotes", () => {
    expect(forwardedElement("10.1.2.3", "http", "example.com")).toBe("for=10.1.2.3;proto=http;host=example.com");
    expect(forwardedElement("2001:db8::1", "https", undefined)).toBe('for="[2001:db8::1]";proto=https');
    expect(forwardedElement(undefined, "http", 'we"ird')).toBe('for=unknown;proto=http;host="we\\"ird"');
  });
});

describe("responseHead", () => {
  it("turns undici's raw Buffers into a flat list without hop-by-hop headers, and reads length, type and cookies", () => {
    const raw = ["Connection", "keep-alive, X-Internal", "Keep-Alive", "timeout=5", "Content-Length", "12", "X-Internal", "1", "Content-Type", "text/plain", "Set-Cookie", "a=1", "Set-Cookie", "b=2", "Transfer-Encoding", "chunked", "X-Bytes", "caf\u00e9"].map((text) =>
      Buffer.from(text, "latin1"),
    );
    const head = responseHead(raw);
    expect(pairs(head.headers)).toEqual([
      ["Content-Length", "12"],
      ["Content-Type", "text/plain"],
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
      ["X-Bytes", "caf\u00e9"],
    ]);
    expect(head).toMatchObject({ contentLength: 12, contentType: "text/plain", setsCookie: true });
  });

  it("reports an absent or unusable Content-Length as -1", () => {
    expect(responseHead(["x-a", "1"]).contentLength).toBe(-1);
    expect(responseHead(["content-length", "nope"]).contentLength).toBe(-1);
    expect(responseHead(["content-length", "0"])).toMatchObject({ contentLength: 0, setsCookie: false, contentType: undefined });
  });
});

describe("clientResponseHeaders", () => {
  it("drops hop-by-hop response headers and keeps repeated ones", () => {
    expect(
      clientResponseHeaders({
        connection: "keep-alive, x-internal",
        "keep-alive": "timeout=5",
        "transfer-encoding": "chunked",
        "x-internal": "1",
        "content-type": "text/plain",
        "set-cookie": ["a=1", "b=2"],
      }),
    ).toEqual({ "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] });
  });
});

describe("hasRequestBody", () => {
  it("is true for a chunked or non-zero length body only", () => {
    expect(hasRequestBody(incoming(["Transfer-Encoding", "chunked"]))).toBe(true);
    expect(hasRequestBody(incoming(["Content-Length", "12"]))).toBe(true);
    expect(hasRequestBody(incoming(["Content-Length", "0"]))).toBe(false);
    expect(hasRequestBody(incoming([]))).toBe(false);
  });
});
