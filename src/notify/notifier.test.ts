// Notifications end to end: a real engine flow (in-memory drivers, ManualClock) feeding a Notifier
// that posts to node:http receivers on port 0 — one that answers, one that fails twice first, one
// that never answers (the flow must not wait for it).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../core/clock.js";
import { InstantClock } from "../core/clock.testing.js";
import { fakeHarness, type FakeHarness } from "../engine/testing/harness.js";
import type { z } from "zod";
import { notifyTargetSchema } from "./config.js";
import type { Notification } from "./message.js";
import { Notifier } from "./notifier.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Receiver {
  url: string;
  bodies: unknown[];
  /** Requests seen, answered or not. */
  hits: number;
}

/** A webhook receiver; `answer` decides each response (leave it unanswered to hang). */
async function receiver(answer: (hit: number, res: ServerResponse) => void = (_hit, res) => res.writeHead(204).end()): Promise<Receiver> {
  const seen: Receiver = { url: "", bodies: [], hits: 0 };
  const server = createServer((req: IncomingMessage, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      seen.hits += 1;
      seen.bodies.push(JSON.parse(text) as unknown);
      answer(seen.hits, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  seen.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-token`;
  return seen;
}

function logCapture(): { logger: pino.Logger; lines: { msg: string; target?: string; attempt?: number; error?: string }[] } {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
  return { logger, lines };
}

async function setUp(targets: z.input<typeof notifyTargetSchema>[], options: { clock?: Clock; monitor?: string } = {}) {
  const h = await fakeHarness("", options.monitor ? { monitor: options.monitor } : {});
  cleanups.push(() => h.close());
  const { logger, lines } = logCapture();
  const notifier = new Notifier(
    targets.map((target) => notifyTargetSchema.parse(target)),
    { app: "shop", clock: options.clock ?? h.clock, logger, deployment: (id) => h.engine.deployment(id) },
  );
  cleanups.push(() => notifier.close());
  h.engine.subscribeAll((event) => notifier.onFlowEvent(event));
  return { h, notifier, lines };
}

const test = { actor: "cli:alice" };

async function deployV1(h: FakeHarness) {
  return h.finish((await h.engine.deploy("v1", test)).id);
}

describe("Notifier", () => {
  it("posts started, switched and succeeded, in order, as JSON", async () => {
    const hook = await receiver();
    const { h, notifier } = await setUp([{ url: hook.url }]);
    const done = await deployV1(h);
    await notifier.idle();
    const bodies = hook.bodies as Notification[];
    expect(bodies.map((body) => body.event)).toEqual(["started", "switched", "succeeded"]);
    expect(bodies[0]).toMatchObject({ app: "shop", deployment: { id: done.id, kind: "deploy", version: "v1", slot: "blue", actor: "cli:alice" } });
    expect(bodies[0]?.text).toBe(`🚀 shop: cli:alice started deploy v1 to blue — ${done.id}`);
    expect(bodies[1]?.text).toBe(`🔀 shop: traffic switched from nothing to blue (v1) — ${done.id}`);
    expect(bodies[2]).toMatchObject({ event: "succeeded", deployment: { outcome: "succeeded" } });
  });

  it("says which rule rolled a deployment back, with its value", async () => {
    const hook = await receiver();
    const { h, notifier } = await setUp([{ url: hook.url, events: ["rolled-back"] }], { monitor: 'monitor: { duration: 3s, interval: 1s, minRequests: 10, rules: ["errorRate < 5%"] }' });
    await deployV1(h);
    h.metrics.setRate("green", 100, 0.25);
    const done = await h.finish((await h.engine.deploy("v2", test)).id);
    expect(done.outcome).toBe("rolled-back");
    await notifier.idle();
    expect(hook.bodies).toEqual([
      expect.objectContaining({
        event: "rolled-back",
        rule: { rule: "errorRate < 5%", metric: "errorRate", value: 0.25, threshold: 0.05, display: "errorRate 25.0% broke errorRate < 5%" },
        text: "↩️ shop: v2 rolled back to blue — errorRate 25.0% broke errorRate < 5%",
      }),
    ]);
  });

  it("says which check aborted a deployment; Slack gets one line of text", async () => {
    const hook = await receiver();
    const slack = await receiver();
    const { h, notifier } = await setUp([
      { url: hook.url, events: ["aborted"] },
      { url: slack.url, events: ["aborted"], format: "slack" },
    ]);
    h.config.checks[0] = { ...h.config.checks[0]!, command: "echo 'no route to db' >&2; exit 3" };
    const done = await deployV1(h);
    expect(done.outcome).toBe("aborted");
    await notifier.idle();
    expect(hook.bodies).toEqual([expect.objectContaining({ event: "aborted", check: { name: "smoke", message: expect.stringMatching(/exited with code 3: no route to db/) as unknown } })]);
    expect(slack.bodies).toEqual([{ text: expect.stringMatching(/^⚠️ shop: deploy v1 to blue aborted before the switch — check smoke failed: .*exited with code 3/) as unknown }]);
  });

  it("retries a receiver that fails twice, backing off 1s then 2s on the clock, and logs each failure", async () => {
    const flaky = await receiver((hit, res) => res.writeHead(hit <= 2 ? 503 : 200).end());
    const clock = new InstantClock();
    const { h, notifier, lines } = await setUp([{ url: flaky.url, events: ["succeeded"] }], { clock });
    await deployV1(h);
    await notifier.idle();
    expect(flaky.hits).toBe(3);
    expect(clock.sleeps).toEqual([1000, 2000]);
    const notes = lines.filter((line) => line.msg.startsWith("notify:"));
    expect(notes.map((line) => [line.msg, line.attempt ?? null, line.error ?? null])).toEqual([
      ["notify: failed, will retry", 1, "HTTP 503"],
      ["notify: failed, will retry", 2, "HTTP 503"],
      ["notify: delivered", null, null],
    ]);
    // The webhook's secret path stays out of the log.
    expect(JSON.stringify(lines)).not.toContain("secret-token");
  });

  it("gives up after its retries, and at once on an answer that will not change", async () => {
    const down = await receiver((_hit, res) => res.writeHead(500).end());
    const refusing = await receiver((_hit, res) => res.writeHead(404).end());
    const { h, notifier, lines } = await setUp(
      [
        { url: down.url, events: ["succeeded"], retries: 2 },
        { url: refusing.url, events: ["succeeded"] },
      ],
      { clock: new InstantClock() },
    );
    expect((await deployV1(h)).outcome).toBe("succeeded");
    await notifier.idle();
    expect(down.hits).toBe(3);
    expect(refusing.hits).toBe(1);
    expect(lines.filter((line) => line.msg === "notify: gave up").map((line) => line.error)).toEqual(expect.arrayContaining(["HTTP 500", "HTTP 404"]));
  });

  it("never blocks the flow: a receiver that hangs delays only its own messages", async () => {
    const hanging = await receiver(() => {}); // never answers
    const fine = await receiver();
    const { h, notifier } = await setUp([{ url: hanging.url, timeout: "1h" }, { url: fine.url }]);
    const done = await deployV1(h);
    expect(done.outcome).toBe("succeeded");
    await h.until(() => fine.hits === 3, "the other receiver's three messages");
    expect(hanging.hits).toBe(1); // still waiting on the first answer, in order
    const closing = Date.now();
    await notifier.close();
    expect(Date.now() - closing).toBeLessThan(1000);
  });
});
