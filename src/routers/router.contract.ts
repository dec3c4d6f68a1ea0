// The contract every Router implementation passes, run by each router's own test against its real
// backend (built-in proxy, nginx, HAProxy, a Kubernetes Service...):
//
//   routerContract("builtin", () => builtinFixture());
//
// The fixture hides how a backend is started and how a slot is filled; the tests only use Router.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EmptySlotError } from "../core/errors.js";
import type { Slot } from "../core/slots.js";
import type { Router } from "./router.js";

export interface RouterFixture {
  /** A fresh router on a fresh backend, not yet started; slots have no targets. */
  create(): Promise<Router>;
  /** Makes `slot` non-empty: starts something that answers for it and tells the router (setTargets or equivalent). */
  fillSlot(router: Router, slot: Slot): Promise<void>;
  /** Simulates a controller restart: a new Router over the same backend and persisted state, started. */
  restart(router: Router): Promise<Router>;
  /** Optional: sends one request through the data plane and returns the slot that answered. */
  request?(router: Router): Promise<Slot>;
  /** Stops everything the fixture started (routers included), even after a failed test. */
  cleanup(): Promise<void>;
  /** `false` for routers whose slots can never be empty (e.g. a DNS record with both answers in flip.yaml). */
  supportsEmptySlots?: false;
}

/** Generous for real load balancers and DNS; the built-in proxy converges at once. */
const VERIFY_TIMEOUT_MS = 10_000;

export function routerContract(name: string, makeFixture: () => RouterFixture): void {
  describe(`Router contract: ${name}`, () => {
    let fixture: RouterFixture;
    let router: Router;

    beforeEach(async () => {
      fixture = makeFixture();
      router = await fixture.create();
      await router.start();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    /** Asserts that live(), verify() and (when the fixture can) real requests agree on `slot`. */
    async function expectLive(slot: Slot): Promise<void> {
      expect(await router.live()).toBe(slot);
      await router.verify(slot, VERIFY_TIMEOUT_MS);
      if (fixture.request) expect(await fixture.request(router)).toBe(slot);
    }

    it("has no live slot when fresh", async () => {
      expect(await router.live()).toBeUndefined();
    });

    it("refuses to switch to an empty slot and leaves traffic where it was", async (context) => {
      context.skip(fixture.supportsEmptySlots === false, `${name} has no empty slots`);
      await expect(router.switchTo("blue")).rejects.toBeInstanceOf(EmptySlotError);
      expect(await router.live()).toBeUndefined();

      await fixture.fillSlot(router, "blue");
      await router.switchTo("blue");
      await expect(router.switchTo("green")).rejects.toBeInstanceOf(EmptySlotError);
      await expectLive("blue");
    });

    it("switches to blue, treats a second switch to blue as a no-op, then switches to green", async () => {
      await fixture.fillSlot(router, "blue");
      await fixture.fillSlot(router, "green");

      await router.switchTo("blue");
      await expectLive("blue");

      await router.switchTo("blue");
      await expectLive("blue");

      await router.switchTo("green");
      await expectLive("green");
    });

    it("switches back and forth, each time answered by the slot it points at", async () => {
      await fixture.fillSlot(router, "blue");
      await fixture.fillSlot(router, "green");
      for (const slot of ["green", "blue", "green", "blue"] as const) {
        await router.switchTo(slot);
        await expectLive(slot);
      }
    });

    it("rejects verify() for the slot that is not live", async () => {
      await fixture.fillSlot(router, "blue");
      await fixture.fillSlot(router, "green");
      await router.switchTo("green");
      await expect(router.verify("blue", 1_000)).rejects.toThrow();
    });

    it("still tells the truth about the live slot after a restart", async () => {
      await fixture.fillSlot(router, "blue");
      await fixture.fillSlot(router, "green");
      await router.switchTo("green");

      router = await fixture.restart(router);
      await expectLive("green");

      await router.switchTo("blue");
      router = await fixture.restart(router);
      await expectLive("blue");
    });
  });
}
