// A real nginx for the router's tests: its own folder (config, pid file, logs, temp paths — Debian's
// compiled-in ones are under /var), one worker, listening on a free loopback port, in the
// foreground so the PID we hold is the master. stop() ends it by PID, workers included.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { shellQuote } from "../../../platforms/command/shell.js";
import { pickFreePort, probeTcp } from "../../../platforms/process/ports.js";
import { findServerBinary, readIfExists, stopTree } from "../../testing/local-server.js";
import { FLIP_LOG_FORMAT } from "../../access-log.js";

export interface NginxServer {
  dir: string;
  port: number;
  /** The file the router owns, included by nginx.conf. */
  upstreamFile: string;
  /** `nginx -p DIR -e DIR/error.log -c DIR/nginx.conf -t`, and the same with `-s reload`. */
  testCommand: string;
  reloadCommand: string;
  url: string;
  /** The access log in the flip format (router.accessLog). */
  accessLog: string;
  pid: number;
  errorLog(): string;
  /** Stops nginx, keeping its folder (a test may go on without it). */
  kill(): Promise<void>;
  /** Stops nginx and removes its folder. */
  stop(): Promise<void>;
}

export interface NginxServerOptions {
  /** What the included file holds before Flip writes it (nginx needs it to start). */
  initialUpstream: string;
  /** The upstream name nginx proxies to. */
  upstream: string;
}

export async function startNginx(options: NginxServerOptions): Promise<NginxServer> {
  const binary = findServerBinary("nginx");
  const dir = mkdtempSync(join(tmpdir(), "flip-nginx-"));
  // Workers run as nobody when the master is root: they must be able to reach the temp paths.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "tmp"));
  const port = await pickFreePort();
  const conf = join(dir, "nginx.conf");
  const errorLog = join(dir, "error.log");
  const upstreamFile = join(dir, "flip-upstream.conf");
  const accessLog = join(dir, "access.log");
  writeFileSync(upstreamFile, options.initialUpstream);
  const temp = (kind: string) => `${kind}_temp_path ${join(dir, "tmp", kind)};`;
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${errorLog} notice;
events { worker_connections 512; }
http {
  access_log off;
  ${FLIP_LOG_FORMAT}
  ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n  ")}
  include ${upstreamFile};
  server {
    listen 127.0.0.1:${port};
    access_log ${accessLog} flip;
    location / {
      proxy_pass http://${options.upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Flip-Upstream $upstream_addr always;
    }
  }
}
`,
  );
  const base = [binary, "-p", dir, "-e", errorLog, "-c", conf].map(shellQuote).join(" ");
  const child = spawn(binary, ["-p", dir, "-e", errorLog, "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const server: NginxServer = {
    dir,
    port,
    upstreamFile,
    testCommand: `${base} -t`,
    reloadCommand: `${base} -s reload`,
    url: `http://127.0.0.1:${port}/`,
    accessLog,
    pid: child.pid ?? -1,
    errorLog: () => readIfExists(errorLog),
    kill: () => stopTree(child),
    stop: () => stopTree(child).finally(() => rmSync(dir, { recursive: true, force: true })),
  };
  try {
    await waitForPort(child, port, () => `${stderr}\n${server.errorLog()}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitForPort(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode} before listening:\n${output()}`);
    if ((await probeTcp("127.0.0.1", port, 500)).ok) return;
    await sleep(20);
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port} within 10s:\n${output()}`);
}
