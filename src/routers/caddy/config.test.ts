// The caddy router's config: the defaults, and the mistakes it names.
import { describe, expect, it } from "vitest";
import { caddyRouterSchema } from "./config.js";

function problems(overrides: Record<string, unknown>): string[] {
  const result = caddyRouterSchema.safeParse({ kind: "caddy", ...overrides });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("caddy router config", () => {
  it("talks to Caddy's default admin address, reads x-flip-slot, and takes the slots' addresses from the platform", () => {
    expect(caddyRouterSchema.parse({ kind: "caddy" })).toEqual({ kind: "caddy", adminUrl: "http://127.0.0.1:2019", slotHeader: "x-flip-slot", pollInterval: 100, timeout: 10_000 });
  });

  it("names the mistakes: a dial address without a port, the same addresses for both slots, a handler id Caddy would not take", () => {
    expect(problems({ slots: { blue: ["10.0.0.5"], green: ["10.0.0.6:8080"] } })).toEqual([
      'slots.blue.0: expected a Caddy dial address host:port, e.g. "10.0.0.5:8080" or "app-blue.internal:8080"',
    ]);
    expect(problems({ slots: { blue: ["10.0.0.5:80", "10.0.0.6:80"], green: ["10.0.0.6:80", "10.0.0.5:80"] } })).toEqual([
      "slots: blue and green list the same dial addresses, so Flip could not tell which slot is live",
    ]);
    expect(problems({ handlerId: "my handler" })).toEqual(["handlerId: expected the handler's @id: letters, digits, '_', '.', '-'"]);
    expect(problems({ slots: { blue: ["10.0.0.5:99999"], green: ["10.0.0.6:8080"] } })).toEqual([
      'slots.blue.0: expected a Caddy dial address host:port, e.g. "10.0.0.5:8080" or "app-blue.internal:8080"',
    ]);
    expect(problems({ slots: { blue: ["[::1]:8080"], green: ["tcp/app-green.internal:8080"] } })).toEqual([]);
  });

  it("router.srv: reads the DNS server, zone and record, with a 5s TTL, and names what is wrong", () => {
    const parsed = caddyRouterSchema.parse({ kind: "caddy", srv: { server: "127.0.0.1:5353", zone: "Example.com.", name: "_http._tcp.shop.example.com" } });
    expect(parsed.srv).toEqual({ server: { host: "127.0.0.1", port: 5353 }, zone: "example.com", name: "_http._tcp.shop.example.com", ttl: 5000, timeout: 5000 });
    expect(problems({ srv: { server: "127.0.0.1", zone: "example.com", name: "_http._tcp.shop.example.org" } })).toEqual(["srv.name: _http._tcp.shop.example.org is not in zone example.com"]);
    expect(problems({ srv: { server: "127.0.0.1", zone: "example.com", name: "_http._tcp.example.com", ttl: "1500ms" } })).toEqual(["srv.ttl: expected whole seconds, e.g. 5s"]);
    expect(problems({ srv: { zone: "example.com", name: "_http._tcp.example.com" } })).toHaveLength(1);
  });
});
