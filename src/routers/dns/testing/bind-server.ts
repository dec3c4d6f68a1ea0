// A real BIND (named) for the dns router's tests: its own folder (named.conf, zone file, journal,
// pid file), one primary zone that accepts updates signed with one TSIG key, on a free loopback
// port, in the foreground (-g) so the PID we hold is named's. stop() ends it by that PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pickFreePort } from "../../../platforms/process/ports.js";
import { writeNamedConfig } from "../../../../bench/lib/configs.js";
import { findServerBinary, stopTree } from "../../testing/local-server.js";

export const ZONE = "example.test";
export const RECORD = `shop.${ZONE}`;
export const KEY_NAME = "flip-key";
/** A fixed 32-byte secret (base64): tests may print it, it guards nothing. */
export const KEY_SECRET = Buffer.from("flip-dns-router-test-key-32bytes").toString("base64");

export interface BindServer {
  dir: string;
  port: number;
  /** "127.0.0.1:PORT", as router.server. */
  address: string;
  pid: number;
  /** The real `dig` binary's short answer (one value per line), e.g. ["192.0.2.10"]. */
  dig(name: string, type?: string): string[];
  log(): string;
  stop(): Promise<void>;
}

export interface BindOptions {
  /** Records the zone starts with, as zone-file lines relative to the origin, e.g. "shop 60 IN A 192.0.2.10". */
  records?: string[];
  /** Who may update the zone; default `allow-update { key "flip-key"; };`. */
  updateRule?: string;
}

/** named is in /usr/sbin (often not on PATH); both come from Debian packages named otherwise. */
function findBinary(name: "named" | "dig"): string {
  try {
    return findServerBinary(name);
  } catch {
    throw new Error(`${name} is not installed: \`bash scripts/install-debian-packages.sh\` installs it (Debian packages bind9 and bind9-dnsutils)`);
  }
}

export async function startBind(options: BindOptions = {}): Promise<BindServer> {
  const named = findBinary("named");
  const dig = findBinary("dig");
  const dir = mkdtempSync(join(tmpdir(), "flip-bind-"));
  const port = await pickFreePort();
  const { conf } = writeNamedConfig({ dir, port, zone: ZONE, records: options.records, key: { name: KEY_NAME, secret: KEY_SECRET }, updateRule: options.updateRule });
  let log = "";
  const child: ChildProcess = spawn(named, ["-g", "-c", conf, "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000)));
  const stop = () => stopTree(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitUntilRunning(child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    dir,
    port,
    address: `127.0.0.1:${port}`,
    pid: child.pid as number,
    dig(name, type = "A") {
      const result = spawnSync(dig, ["@127.0.0.1", "-p", String(port), "+short", "+norecurse", "+time=2", "+tries=1", name, type], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`dig failed (${result.status}): ${result.stdout}${result.stderr}`);
      return result.stdout.split("\n").filter((line) => line.length > 0);
    },
    log: () => log,
    stop,
  };
}

/** named logs a line that ends in " running" once every zone is loaded and it listens. */
async function waitUntilRunning(child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`named exited with ${child.exitCode}:\n${log()}`);
    if (/not loaded due to errors/.test(log())) throw new Error(`named could not load the test zone:\n${log()}`);
    if (/ running$/m.test(log())) return;
    await sleep(50);
  }
  throw new Error(`named was not running after 5s:\n${log()}`);
}
