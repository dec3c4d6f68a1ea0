import { describe, expect, it } from "vitest";
import { slotOfHeader } from "./slot-probe.js";

describe("slotOfHeader", () => {
  const servers = { blue: ["127.0.0.1:3001", "127.0.0.1:3002"], green: ["127.0.0.1:3101 max_fails=3"] };

  it("takes a slot's name as it is", () => {
    expect(slotOfHeader("Green", servers)).toBe("green");
  });

  it("finds an $upstream_addr among the slots' servers; the last address tried is the one that answered", () => {
    expect(slotOfHeader("127.0.0.1:3002", servers)).toBe("blue");
    expect(slotOfHeader("127.0.0.1:3001, 127.0.0.1:3101", servers)).toBe("green");
    expect(slotOfHeader("127.0.0.1:9999", servers)).toBeUndefined();
    expect(slotOfHeader(undefined, servers)).toBeUndefined();
    expect(slotOfHeader("v2", servers)).toBeUndefined();
  });
});

it("reads Caddy's dial addresses, network prefix and all", () => {
  const dials = { blue: ["tcp/127.0.0.1:3001"], green: ["127.0.0.1:3101"] };
  expect(slotOfHeader("127.0.0.1:3001", dials)).toBe("blue");
  expect(slotOfHeader("127.0.0.1:3101", dials)).toBe("green");
});
