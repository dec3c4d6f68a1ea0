// Ports on the loopback interface: picking a free one for a replica, telling whether a fixed one is
// taken, and whether something accepts connections there (the TCP readiness probe and the
// "is this adopted replica still serving" check).
import { createConnection, createServer } from "node:net";

export const LOOPBACK = "127.0.0.1";

/** A port the OS considers free right now: bind port 0, read what it chose, close. */
export function pickFreePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not read the port chosen on ${host}`))));
    });
  });
}

/**
 * Whether binding host:port works right now. Resolves to undefined when it does, else to the reason
 * (e.g. "EADDRINUSE"), so the caller can word the error for the user.
 */
export function portBindProblem(port: number, host = LOOPBACK): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** One TCP connect to host:port, closed at once. */
export function probeTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ ok: false, reason: "cancelled" });
      return;
    }
    const socket = createConnection({ host, port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, reason: "cancelled" });
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer to a TCP connect within ${timeoutMs}ms` }), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish({ ok: true }));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish({ ok: false, reason: error.code === "ECONNREFUSED" ? "connection refused" : (error.code ?? error.message) }),
    );
  });
}
