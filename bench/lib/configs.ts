// Configuration files for the peers the benchmarks start: nginx as the upstream and as a reverse
// proxy, HAProxy as a reverse proxy. Each is tuned the way its documentation advises for keep-alive
// proxying (one worker / thread, reused upstream connections), so the comparison is fair.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A scratch folder for configs, pid files and logs; readable by nginx's unprivileged worker. */
export function makeWorkDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface NginxInstance {
  dir: string;
  config: string;
  /** Arguments for the nginx binary: foreground, its own prefix, error log and pid file. */
  args: string[];
}

/**
 * One nginx (master + 1 worker) in its own folder. Debian's compiled-in temp and log paths are under
 * /var, which an ordinary user cannot write, so every path is set here.
 */
export function nginxInstance(workDir: string, name: string, httpBody: string): NginxInstance {
  const dir = join(workDir, name);
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const config = join(dir, "nginx.conf");
  const temp = (kind: string) => `${kind}_temp_path ${join(dir, "tmp", kind)};`;
  writeFileSync(
    config,
    `# written by Flip's benchmark
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n  ")}
  # The default (1000) would make wrk and the proxies reconnect all the time.
  keepalive_requests 1000000;
${httpBody}
}
`,
  );
  return { dir, config, args: ["-p", dir, "-e", join(dir, "error.log"), "-c", config, "-g", "daemon off;"] };
}

/** The tiny upstream every proxy forwards to: a fixed 200 with a 3-byte body. */
export function nginxUpstream(workDir: string, port: number): NginxInstance {
  return nginxInstance(
    workDir,
    "upstream",
    `  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok\\n"; }
  }`,
  );
}

/** Two upstreams on one nginx, each naming its slot in a header (for the switch benchmark). */
export function nginxSlotUpstreams(workDir: string, ports: { blue: number; green: number }): NginxInstance {
  const server = (slot: string, port: number) => `  server {
    listen 127.0.0.1:${port};
    location / { add_header X-Flip-Slot ${slot} always; return 200 "${slot}\\n"; }
  }`;
  return nginxInstance(workDir, "slots", `${server("blue", ports.blue)}\n${server("green", ports.green)}`);
}

/** nginx as a reverse proxy with a keep-alive upstream pool, as its docs advise. */
export function nginxProxy(workDir: string, port: number, upstreamPort: number): NginxInstance {
  return nginxInstance(
    workDir,
    "nginx-proxy",
    `  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
}

/** HAProxy in http mode, one thread, reusing upstream connections across client connections. */
export function haproxyConfig(workDir: string, port: number, upstreamPort: number): { config: string; args: string[] } {
  const dir = join(workDir, "haproxy");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "haproxy.cfg");
  writeFileSync(
    config,
    `# written by Flip's benchmark
global
  nbthread 1
  maxconn 4096
  pidfile ${join(dir, "haproxy.pid")}

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s

frontend bench
  bind 127.0.0.1:${port}
  default_backend app

backend app
  server upstream 127.0.0.1:${upstreamPort}
`,
  );
  // -db: stay in the foreground, so the PID we hold is HAProxy itself.
  return { config, args: ["-db", "-f", config] };
}

/** A fixed TSIG secret for the benchmark's BIND (base64 of 32 bytes): it guards nothing outside the run. */
const BENCH_TSIG = { name: "flip-bench", secret: Buffer.from("flip-benchmark-tsig-key-32-bytes").toString("base64") };

export interface NamedFiles {
  /** Everything named writes (pid, journal, session key) stays here. */
  dir: string;
  port: number;
  zone: string;
  /** Zone-file lines after the SOA and NS, relative to the origin, e.g. "shop 60 IN A 192.0.2.10". */
  records?: string[];
  key: { name: string; secret: string };
  /** Who may update the zone; default: the key. */
  updateRule?: string;
}

/**
 * Writes a loopback-only BIND config (named.conf and one primary zone) into `dir` and returns
 * named's arguments: foreground (-g), so the PID a caller holds is named's. Used by the dns and
 * caddy tests and by bench:switch-external.
 */
export function writeNamedConfig(files: NamedFiles): { conf: string; args: string[] } {
  const { dir, port, zone, key } = files;
  mkdirSync(dir, { recursive: true });
  const zoneFile = join(dir, `${zone}.zone`);
  writeFileSync(zoneFile, ["$TTL 60", `@ IN SOA ns1.${zone}. admin.${zone}. ( 1 3600 600 86400 60 )`, `@ IN NS ns1.${zone}.`, "ns1 IN A 127.0.0.1", ...(files.records ?? []), ""].join("\n"));
  const conf = join(dir, "named.conf");
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  pid-file "${join(dir, "named.pid")}";
  session-keyfile "${join(dir, "session.key")}";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
};
key "${key.name}" { algorithm hmac-sha256; secret "${key.secret}"; };
zone "${zone}" { type primary; file "${zoneFile}"; ${files.updateRule ?? `allow-update { key "${key.name}"; };`} };
`,
  );
  return { conf, args: ["-g", "-c", conf, "-p", String(port)] };
}

/** BIND serving one empty zone that takes updates signed with BENCH_TSIG, on loopback `port`. */
export function bindZone(workDir: string, port: number, zone: string): { args: string[]; tsig: { name: string; secret: string } } {
  const { args } = writeNamedConfig({ dir: join(workDir, "bind"), port, zone, key: BENCH_TSIG });
  return { args, tsig: BENCH_TSIG };
}
