// A throwaway PostgreSQL for tests: `initdb` a cluster in a temp folder and start `postgres` on a
// free loopback port (Debian's postgresql package; scripts/install-debian-packages.sh installs it).
// PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user and
// both programs run as it. stop() ends the server by its PID (fast shutdown) and removes the folder.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { pickFreePort } from "../../src/platforms/process/ports.js";

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The newest installed server's bin folder, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, "bin", "postgres"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run `bash scripts/install-debian-packages.sh`");
  return join(root, newest, "bin");
}

/** As root, the uid/gid of `postgres` to run the server as; otherwise the current user runs it. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || uid === 0) throw new Error("running as root, but there is no `postgres` user to run PostgreSQL as");
  return { uid, gid };
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "flip-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_ALL: "C", HOME: dir };
  const init = spawnSync(join(bin, "initdb"), ["-D", join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], { ...asUser, env, cwd: dir, encoding: "utf8" });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
  }
  const port = await pickFreePort();
  // fsync off: a test database need not survive a power cut, and it makes DDL much faster.
  const server: ChildProcess = spawn(
    join(bin, "postgres"),
    ["-D", join(dir, "data"), "-k", dir, "-p", String(port), "-h", "127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    { ...asUser, env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  server.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  server.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGINT"); // fast shutdown: roll back open transactions, close connections
      await Promise.race([exited, sleep(10_000)]);
      if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };

  for (let attempt = 0; attempt < 200; attempt++) {
    if (server.exitCode !== null) break;
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return { url, pid: server.pid as number, stop };
    } catch {
      await client.end().catch(() => {});
      await sleep(50);
    }
  }
  await stop();
  throw new Error(`PostgreSQL did not start on port ${port}:\n${log}`);
}
