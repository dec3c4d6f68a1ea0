// The real engine and store driving the dns router against a real BIND: an UPDATE the server
// refuses (here: signed with the wrong secret) fails the deployment at the switch, before any
// switch is counted, and the record — checked with the real `dig` — still answers blue. The
// platform is a stand-in (the slots' servers exist outside Flip); engine, store, router and DNS
// server are the real ones.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InstantClock } from "../src/core/clock.testing.js";
import { parseConfigText } from "../src/config/load.js";
import { KEY_NAME, KEY_SECRET, RECORD, startBind, ZONE, type BindServer } from "../src/routers/dns/testing/bind-server.js";
import { startEngine } from "./helpers/engine-harness.js";
import { standInPlatform } from "./helpers/stand-in-platform.js";

const BLUE = "192.0.2.10";
const GREEN = "198.51.100.20";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


/** An engine whose router updates `bind` with the secret FLIP_TSIG_SECRET gives; blue is live. */
async function harness(bind: BindServer, secret: string) {
  const dir = mkdtempSync(join(tmpdir(), "flip-dns-"));
  const yaml = `app: shop
platform: { kind: static, slots: { blue: { url: "http://127.0.0.1:9" }, green: { url: "http://127.0.0.1:10" } } }
router:
  kind: dns
  server: "${bind.address}"
  zone: ${ZONE}
  recordName: ${RECORD}
  ttl: 1s
  slots: { blue: { value: "${BLUE}" }, green: { value: "${GREEN}" } }
  tsig: { name: ${KEY_NAME}, secret: "\${FLIP_TSIG_SECRET}" }
verifyTimeout: 5s
`;
  const config = parseConfigText(yaml, join(dir, "flip.yaml"), { env: { FLIP_TSIG_SECRET: secret } });
  const clock = new InstantClock();
  const { store, engine, router, close } = await startEngine(config, dir, { clock, driverClock: clock, platform: standInPlatform(), metrics: null });
  cleanups.push(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, engine, router };
}

describe("dns router in the engine's flow (BIND)", () => {
  it("a deployment whose UPDATE BIND refuses ends at the switch, nothing counted as switched, the record still blue", async () => {
    const bind = await startBind({ records: [`shop 60 IN A ${BLUE}`] });
    cleanups.push(() => bind.stop());
    const { store, engine, router } = await harness(bind, Buffer.from("not the secret").toString("base64"));

    const started = await engine.deploy("v2", { actor: "test", force: true });
    expect(started.slot).toBe("green");
    const done = await engine.waitFor(started.id);

    expect(done?.reason).toBe(
      `switch to green failed: The DNS server refused the update: check the TSIG key name/secret and allow-update. ${bind.address} refused the update of record ${RECORD} A to green's ${GREEN} (NOTAUTH, TSIG BADSIG).; traffic back on blue`,
    );
    expect(done?.outcome).toBe("rolled-back");
    const phases = store.phasesOf(started.id).map((phase) => phase.phase);
    expect(phases).not.toContain("verifying-switch");
    expect(phases).not.toContain("monitoring");
    // No switch happened, so none was recorded, and rolling back found blue still live: no UPDATE.
    const kinds = store.events({ deploymentId: started.id }).map((event) => event.kind);
    expect(kinds).not.toContain("traffic.switched");
    expect(kinds).not.toContain("traffic.rolled-back");
    expect(bind.dig(RECORD)).toEqual([BLUE]);
    expect(await router.live()).toBe("blue");
  });

  it("with the right secret the same deployment switches the record, and dig answers green", async () => {
    const bind = await startBind({ records: [`shop 60 IN A ${BLUE}`] });
    cleanups.push(() => bind.stop());
    const { store, engine } = await harness(bind, KEY_SECRET);

    const done = await engine.waitFor((await engine.deploy("v2", { actor: "test", force: true })).id);

    expect(done?.outcome).toBe("succeeded");
    expect(bind.dig(RECORD)).toEqual([GREEN]);
    expect(store.events({}).map((event) => event.kind)).toContain("traffic.switched");
  });
});
