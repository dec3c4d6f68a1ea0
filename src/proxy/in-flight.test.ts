import { describe, expect, it } from "vitest";
import { InFlight, type InFlightMember } from "./in-flight.js";

interface Item extends InFlightMember {
  name: string;
}

const item = (name: string): Item => ({ name, inFlightIndex: -1 });
const names = (list: InFlight<Item>) => list.snapshot().map((member) => member.name).sort();

describe("InFlight", () => {
  it("adds, counts and removes members in any order", () => {
    const list = new InFlight<Item>();
    const [a, b, c, d] = [item("a"), item("b"), item("c"), item("d")];
    for (const member of [a, b, c, d]) list.add(member);
    expect(list.size).toBe(4);
    expect(list.delete(b)).toBe(true); // from the middle: the last takes its place
    expect(names(list)).toEqual(["a", "c", "d"]);
    expect(list.delete(d)).toBe(true);
    expect(list.delete(a)).toBe(true);
    expect(names(list)).toEqual(["c"]);
    expect([b, d, a].map((member) => member.inFlightIndex)).toEqual([-1, -1, -1]);
    expect(list.has(c)).toBe(true);
    expect(list.has(a)).toBe(false);
  });

  it("ignores a member it does not hold, even one another list holds at the same index", () => {
    const blue = new InFlight<Item>();
    const green = new InFlight<Item>();
    const onBlue = item("blue");
    const onGreen = item("green");
    blue.add(onBlue);
    green.add(onGreen);
    expect(blue.delete(onGreen)).toBe(false);
    expect(blue.has(onGreen)).toBe(false);
    expect(blue.size).toBe(1);
    expect(green.delete(onGreen)).toBe(true);
    expect(green.delete(onGreen)).toBe(false); // twice is harmless
  });

  it("hands out copies, so members can leave while a drain walks the list", () => {
    const list = new InFlight<Item>();
    const members = [item("a"), item("b"), item("c")];
    for (const member of members) list.add(member);
    const seen: string[] = [];
    for (const member of list) {
      seen.push(member.name);
      list.delete(member);
    }
    expect(seen.sort()).toEqual(["a", "b", "c"]);
    expect(list.size).toBe(0);
  });
});
