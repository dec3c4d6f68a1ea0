// Helpers for the checks' tests: checks parsed by the real config schema (so defaults and durations
// are what a user gets), real node:http replicas on port 0, and a target pointing at them.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { configSchema, type CheckConfig } from "../../config/schema.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import type { CheckTarget } from "../types.js";

export function checksFrom(raw: unknown[]): CheckConfig[] {
  return configSchema.parse({ app: "test", platform: { kind: "process", command: "true" }, checks: raw }).checks;
}

export interface TestReplica {
  endpoint: Endpoint;
  requests: number;
  close(): Promise<void>;
}

export async function startReplica(
  replica: number,
  handler: (request: IncomingMessage, response: ServerResponse, count: number) => void,
  slot: Slot = "green",
): Promise<TestReplica> {
  const server: Server = createServer((request, response) => {
    state.requests += 1;
    handler(request, response, state.requests);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const state: TestReplica = {
    endpoint: { slot, replica, host: "127.0.0.1", port, url: `http://127.0.0.1:${port}` },
    requests: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}

export function targetOf(endpoints: Endpoint[], version = "v2", slot: Slot = "green"): CheckTarget {
  return { slot, version, url: endpoints[0]?.url ?? "http://127.0.0.1:1", endpoints };
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** True once the pid no longer runs (a zombie nobody has reaped yet counts as gone). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
