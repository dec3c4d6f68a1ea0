// `npm run bench:switch-external`: the same switch-under-load run as bench:switch, against each
// proxy in bench/lib/switch-targets.ts in turn — Flip's built-in proxy, nginx switched by the nginx
// router (file + nginx -t + graceful reload), HAProxy switched by the haproxy router (runtime
// API) and Caddy switched by the caddy router (admin API, and SRV record) — so failures per switch can be compared side by side. Every response is recorded (start,
// end, status, which slot answered); the two slot upstreams are one nginx naming its slot in a header.
import { rmSync } from "node:fs";
import type { Slot } from "../src/core/slots.js";
import { pickFreePort } from "../src/platforms/process/ports.js";
import { makeWorkDir, nginxSlotUpstreams } from "./lib/configs.js";
import { oldSlotTailsMs } from "./lib/old-slot-tail.js";
import { countFlag, durationFlag, parseFlags } from "./lib/options.js";
import { ProcessGroup } from "./lib/processes.js";
import { runRecordedLoad, type RecordedLoad } from "./lib/recorded-load.js";
import { analyseSwitches, type SwitchRecord } from "./lib/switch-analysis.js";
import { switchEvery } from "./lib/switch-schedule.js";
import { SWITCH_TARGETS, type Program, type SwitchTarget } from "./lib/switch-targets.js";
import { fixed, formatTable, median, thousands, type Column } from "./lib/table.js";
import { describeMachine, findExecutable, installHint } from "./lib/tools.js";

const HOST = "127.0.0.1";
/** The Debian package each program comes from. */
const PACKAGE_OF: Record<Program, string> = { nginx: "nginx", haproxy: "haproxy", caddy: "caddy", named: "bind9" };
const INITIAL_SLOT: Slot = "blue";

const flags = parseFlags("npm run bench:switch-external -- [flags]", {
  duration: { default: "10s", help: "how long switches go on, per proxy (load runs a little longer on both sides)" },
  interval: { default: "500ms", help: "time between the starts of two switches" },
  connections: { default: "64", help: "concurrent keep-alive connections" },
  warmup: { default: "2s", help: "load before the measured part, per proxy, not recorded" },
  targets: { default: SWITCH_TARGETS.map((target) => target.name.split(" ")[0]).join(","), help: "which proxies to run, by first word" },
});

interface Row {
  target: SwitchTarget;
  load: RecordedLoad;
  switches: SwitchRecord[];
  loadMs: number;
}

async function main(): Promise<number> {
  const programs = { nginx: findExecutable("nginx"), haproxy: findExecutable("haproxy"), caddy: findExecutable("caddy"), named: findExecutable("named") };
  if (programs.nginx === undefined) {
    process.stderr.write(installHint(["nginx"])); // the slots' upstreams are nginx
    return 1;
  }
  const durationMs = durationFlag("duration", flags.duration);
  const intervalMs = durationFlag("interval", flags.interval);
  const connections = countFlag("connections", flags.connections);
  const warmupMs = durationFlag("warmup", flags.warmup);
  const switchCount = Math.floor(durationMs / intervalMs);
  const settleMs = Math.min(intervalMs, 1000);
  const wanted = new Set(flags.targets.split(",").map((name) => name.trim()));
  const targets = SWITCH_TARGETS.filter((target) => wanted.has(target.name.split(" ")[0] as string));

  console.log("# Flip switch benchmark: built-in proxy, nginx, HAProxy and Caddy");
  for (const line of describeMachine(programs)) console.log(line);
  console.log(`load: ${connections} keep-alive connections (undici, in the benchmark process), ${switchCount} switches every ${intervalMs}ms after a ${warmupMs}ms warm-up, per proxy`);

  const group = new ProcessGroup();
  group.stopOnSignals();
  const workDir = makeWorkDir("flip-bench-switch-external-");
  group.onStopped(() => rmSync(workDir, { recursive: true, force: true }));
  const rows: Row[] = [];
  const skipped: string[] = [];
  try {
    const ports = { blue: await pickFreePort(), green: await pickFreePort() };
    const upstreams = group.start("nginx slots", programs.nginx, nginxSlotUpstreams(workDir, ports).args);
    await group.waitForPort(upstreams, HOST, ports.blue);
    await group.waitForPort(upstreams, HOST, ports.green);
    const context = { group, workDir, upstreams: { blue: `${HOST}:${ports.blue}`, green: `${HOST}:${ports.green}` }, initialSlot: INITIAL_SLOT, programs };
    for (const target of targets) {
      const missing = (target.needs ?? []).filter((program) => programs[program] === undefined);
      if (missing.length > 0) {
        skipped.push(`${target.name}: ${missing.join(", ")} not installed (sudo apt-get install -y ${missing.map((program) => PACKAGE_OF[program]).join(" ")})`);
        continue;
      }
      process.stderr.write(`${target.name}…\n`);
      const running = await target.start(context);
      try {
        await runRecordedLoad({ origin: running.origin, connections, durationMs: warmupMs });
        const loadMs = durationMs + 2 * settleMs;
        const loadDone = runRecordedLoad({ origin: running.origin, connections, durationMs: loadMs });
        const switched = switchEvery((slot) => running.switchTo(slot), { initialSlot: INITIAL_SLOT, intervalMs, count: switchCount, settleMs });
        // Settled, not all(): if a switch fails, the load (bounded) still ends before anything is stopped.
        const [load, switches] = await Promise.allSettled([loadDone, switched]);
        if (load.status === "rejected") throw load.reason;
        if (switches.status === "rejected") throw switches.reason;
        rows.push({ target, load: load.value, switches: switches.value, loadMs });
      } finally {
        await running.stop();
      }
    }
  } finally {
    await group.stopAll();
  }
  printReport(rows, skipped);
  return 0;
}

const COLUMNS: Column[] = [
  { title: "proxy" },
  { title: "requests", align: "right" },
  { title: "req/s", align: "right" },
  { title: "non-2xx", align: "right" },
  { title: "socket errors", align: "right" },
  { title: "switches", align: "right" },
  { title: "failures / switch", align: "right" },
  { title: "old slot after call start, max ms", align: "right" },
  { title: "late old-slot answers", align: "right" },
  { title: "switch call, median ms", align: "right" },
];

function printReport(rows: Row[], skipped: string[]): void {
  const table = rows.map(({ target, load, switches, loadMs }) => {
    const analysis = analyseSwitches(load.responses, switches, INITIAL_SLOT);
    const failures = analysis.non2xx + load.socketErrors;
    const callMs = switches.map((record) => record.appliedMs - record.issuedMs);
    return [
      target.name,
      thousands(analysis.requests + load.socketErrors),
      thousands(analysis.requests / (loadMs / 1000)),
      String(analysis.non2xx),
      String(load.socketErrors),
      String(switches.length),
      fixed(switches.length ? failures / switches.length : Number.NaN, 1),
      fixed(Math.max(0, ...oldSlotTailsMs(load.responses, switches)), 1),
      String(analysis.violations),
      fixed(median(callMs), 1),
    ];
  });
  console.log("");
  console.log(formatTable(COLUMNS, table));
  console.log("");
  console.log("failures: non-2xx answers + socket errors (connection reset or closed under a request), the client does not retry.");
  console.log("old slot after call start: the latest start, after a switch call began, of a request the old slot answered.");
  console.log("late old-slot answers: requests started after the switch call returned and answered by the old slot.");
  for (const { target, load } of rows) {
    console.log(`- ${target.name}: ${target.how}${load.errorSamples.length ? `; errors seen: ${load.errorSamples.join("; ")}` : ""}`);
  }
  for (const line of skipped) console.log(`- skipped ${line}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:switch-external failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
