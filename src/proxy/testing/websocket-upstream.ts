// WebSocket upstreams and clients for the proxy tests, on 127.0.0.1 port 0, built on the `ws`
// package (a dev dependency: the proxy itself only moves bytes). Everything closes hard, so a failed
// test leaves no socket behind.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { Endpoint, Slot } from "../../core/slots.js";

export interface TestWebSocketUpstream {
  url: string;
  /** The upgrade requests it accepted, as the replica saw them. */
  readonly requests: IncomingMessage[];
  endpoint(slot: Slot): Endpoint;
  close(): Promise<void>;
}

/** A WebSocket server; `onConnection` runs for each accepted socket (default: echo, prefixed with `name`). */
export async function startWebSocketUpstream(name: string, onConnection?: (socket: WebSocket, req: IncomingMessage) => void): Promise<TestWebSocketUpstream> {
  const requests: IncomingMessage[] = [];
  const server = createServer((_req, res) => res.end(name));
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, req) => {
    requests.push(req);
    socket.on("error", () => socket.terminate());
    if (onConnection) onConnection(socket, req);
    else socket.on("message", (data, isBinary) => socket.send(isBinary ? data : `${name}:${String(data)}`, { binary: isBinary }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    requests,
    endpoint: (slot) => ({ slot, replica: 0, host: "127.0.0.1", port, url }),
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client socket that records what it receives, so a test can await messages and the close. */
export class TestWebSocketClient {
  readonly socket: WebSocket;
  readonly messages: string[] = [];
  readonly errors: Error[] = [];
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  constructor(url: string, headers: Record<string, string> = {}) {
    this.socket = new WebSocket(url, { headers });
    this.socket.on("message", (data) => {
      this.messages.push(String(data));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.socket.on("error", (error) => this.errors.push(error));
    this.socket.on("close", (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves once the upgrade succeeded; rejects with the proxy's answer (`unexpected-response`) otherwise. */
  opened(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("unexpected-response", (_req, res: IncomingMessage) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += String(chunk)));
        res.on("end", () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
      });
      this.socket.once("error", reject);
    });
  }

  /** Sends `text` and resolves with the next message received. */
  async ask(text: string, timeoutMs = 3_000): Promise<string> {
    const before = this.messages.length;
    this.socket.send(text);
    await this.until(() => this.messages.length > before, timeoutMs);
    return this.messages[before] as string;
  }

  /** Resolves when `condition` holds, re-checked on every message and on close. */
  async until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("the WebSocket condition was not met in time");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  /** The close code, once the socket has closed; rejects after `timeoutMs` so a broken proxy fails instead of hanging. */
  async closedWithin(timeoutMs = 3_000): Promise<number> {
    await this.until(() => this.closeCode !== undefined, timeoutMs);
    return this.closeCode as number;
  }

  close(): void {
    this.socket.terminate();
  }
}

/** A text frame: unmasked as a server sends it, or masked as a client must. */
export function textFrame(text: string, masked = false): Buffer {
  const payload = Buffer.from(text);
  if (!masked) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const maskedPayload = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, maskedPayload]);
}

/** An upstream whose upgrade handler writes raw bytes. */
export async function rawUpgradeUpstream(onUpgrade: (socket: Socket, head: Buffer) => void) {
  const server: Server = createServer((_req, res) => res.end());
  const sockets = new Set<Socket>();
  let upgrades = 0;
  server.on("upgrade", (_req, socket: Socket, head: Buffer) => {
    upgrades += 1;
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    onUpgrade(socket, head);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    /** Upgrade requests received so far. */
    get upgrades() {
      return upgrades;
    },
    endpoint: (slot: Slot) => ({ slot, replica: 0, host: "127.0.0.1", port, url }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
