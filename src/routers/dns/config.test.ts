// The dns router's config: what a user may write, the defaults, and the mistakes it names.
import { describe, expect, it } from "vitest";
import { dnsRouterSchema, parseServer, sameAnswer } from "./config.js";

const BASE = { kind: "dns", server: "ns1.example.com", zone: "example.com", recordName: "shop.example.com", slots: { blue: { value: "192.0.2.10" }, green: { value: "192.0.2.20" } } };

function problems(overrides: Record<string, unknown>): string[] {
  const result = dnsRouterSchema.safeParse({ ...BASE, ...overrides });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("dns router config", () => {
  it("fills in port 53, type A, a 60s TTL, hmac-sha256, and lowercases names without the final dot", () => {
    const config = dnsRouterSchema.parse({ ...BASE, zone: "Example.COM.", recordName: "Shop.Example.com.", tsig: { name: "flip-key", secret: "c2VjcmV0" } });
    expect(config).toMatchObject({ server: { host: "ns1.example.com", port: 53 }, zone: "example.com", recordName: "shop.example.com", recordType: "A", ttl: 60_000, pollInterval: 1_000, timeout: 5_000 });
    expect(config.tsig).toEqual({ name: "flip-key", algorithm: "hmac-sha256", secret: "c2VjcmV0" });
  });

  it("reads the server as host, host:port, [v6]:port or a bare v6 address", () => {
    expect(parseServer("127.0.0.1:5353")).toEqual({ host: "127.0.0.1", port: 5353 });
    expect(parseServer("[::1]:5353")).toEqual({ host: "::1", port: 5353 });
    expect(parseServer("2001:db8::53")).toEqual({ host: "2001:db8::53", port: 53 });
    expect(parseServer("ns1.example.com:0")).toBeUndefined();
    expect(problems({ server: "http://ns1" })).toEqual(['server: expected the DNS server as host or host:port, e.g. "ns1.example.com" or "127.0.0.1:5353"']);
  });

  it("names the mistakes: a record outside the zone, values of the wrong type, twice the same answer, a secret that is not base64", () => {
    expect(problems({ recordName: "shop.example.org" })).toEqual(["recordName: shop.example.org is not in zone example.com"]);
    expect(problems({ recordType: "AAAA" })).toEqual([
      'slots.blue.value: "192.0.2.10" is not an IPv6 address (recordType: AAAA)',
      'slots.green.value: "192.0.2.20" is not an IPv6 address (recordType: AAAA)',
    ]);
    expect(problems({ recordType: "CNAME", slots: { blue: { value: ["a.example.net", "b.example.net"] }, green: { value: "c.example.net" } } })).toEqual([
      "slots.blue.value: a CNAME record has exactly one value",
    ]);
    expect(problems({ slots: { blue: { value: ["192.0.2.10", "192.0.2.11"] }, green: { value: ["192.0.2.11", "192.0.2.10"] } } })).toEqual([
      "slots: blue and green give the same answer, so Flip could not tell which slot is live",
    ]);
    expect(problems({ tsig: { name: "flip-key", secret: "not base64!" } })).toEqual([
      "tsig.secret: expected the key's secret in base64, as in named.conf (e.g. from `tsig-keygen flip-key`)",
    ]);
    expect(problems({ ttl: "1500ms" })).toEqual(["ttl: expected whole seconds, e.g. 60s"]);
  });

  it("compares answers as sets, IPv6 in any spelling, host names without case or final dot", () => {
    expect(sameAnswer("AAAA", ["2001:DB8:0:0::1"], ["2001:db8::1"])).toBe(true);
    expect(sameAnswer("CNAME", ["Shop-Blue.example.net."], ["shop-blue.example.net"])).toBe(true);
    expect(sameAnswer("A", ["192.0.2.10"], ["192.0.2.10", "192.0.2.11"])).toBe(false);
  });
});
