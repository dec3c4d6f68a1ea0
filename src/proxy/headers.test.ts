import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from "./headers.js";

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
    ]);
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
