// The proxies `npm run bench:switch-external` switches under load, each driven the way Flip drives
// it in production: Flip's built-in proxy (its own process, switched by a control call that returns
// once switchTo() has resolved), nginx (the nginx router: upstream file, nginx -t, graceful reload,
// probe), HAProxy (the haproxy router: `set map` on the runtime API) and Caddy (the caddy router:
// PATCH of a handler's upstreams on the admin API, or with router.srv a signed DNS UPDATE of the SRV
// record the handler reads from a BIND). Every target sits in front of the same two slot upstreams
// and answers on a loopback port of its own.
//
// Adding a proxy = one more SwitchTarget in SWITCH_TARGETS below.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "undici";
import { systemClock } from "../../src/core/clock.js";
import type { Slot } from "../../src/core/slots.js";
import { MemoryDriverState } from "../../src/core/state.js";
import { silentLogger } from "../../src/logging.js";
import { pickFreePort } from "../../src/platforms/process/ports.js";
import { CaddyRouter } from "../../src/routers/caddy/caddy-router.js";
import { caddyRouterSchema } from "../../src/routers/caddy/config.js";
import { haproxyRouterSchema } from "../../src/routers/haproxy/config.js";
import { HaproxyRouter } from "../../src/routers/haproxy/haproxy-router.js";
import { nginxRouterSchema } from "../../src/routers/nginx/config.js";
import { NginxRouter } from "../../src/routers/nginx/nginx-router.js";
import { shellQuote } from "../../src/platforms/command/shell.js";
import { bindZone, nginxInstance } from "./configs.js";
import { controlSwitch } from "./switch-schedule.js";
import { repoRoot } from "./options.js";
import type { ProcessGroup, Started } from "./processes.js";

const HOST = "127.0.0.1";

export interface SwitchTargetContext {
  group: ProcessGroup;
  workDir: string;
  /** host:port of each slot's upstream. */
  upstreams: Record<Slot, string>;
  /** The slot live when the target starts. */
  initialSlot: Slot;
  /** Absolute paths of the programs found on this machine. */
  programs: Partial<Record<Program, string>>;
}

/** The servers a target may need, by executable name. */
export type Program = "nginx" | "haproxy" | "caddy" | "named";

export interface RunningSwitchTarget {
  /** Where the load goes, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Moves traffic; resolves when the switch counts as applied for this proxy. */
  switchTo(slot: Slot): Promise<void>;
  stop(): Promise<void>;
}

export interface SwitchTarget {
  name: string;
  /** One line on how a switch happens, printed under the table. */
  how: string;
  /** The programs it needs: without one, the target is skipped, and said so. */
  needs?: Program[];
  start(context: SwitchTargetContext): Promise<RunningSwitchTarget>;
}

/** SIGTERM, then SIGKILL after 3 s: each target stops before the next one runs, so they do not share the CPU. */
async function stopProcess(started: Started): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

const flipTarget: SwitchTarget = {
  name: "flip (built-in proxy)",
  how: "one reference swap inside the proxy process; the control call returns once switchTo() has resolved",
  async start({ group, upstreams, initialSlot }) {
    const [port, controlPort] = [await pickFreePort(), await pickFreePort()];
    const flip = group.start("flip proxy", process.execPath, [
      join(repoRoot(), "dist/bench/flip-proxy.js"),
      ...["--listen", `${HOST}:${port}`, "--control", `${HOST}:${controlPort}`, "--live", initialSlot],
      ...["--blue", upstreams.blue, "--green", upstreams.green],
    ]);
    await group.waitForPort(flip, HOST, port);
    await group.waitForPort(flip, HOST, controlPort);
    const control = new Client(`http://${HOST}:${controlPort}`);
    return {
      origin: `http://${HOST}:${port}`,
      switchTo: (slot) => controlSwitch(control, slot),
      async stop() {
        await control.close();
        await stopProcess(flip);
      },
    };
  },
};

const nginxTarget: SwitchTarget = {
  name: "nginx (reload)",
  how: "the nginx router: upstream file rewritten, `nginx -t`, `nginx -s reload`; the switch returns once probes on new connections reach the new slot steadily (3 in a row, 250 ms after the first)",
  needs: ["nginx"],
  async start({ group, workDir, upstreams, initialSlot, programs }) {
    const nginx = programs.nginx as string;
    const port = await pickFreePort();
    const upstreamFile = join(workDir, "nginx-switch", "flip-upstream.conf");
    const proxy = nginxInstance(
      workDir,
      "nginx-switch",
      `  include ${upstreamFile};
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://flip_bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
    );
    // What a user's template would add: keep-alive to the upstreams, as nginx's docs advise.
    const template = "upstream {upstream} {\n  {servers}\n  keepalive 64;\n  keepalive_requests 1000000;\n}\n";
    const config = nginxRouterSchema.parse({
      kind: "nginx",
      file: upstreamFile,
      upstream: "flip_bench",
      template,
      slots: { blue: [upstreams.blue], green: [upstreams.green] },
      // Without "-g daemon off;": these commands read the same configuration, then signal the master.
      testCommand: [nginx, ...proxy.args.slice(0, -2), "-t"].map(shellQuote).join(" "),
      reloadCommand: [nginx, ...proxy.args.slice(0, -2), "-s", "reload"].map(shellQuote).join(" "),
      probeUrl: `http://${HOST}:${port}/`,
      slotHeader: "x-flip-slot",
    });
    const router = new NginxRouter(config, { app: "bench", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() }, { configDir: workDir });
    // nginx needs the included file to start: the initial slot's, as Flip would have written it.
    writeFileSync(upstreamFile, `upstream flip_bench { server ${upstreams[initialSlot]}; }\n`);
    const started = group.start("nginx (switched)", nginx, proxy.args);
    await group.waitForPort(started, HOST, port);
    await router.switchTo(initialSlot);
    return {
      origin: `http://${HOST}:${port}`,
      switchTo: (slot) => router.switchTo(slot),
      stop: () => stopProcess(started),
    };
  },
};

const haproxyTarget: SwitchTarget = {
  name: "haproxy (runtime API)",
  how: "the haproxy router: one `set map` on the runtime API (TCP), no reload; the switch returns once HAProxy has answered",
  needs: ["haproxy"],
  async start({ group, workDir, upstreams, initialSlot, programs }) {
    const [port, apiPort] = [await pickFreePort(), await pickFreePort()];
    const map = join(workDir, "haproxy-switch.map");
    const config = join(workDir, "haproxy-switch.cfg");
    writeFileSync(map, `bench bench-${initialSlot}\n`);
    // Tuned as bench:proxy tunes it (one thread, upstream connections reused), plus the map routing.
    writeFileSync(
      config,
      `global
  nbthread 1
  maxconn 4096
  stats socket ipv4@${HOST}:${apiPort} level admin

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s

frontend bench
  bind ${HOST}:${port}
  use_backend %[str(bench),map(${map})]

backend bench-blue
  server blue ${upstreams.blue}

backend bench-green
  server green ${upstreams.green}
`,
    );
    const started = group.start("haproxy (switched)", programs.haproxy as string, ["-db", "-f", config]);
    await group.waitForPort(started, HOST, port);
    await group.waitForPort(started, HOST, apiPort);
    const router = new HaproxyRouter(
      haproxyRouterSchema.parse({ kind: "haproxy", runtimeApi: `${HOST}:${apiPort}`, map, key: "bench", backends: { blue: "bench-blue", green: "bench-green" } }),
      { app: "bench", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() },
    );
    return {
      origin: `http://${HOST}:${port}`,
      switchTo: (slot) => router.switchTo(slot),
      stop: () => stopProcess(started),
    };
  },
};

/** A Caddy serving one reverse_proxy handler "@id": "bench" on a port of its own, started in `dir`. */
async function startCaddy(context: SwitchTargetContext, name: string, upstreamsConfig: object): Promise<{ started: Started; port: number; adminUrl: string }> {
  const { group, workDir, programs } = context;
  const [port, adminPort] = [await pickFreePort(), await pickFreePort()];
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "caddy.json");
  // Caddy's defaults, except what a loopback benchmark needs: plain HTTP, an admin port of its
  // own, nothing written outside `dir` (storage here; HOME and XDG folders below).
  writeFileSync(
    config,
    JSON.stringify({
      admin: { listen: `${HOST}:${adminPort}`, config: { persist: false } },
      storage: { module: "file_system", root: join(dir, "data") },
      logging: { logs: { default: { level: "ERROR" } } },
      apps: {
        http: {
          servers: {
            bench: {
              listen: [`${HOST}:${port}`],
              automatic_https: { disable: true },
              routes: [{ handle: [{ handler: "reverse_proxy", "@id": "bench", ...upstreamsConfig }] }],
            },
          },
        },
      },
    }),
  );
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
  const started = group.start(`caddy (${name})`, programs.caddy as string, ["run", "--config", config], { cwd: dir, env });
  await group.waitForPort(started, HOST, port);
  await group.waitForPort(started, HOST, adminPort);
  return { started, port, adminUrl: `http://${HOST}:${adminPort}` };
}

const caddyTarget: SwitchTarget = {
  name: "caddy (admin API)",
  how: "the caddy router: PATCH /id/<handler>/upstreams on the admin API, which makes Caddy reload its whole config (kept-alive client connections are closed); the switch returns once Caddy has answered",
  needs: ["caddy"],
  async start(context) {
    const { upstreams, initialSlot } = context;
    const caddy = await startCaddy(context, "caddy-admin", { upstreams: [{ dial: upstreams[initialSlot] }] });
    const router = new CaddyRouter(
      caddyRouterSchema.parse({ kind: "caddy", adminUrl: caddy.adminUrl, handlerId: "bench", slots: { blue: [upstreams.blue], green: [upstreams.green] } }),
      { app: "bench", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() },
    );
    return {
      origin: `http://${HOST}:${caddy.port}`,
      switchTo: (slot) => router.switchTo(slot),
      stop: () => stopProcess(caddy.started),
    };
  },
};

const SRV_ZONE = "bench.test";
const SRV_NAME = `_http._tcp.app.${SRV_ZONE}`;

const caddySrvTarget: SwitchTarget = {
  name: "caddy (SRV record)",
  how: "the caddy router with router.srv: one TSIG-signed DNS UPDATE of the SRV record the handler reads from a local BIND every 100ms (Caddy's config never changes); the switch returns once a probe on a new connection is answered by the new slot",
  needs: ["caddy", "named"],
  async start(context) {
    const { group, workDir, upstreams, initialSlot, programs } = context;
    const dnsPort = await pickFreePort();
    const bind = bindZone(workDir, dnsPort, SRV_ZONE);
    const named = group.start("named", programs.named as string, bind.args);
    await group.waitForPort(named, HOST, dnsPort);
    const resolver = { addresses: [`udp/${HOST}:${dnsPort}`] };
    const caddy = await startCaddy(context, "caddy-srv", {
      dynamic_upstreams: { source: "srv", name: SRV_NAME, refresh: "100ms", resolver },
      transport: { protocol: "http", resolver },
    });
    const router = new CaddyRouter(
      caddyRouterSchema.parse({
        kind: "caddy",
        adminUrl: caddy.adminUrl,
        handlerId: "bench",
        probeUrl: `http://${HOST}:${caddy.port}/`,
        slots: { blue: [upstreams.blue], green: [upstreams.green] },
        srv: { server: `${HOST}:${dnsPort}`, zone: SRV_ZONE, name: SRV_NAME, tsig: bind.tsig },
      }),
      { app: "bench", logger: silentLogger, clock: systemClock, state: new MemoryDriverState() },
    );
    await router.switchTo(initialSlot);
    await router.verify(initialSlot, 10_000);
    return {
      origin: `http://${HOST}:${caddy.port}`,
      async switchTo(slot) {
        await router.switchTo(slot);
        await router.verify(slot, 10_000);
      },
      async stop() {
        await stopProcess(caddy.started);
        await stopProcess(named);
      },
    };
  },
};

/** In the order they run and are printed. */
export const SWITCH_TARGETS: SwitchTarget[] = [flipTarget, nginxTarget, haproxyTarget, caddyTarget, caddySrvTarget];
