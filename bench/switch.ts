// `npm run bench:switch`: Flip's proxy under continuous load while traffic flips blue↔green every
// --interval. The proxy runs in its own process (bench/flip-proxy.ts) in front of two nginx upstreams
// that name their slot in a header; each switch is a control call that returns once switchTo() has
// resolved. Every response is recorded, then checked: no failures, and no request that started
// after a switch was applied may be answered by the old slot.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Client } from "undici";
import type { Slot } from "../src/core/slots.js";
import { pickFreePort } from "../src/platforms/process/ports.js";
import { makeWorkDir, nginxSlotUpstreams } from "./lib/configs.js";
import { countFlag, durationFlag, parseFlags, repoRoot } from "./lib/options.js";
import { ProcessGroup } from "./lib/processes.js";
import { runRecordedLoad, type RecordedLoad } from "./lib/recorded-load.js";
import { analyseSwitches, type SwitchAnalysis, type SwitchRecord } from "./lib/switch-analysis.js";
import { controlSwitch, switchEvery } from "./lib/switch-schedule.js";
import { fixed, median, thousands } from "./lib/table.js";
import { describeMachine, findExecutable, installHint } from "./lib/tools.js";

const HOST = "127.0.0.1";
const INITIAL_SLOT: Slot = "blue";

const flags = parseFlags("npm run bench:switch -- [flags]", {
  duration: { default: "10s", help: "how long switches go on (load runs a little longer on both sides)" },
  interval: { default: "500ms", help: "time between two switches" },
  connections: { default: "64", help: "concurrent keep-alive connections" },
  warmup: { default: "2s", help: "load before the measured part, not recorded (lets V8 optimise the proxy)" },
});

interface Addresses {
  proxy: string;
  control: string;
}

async function main(): Promise<number> {
  const nginx = findExecutable("nginx");
  if (nginx === undefined) {
    process.stderr.write(installHint(["nginx"]));
    return 1;
  }
  const durationMs = durationFlag("duration", flags.duration);
  const intervalMs = durationFlag("interval", flags.interval);
  const connections = countFlag("connections", flags.connections);
  const warmupMs = durationFlag("warmup", flags.warmup);
  const switchCount = Math.floor(durationMs / intervalMs);
  // Load runs this long before the first switch and after the last, so both edges see traffic.
  const settleMs = Math.min(intervalMs, 1000);

  console.log("# Flip switch benchmark");
  for (const line of describeMachine({ nginx })) console.log(line);
  console.log(`load: ${connections} keep-alive connections (undici, in the benchmark process), ${switchCount} switches every ${intervalMs}ms after a ${warmupMs}ms warm-up`);

  const group = new ProcessGroup();
  group.stopOnSignals();
  const workDir = makeWorkDir("flip-bench-switch-");
  group.onStopped(() => rmSync(workDir, { recursive: true, force: true }));
  try {
    const addresses = await startEverything(group, nginx, workDir);
    const control = new Client(`http://${addresses.control}`);
    try {
      const origin = `http://${addresses.proxy}`;
      await runRecordedLoad({ origin, connections, durationMs: warmupMs });
      const loadDone = runRecordedLoad({ origin, connections, durationMs: durationMs + 2 * settleMs });
      const switched = switchEvery((to) => controlSwitch(control, to), { initialSlot: INITIAL_SLOT, intervalMs, count: switchCount, settleMs });
      // Settled, not all(): if a switch fails, the load (bounded) still ends before anything is stopped.
      const [load, switches] = await Promise.allSettled([loadDone, switched]);
      if (load.status === "rejected") throw load.reason;
      if (switches.status === "rejected") throw switches.reason;
      const analysis = analyseSwitches(load.value.responses, switches.value, INITIAL_SLOT);
      printReport(load.value, switches.value, analysis, durationMs + 2 * settleMs);
    } finally {
      await control.close();
    }
    return 0;
  } finally {
    await group.stopAll();
  }
}

async function startEverything(group: ProcessGroup, nginx: string, workDir: string): Promise<Addresses> {
  const ports = { blue: await pickFreePort(), green: await pickFreePort() };
  const upstreams = group.start("nginx slots", nginx, nginxSlotUpstreams(workDir, ports).args);
  await group.waitForPort(upstreams, HOST, ports.blue);
  await group.waitForPort(upstreams, HOST, ports.green);
  const [proxyPort, controlPort] = [await pickFreePort(), await pickFreePort()];
  const flip = group.start("flip proxy", process.execPath, [
    join(repoRoot(), "dist/bench/flip-proxy.js"),
    ...["--listen", `${HOST}:${proxyPort}`, "--control", `${HOST}:${controlPort}`, "--live", INITIAL_SLOT],
    ...["--blue", `${HOST}:${ports.blue}`, "--green", `${HOST}:${ports.green}`],
  ]);
  await group.waitForPort(flip, HOST, proxyPort);
  await group.waitForPort(flip, HOST, controlPort);
  return { proxy: `${HOST}:${proxyPort}`, control: `${HOST}:${controlPort}` };
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

function printReport(recording: RecordedLoad, switches: SwitchRecord[], analysis: SwitchAnalysis, loadMs: number): void {
  const latencies = recording.responses.map((response) => response.endMs - response.startMs).sort((a, b) => a - b);
  const callMs = switches.map((record) => record.appliedMs - record.issuedMs);
  const finish = analysis.inFlightFinishMs;
  const rows: Array<[string, string]> = [
    ["requests", `${thousands(analysis.requests)} in ${fixed(loadMs / 1000, 1)}s (${thousands(analysis.requests / (loadMs / 1000))} req/s; blue ${thousands(analysis.bySlot.blue)}, green ${thousands(analysis.bySlot.green)})`],
    ["latency", `p50 ${fixed(percentile(latencies, 0.5), 2)} ms, p99 ${fixed(percentile(latencies, 0.99), 2)} ms, max ${fixed(latencies.at(-1) ?? Number.NaN, 2)} ms`],
    ["non-2xx responses", String(analysis.non2xx)],
    ["socket errors", `${recording.socketErrors}${recording.errorSamples.length ? ` (${recording.errorSamples.join("; ")})` : ""}`],
    ["switches", `${switches.length} (control call: median ${fixed(median(callMs), 2)} ms, max ${fixed(Math.max(...callMs), 2)} ms)`],
    ["old slot after switch", `${fixed(analysis.longestViolationMs, 2)} ms — longest time from a switch applied to the last old-slot answer to a request started after it`],
    ["violations", `${analysis.violations} requests started after a switch was applied and were answered by the old slot`],
    ["during switch calls", `${analysis.duringSwitchCall} requests started while a control call was in progress (either slot is correct)`],
    ["in flight at switches", `${analysis.inFlightAtSwitches} old-slot requests; the last finished ${fixed(median(finish), 2)} ms (median) / ${fixed(finish.length ? Math.max(...finish) : 0, 2)} ms (max) after the switch`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log("");
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
  const clean = analysis.non2xx === 0 && recording.socketErrors === 0 && analysis.violations === 0;
  console.log(`\nzero-failure switch (issue 3): ${clean ? "met" : "MISSED"} — 0 non-2xx, 0 socket errors, 0 violations required`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:switch failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
