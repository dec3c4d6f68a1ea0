// Replica health through the whole proxy: real node:http replicas on port 0, the check interval and
// the cool-downs on a ManualClock, the probes and requests real.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.testing.js";
import type { Endpoint, Slot } from "../core/slots.js";
import { silentLogger } from "../logging.js";
import type { ActiveCheckOptions } from "./replica-health.js";
import { ProxyServer, type ProxyEvent, type ProxyOptions } from "./server.js";

const INTERVAL_MS = 1_000;
const active: ActiveCheckOptions = {
  path: "/health",
  intervalMs: INTERVAL_MS,
  timeoutMs: 1_000,
  unhealthyAfter: 2,
  healthyAfter: 1,
  isHealthyStatus: (status) => status >= 200 && status < 400,
};
const passive = { failures: 3, ejectForMs: 10_000 };

/** A replica that can be stopped and started again on the same port, counting what it serves. */
interface Replica {
  readonly url: string;
  /** Requests other than health probes. */
  hits: number;
  probes: number;
  /** What /health answers; "hang" never answers (nor does anything else). */
  health: number | "hang";
  endpoint(slot: Slot, replica?: number): Endpoint;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** "answer": the replica's name (and the body it got); "hang": nothing, ever; "reset": breaks the connection. */
async function startReplica(name: string, behaviour: "answer" | "hang" | "reset" = "answer"): Promise<Replica> {
  let server: Server | undefined;
  let port = 0;
  const replica: Replica = {
    url: "",
    hits: 0,
    probes: 0,
    health: behaviour === "hang" ? "hang" : 200,
    endpoint: (slot, index = 0) => ({ slot, replica: index, host: "127.0.0.1", port, url: replica.url }),
    async start() {
      const started = createServer((req, res) => handle(req, res));
      await new Promise<void>((resolve) => started.listen(port, "127.0.0.1", resolve));
      port = (started.address() as AddressInfo).port;
      (replica as { url: string }).url = `http://127.0.0.1:${port}`;
      server = started;
    },
    stop() {
      const stopping = server;
      server = undefined;
      if (stopping === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        stopping.close(() => resolve());
        stopping.closeAllConnections();
      });
    },
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/health") {
      replica.probes += 1;
      if (replica.health !== "hang") res.writeHead(replica.health).end();
      return;
    }
    replica.hits += 1;
    if (behaviour === "hang") return;
    if (behaviour === "reset") return void req.socket.destroy();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => res.end(chunks.length === 0 ? name : `${name}:${Buffer.concat(chunks).toString()}`));
  };
  await replica.start();
  return replica;
}

describe("replica health in the proxy", () => {
  const proxies: ProxyServer[] = [];
  const replicas: Replica[] = [];
  let client = new Agent();

  afterEach(async () => {
    await Promise.allSettled(proxies.splice(0).map((proxy) => proxy.close()));
    await Promise.allSettled(replicas.splice(0).map((replica) => replica.stop()));
    await client.destroy();
    client = new Agent();
  });

  async function replica(name: string, behaviour?: Parameters<typeof startReplica>[1]): Promise<Replica> {
    const started = await startReplica(name, behaviour);
    replicas.push(started);
    return started;
  }

  async function startProxy(options: Partial<ProxyOptions>): Promise<{ proxy: ProxyServer; base: string; events: ProxyEvent[] }> {
    const events: ProxyEvent[] = [];
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 2_000,
      connectTimeoutMs: 5_000,
      upstreamTimeoutMs: 5_000,
      connectionsPerReplica: 8,
      clock: new ManualClock(),
      logger: silentLogger,
      onEvent: (event) => events.push(event),
      ...options,
    });
    proxies.push(proxy);
    await proxy.start();
    return { proxy, base: `http://${proxy.addresses().listen}`, events };
  }

  function liveOn(proxy: ProxyServer, slot: Slot, ...targets: Replica[]): void {
    proxy.setTargets(slot, targets.map((target, index) => target.endpoint(slot, index)));
    proxy.switchTo(slot);
  }

  async function get(url: string, init: { method?: "GET" | "POST"; body?: string } = {}): Promise<{ status: number; text: string }> {
    const response = await request(url, { ...init, dispatcher: client, signal: AbortSignal.timeout(5_000) });
    return { status: response.statusCode, text: await response.body.text() };
  }

  /** The answers of `count` requests in a row, as "status text" unless 200. */
  async function answers(base: string, count: number): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      const { status, text } = await get(`${base}/`);
      seen.push(status === 200 ? text : `${status} ${text.trim()}`);
    }
    return seen;
  }

  /** Moves time to the next probe of every replica and waits until each has recorded its verdict. */
  async function probeRound(clock: ManualClock, loops: number): Promise<void> {
    await clock.advance(INTERVAL_MS);
    await waitFor(() => clock.pendingSleeps === loops);
  }

  it("ejects a replica after unhealthyAfter failed probes, keeps the slot live on the others, and uses it again once it passes", async () => {
    const clock = new ManualClock();
    const a = await replica("a");
    const b = await replica("b");
    const { proxy, base, events } = await startProxy({ clock, health: { active } });
    liveOn(proxy, "blue", a, b);
    expect(clock.pendingSleeps).toBe(2); // one probe loop per replica
    expect(await answers(base, 4)).toEqual(["a", "b", "a", "b"]);

    b.health = 500;
    await probeRound(clock, 2);
    expect(proxy.healthyReplicas("blue")).toBe(2); // one failure is not enough
    await probeRound(clock, 2);
    expect(proxy.healthyReplicas("blue")).toBe(1);
    expect(events.filter((event) => event.type.startsWith("replica-"))).toEqual([
      { type: "replica-ejected", slot: "blue", url: b.url, reason: "the health check failed 2 times in a row (GET /health answered 500)" },
    ]);
    const hitsBefore = b.hits;
    expect(await answers(base, 4)).toEqual(["a", "a", "a", "a"]);
    expect(b.hits).toBe(hitsBefore);
    expect(proxy.live).toBe("blue");

    b.health = 200;
    await probeRound(clock, 2);
    expect(proxy.healthyReplicas("blue")).toBe(2);
    expect(events.at(-1)).toEqual({ type: "replica-restored", slot: "blue", url: b.url, reason: "the health check passed once in a row" });
    expect((await answers(base, 4)).sort()).toEqual(["a", "a", "b", "b"]);
    expect(a.probes).toBe(3);
  });

  it("answers 502 at once, counted as an error, when every replica of the live slot is ejected", async () => {
    const clock = new ManualClock();
    // Replicas that accept connections and never answer: a request sent to one would wait for upstreamTimeout.
    const first = await replica("first", "hang");
    const second = await replica("second", "hang");
    const { proxy, base } = await startProxy({ clock, health: { active: { ...active, timeoutMs: 100 } } });
    liveOn(proxy, "green", first, second);
    await probeRound(clock, 2);
    await probeRound(clock, 2);
    expect(proxy.healthyReplicas("green")).toBe(0);

    const started = performance.now();
    const answer = await get(`${base}/`);
    const elapsedMs = performance.now() - started;
    expect(answer).toEqual({ status: 502, text: "all 2 replicas of green are unhealthy\n" });
    expect(elapsedMs).toBeLessThan(250);
    expect(first.hits + second.hits).toBe(0);
    expect(proxy.traffic.snapshot("green")).toMatchObject({ requests: 1, errors: 1 });
    expect(proxy.live).toBe("green");
  });

  it("ejects a replica whose port closed after `failures` refused requests, losing none of them, and tries it again after the cool-down", async () => {
    const clock = new ManualClock();
    const a = await replica("a");
    const b = await replica("b");
    const { proxy, base, events } = await startProxy({ clock, health: { passive } });
    liveOn(proxy, "blue", a, b);
    expect(await answers(base, 2)).toEqual(["a", "b"]); // a warm keep-alive connection to each

    await b.stop();
    // Every request meant for b is sent to a instead: nothing reached b, so nothing is lost.
    expect(await answers(base, 10)).toEqual(Array(10).fill("a"));
    const ejected = events.filter((event) => event.type === "replica-ejected");
    expect(ejected).toEqual([{ type: "replica-ejected", slot: "blue", url: b.url, reason: expect.stringMatching(/^3 requests in a row could not reach it/) as unknown }]);
    expect(proxy.healthyReplicas("blue")).toBe(1);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 12, errors: 0 });

    await b.start();
    expect(await answers(base, 4)).toEqual(["a", "a", "a", "a"]); // still cooling down
    expect(b.hits).toBe(1);
    await clock.advance(passive.ejectForMs);
    expect((await answers(base, 4)).sort()).toEqual(["a", "a", "b", "b"]);
    expect(events.at(-1)).toEqual({ type: "replica-restored", slot: "blue", url: b.url, reason: "a request reached it after the 10s cool-down" });
    expect(proxy.healthyReplicas("blue")).toBe(2);
  });

  it("sends a request that could not connect, body and all, to another replica once", async () => {
    const gone = await replica("gone");
    await gone.stop();
    const a = await replica("a");
    const { proxy, base } = await startProxy({}); // no ejection: every other request meets the closed port
    liveOn(proxy, "blue", gone, a);

    for (let i = 0; i < 4; i++) expect(await get(`${base}/`, { method: "POST", body: `hello ${i}` })).toEqual({ status: 200, text: `a:hello ${i}` });
    expect(a.hits).toBe(4);
    // Round robin and the retry take turns, so each request met the closed port first: the refusals
    // are that replica's, each request and its answer belong to the one it ended on.
    const replicas = proxy.traffic.counts("blue").replicas;
    expect(replicas.find((counts) => counts.replica === gone.url)).toMatchObject({ requests: 0, inFlight: 0, upstreamErrors: { connect: 4 } });
    expect(replicas.find((counts) => counts.replica === a.url)).toMatchObject({ requests: 4, inFlight: 0, upstreamErrors: { connect: 0 } });
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 4, errors: 0, inFlight: 0 });
  });

  it("repeats a GET whose connection broke before any answer, but never a POST that may have reached the replica", async () => {
    const resetting = await replica("resetting", "reset");
    const a = await replica("a");
    const { proxy, base } = await startProxy({});
    liveOn(proxy, "blue", resetting, a);

    const post = await get(`${base}/`, { method: "POST", body: "once" });
    expect(post.status).toBe(502);
    expect([resetting.hits, a.hits]).toEqual([1, 0]);

    // The first GET goes to a in turn, the second to `resetting`, which breaks it: a answers it.
    expect(await answers(base, 2)).toEqual(["a", "a"]);
    expect([resetting.hits, a.hits]).toEqual([2, 2]);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 3, errors: 1 });
  });

  it("never passively ejects the last replica: with all refusing it answers 502, and the first one back is used at once", async () => {
    const clock = new ManualClock();
    const a = await replica("a");
    const b = await replica("b");
    const { proxy, base, events } = await startProxy({ clock, health: { passive } });
    liveOn(proxy, "blue", a, b);
    await a.stop();
    await b.stop();

    const refused = await answers(base, 8);
    // The ejected one's cool-down ends and its trial fails while the other keeps refusing: still one out.
    await clock.advance(passive.ejectForMs);
    refused.push(...(await answers(base, 8)));
    expect(refused.every((answer) => answer.startsWith("502 "))).toBe(true);
    expect(events.filter((event) => event.type === "replica-ejected")).toHaveLength(1);
    expect(proxy.healthyReplicas("blue")).toBe(1);
    expect(proxy.traffic.snapshot("blue")).toMatchObject({ requests: 16, errors: 16 });

    await a.start();
    await b.start();
    expect((await answers(base, 2)).every((answer) => answer === "a" || answer === "b")).toBe(true);
  });

  it("probes the replicas of both slots, and stops when a slot is emptied or the proxy closes", async () => {
    const clock = new ManualClock();
    const blue = await replica("blue");
    const green = await replica("green");
    const { proxy } = await startProxy({ clock, health: { active } });
    liveOn(proxy, "blue", blue);
    proxy.setTargets("green", [green.endpoint("green")]);

    await probeRound(clock, 2);
    expect([blue.probes, green.probes]).toEqual([1, 1]);
    proxy.setTargets("green", []);
    expect(clock.pendingSleeps).toBe(1);
    await probeRound(clock, 1);
    expect([blue.probes, green.probes]).toEqual([2, 1]);

    await proxy.close();
    expect(clock.pendingSleeps).toBe(0);
    await clock.advance(10 * INTERVAL_MS);
    expect([blue.probes, green.probes]).toEqual([2, 1]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
