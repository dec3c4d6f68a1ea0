// A real HAProxy for the router's tests: its own folder (haproxy.cfg, the map, the admin socket),
// in the foreground (-db) so the PID we hold is HAProxy itself, on free loopback ports. One backend
// per slot with one health-checked server each, at ports chosen before the slots' apps start.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Slot } from "../../../core/slots.js";
import { pickFreePort, probeTcp } from "../../../platforms/process/ports.js";
import { findServerBinary, stopTree } from "../../testing/local-server.js";
import { parseServerStats } from "../runtime-answers.js";
import { runtimeCommand } from "../runtime-api.js";

export interface HaproxyServer {
  dir: string;
  /** The frontend users reach. */
  url: string;
  /** `ipv4@127.0.0.1:<port>` and the unix socket: both at level admin. */
  runtimeApi: string;
  socketPath: string;
  map: string;
  /** The port each slot's server is expected on (its app is started by the test). */
  slotPorts: Record<Slot, number>;
  backends: Record<Slot, string>;
  /** Until HAProxy's health checks see the slot's server in this state. */
  waitForServer(slot: Slot, state: "UP" | "DOWN"): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHaproxy(app = "shop"): Promise<HaproxyServer> {
  const binary = findServerBinary("haproxy");
  const dir = mkdtempSync(join(tmpdir(), "flip-haproxy-"));
  const [port, apiPort, bluePort, greenPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const backends = { blue: `${app}-blue`, green: `${app}-green` };
  const map = join(dir, "flip.map");
  const socketPath = join(dir, "admin.sock");
  writeFileSync(map, "# written by the test: no slot is live yet\n");
  const config = join(dir, "haproxy.cfg");
  writeFileSync(
    config,
    `global
  stats socket ipv4@127.0.0.1:${apiPort} level admin
  stats socket ${socketPath} level admin

defaults
  mode http
  option http-keep-alive
  timeout connect 2s
  timeout client 10s
  timeout server 10s

frontend www
  bind 127.0.0.1:${port}
  use_backend %[str(${app}),map(${map})]
  default_backend no-slot

backend no-slot
  http-request return status 503 content-type text/plain string "no slot is live"

backend ${backends.blue}
  server blue1 127.0.0.1:${bluePort} check inter 100ms fall 1 rise 1

backend ${backends.green}
  server green1 127.0.0.1:${greenPort} check inter 100ms fall 1 rise 1
`,
  );
  const child = spawn(binary, ["-db", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const runtimeApi = `127.0.0.1:${apiPort}`;
  const server: HaproxyServer = {
    dir,
    url: `http://127.0.0.1:${port}/`,
    runtimeApi,
    socketPath,
    map,
    slotPorts: { blue: bluePort, green: greenPort },
    backends,
    async waitForServer(slot, state) {
      const deadline = Date.now() + 10_000;
      let last = "";
      while (Date.now() < deadline) {
        last = await runtimeCommand({ kind: "tcp", host: "127.0.0.1", port: apiPort }, `show stat ${backends[slot]} 4 -1`, 2_000);
        if (parseServerStats(last)?.[0]?.status.startsWith(state)) return;
        await sleep(20);
      }
      throw new Error(`HAProxy did not see ${slot}'s server ${state} within 10s:\n${last}`);
    },
    kill: () => stopTree(child),
    stop: () => stopTree(child).finally(() => rmSync(dir, { recursive: true, force: true })),
  };
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited with code ${child.exitCode}:\n${output}`);
      if ((await probeTcp("127.0.0.1", port, 500)).ok && (await probeTcp("127.0.0.1", apiPort, 500)).ok) break;
      if (Date.now() > deadline) throw new Error(`haproxy did not listen within 10s:\n${output}`);
      await sleep(20);
    }
    // Servers start out UP until a first check fails: wait for both to be seen DOWN (no app yet).
    await server.waitForServer("blue", "DOWN");
    await server.waitForServer("green", "DOWN");
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
