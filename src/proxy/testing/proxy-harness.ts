// A ProxyServer on 127.0.0.1 port 0 with real upstreams, and raw-socket helpers for the tests that
// speak HTTP byte by byte (limits, malformed requests, HTTP/1.0). Everything started through a
// harness is closed by its close(), even when a test fails half-way.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { systemClock } from "../../core/clock.js";
import type { Slot } from "../../core/slots.js";
import { silentLogger } from "../../logging.js";
import { ProxyServer, type ProxyOptions } from "../server.js";
import { closeAll, startTextUpstream, startUpstream, type TestUpstream } from "./upstream-server.js";

export interface StartedProxy {
  proxy: ProxyServer;
  /** http://host:port of the live listener. */
  base: string;
  /** host:port of the live listener. */
  address: string;
}

export class ProxyHarness {
  private readonly proxies: ProxyServer[] = [];
  private readonly upstreams: TestUpstream[] = [];
  private readonly sockets: Socket[] = [];

  async start(options: Partial<ProxyOptions> = {}): Promise<StartedProxy> {
    const proxy = new ProxyServer({
      listen: "127.0.0.1:0",
      drainTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 5_000,
      connectionsPerReplica: 16,
      clock: systemClock,
      logger: silentLogger,
      ...options,
    });
    this.proxies.push(proxy);
    await proxy.start();
    const address = proxy.addresses().listen;
    return { proxy, base: `http://${address}`, address };
  }

  async upstream(handler: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
    const started = await startUpstream(handler);
    this.upstreams.push(started);
    return started;
  }

  async textUpstream(text: string): Promise<TestUpstream> {
    const started = await startTextUpstream(text);
    this.upstreams.push(started);
    return started;
  }

  /** A raw TCP connection to host:port, destroyed by close() if the test does not. */
  async connect(address: string): Promise<Socket> {
    const separator = address.lastIndexOf(":");
    const socket = connect(Number(address.slice(separator + 1)), address.slice(0, separator));
    this.sockets.push(socket);
    socket.on("error", () => undefined); // a reset is something tests look at, not a crash
    await once(socket, "connect");
    return socket;
  }

  /** Sends `payload` on a new connection and returns everything answered until the proxy closes it (3 s at most). */
  async rawExchange(address: string, payload: string | Buffer): Promise<string> {
    const socket = await this.connect(address);
    const closed = collectUntilClose(socket, 3_000);
    socket.write(payload);
    return closed;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await closeAll(this.proxies);
    await closeAll(this.upstreams);
  }
}

/** Points `slot` at `targets` and makes it live. */
export function liveOn(proxy: ProxyServer, slot: Slot, ...targets: TestUpstream[]): void {
  proxy.setTargets(slot, targets.map((target, replica) => target.endpoint(slot, replica)));
  proxy.switchTo(slot);
}

/** Everything `socket` receives until it closes; rejects after `timeoutMs` with what came so far. */
export function collectUntilClose(socket: Socket, timeoutMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection stayed open for ${timeoutMs} ms; received so far: ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))}`));
    }, timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** Polls `condition` every 5 ms; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once `read()` has not changed for `quietMs` (or after 5 s). */
export async function waitUntilStable(read: () => number, quietMs: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last = read();
  let lastChange = Date.now();
  while (Date.now() - lastChange < quietMs && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (read() !== last) {
      last = read();
      lastChange = Date.now();
    }
  }
}
