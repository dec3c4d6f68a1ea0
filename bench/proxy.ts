// `npm run bench:proxy`: how fast Flip's proxy forwards, next to nginx, HAProxy and node-http-proxy
// measured in the same run against the same upstream (nginx answering a fixed 200). Each proxy runs
// in its own process on its own loopback port; wrk loads them one after the other, and the whole set
// repeats for --rounds interleaved rounds, the order rotating each round, so a noisy neighbour hurts
// every proxy alike. Ratios are taken within a round, then the median over rounds is reported.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { pickFreePort } from "../src/platforms/process/ports.js";
import { builtinRouterSchema } from "../src/routers/builtin/config.js";
import { haproxyConfig, makeWorkDir, nginxProxy, nginxUpstream } from "./lib/configs.js";
import { countFlag, durationFlag, parseFlags, repoRoot } from "./lib/options.js";
import { descendantsOf, ProcessGroup, treeCpuMicros, treeRssBytes } from "./lib/processes.js";
import { describeMachine, findExecutable, findLoadTool, installHint, missingPackages, type Tools } from "./lib/tools.js";
import { fixed, formatTable, median, megabytes, thousands, type Column } from "./lib/table.js";
import { runLoad, type LoadOptions, type LoadResult, type LoadTool } from "./lib/wrk.js";

const HOST = "127.0.0.1";
const NGINX = "nginx";
const NODE_HTTP_PROXY = "node-http-proxy";
const FLIP = "flip";
const FLIP_WORKERS = "flip (workers: 2)";
/** The cheapest Node proxy (dispatch-floor.ts): what Flip's per-request cost is read against. */
const NODE_FLOOR = "node floor: bare undici dispatch";

/** The issue's targets for Flip, against peers measured in the same round. */
const TARGETS = { vsNginx: 0.5, vsNodeHttpProxy: 2.5, p99VsNginx: 3, rssBytes: 150 * 1024 * 1024 };

interface Candidate {
  name: string;
  port: number;
  pid: number;
}

interface Measurement {
  name: string;
  load: LoadResult;
  rssBytes: number;
  cpuMicrosPerRequest: number;
}

type Round = Measurement[];

const flags = parseFlags("npm run bench:proxy -- [flags]", {
  duration: { default: "10s", help: "how long wrk loads each proxy per round" },
  connections: { default: "64", help: "concurrent keep-alive connections" },
  threads: { default: "2", help: "wrk threads" },
  rounds: { default: "3", help: "interleaved rounds over every proxy" },
  warmup: { default: "2s", help: "load before each measurement, not counted" },
});

async function main(): Promise<number> {
  const root = repoRoot();
  const tools: Tools = { nginx: findExecutable("nginx"), haproxy: findExecutable("haproxy"), load: findLoadTool(root) };
  const missing = missingPackages({ nginx: true, haproxy: true, load: true }, tools);
  if (missing.length > 0 || tools.load === undefined) {
    process.stderr.write(installHint(missing));
    return 1;
  }
  const load: LoadOptions = {
    url: "",
    durationSeconds: durationFlag("duration", flags.duration) / 1000,
    connections: countFlag("connections", flags.connections),
    threads: countFlag("threads", flags.threads),
  };
  const rounds = countFlag("rounds", flags.rounds);
  const warmupSeconds = durationFlag("warmup", flags.warmup) / 1000;

  console.log("# Flip proxy benchmark");
  for (const line of describeMachine(tools)) console.log(line);
  console.log(`load: ${tools.load.kind}, ${load.threads} threads, ${load.connections} connections, ${load.durationSeconds}s per proxy after a ${warmupSeconds}s warm-up, ${rounds} round${rounds === 1 ? "" : "s"}`);

  const group = new ProcessGroup();
  group.stopOnSignals();
  const workDir = makeWorkDir("flip-bench-proxy-");
  group.onStopped(() => rmSync(workDir, { recursive: true, force: true }));
  try {
    const candidates = await startEverything(group, tools, root, workDir);
    await checkAnswers(candidates);
    const results: Round[] = [];
    for (let round = 0; round < rounds; round += 1) {
      // Rotate the order so no proxy always runs first (cold caches) or last (warm neighbours).
      const order = candidates.map((_, index) => candidates[(index + round) % candidates.length] as Candidate);
      const measured: Round = [];
      for (const candidate of order) {
        process.stderr.write(`round ${round + 1}/${rounds}: ${candidate.name}…\n`);
        measured.push(await measure(group, tools.load, candidate, { ...load, url: `http://${HOST}:${candidate.port}/` }, warmupSeconds));
      }
      results.push(measured);
      console.log(`\n## Round ${round + 1}\n`);
      console.log(roundTable(measured));
    }
    console.log(`\n## Median over ${rounds} round${rounds === 1 ? "" : "s"}\n`);
    console.log(summaryTable(results));
    console.log(`\n## Targets (issue 3), medians of the per-round ratios\n`);
    console.log(targetLines(results).join("\n"));
    return 0;
  } finally {
    await group.stopAll();
  }
}

/** The upstream, then every proxy; resolves once all of them accept connections. */
async function startEverything(group: ProcessGroup, tools: Tools, root: string, workDir: string): Promise<Candidate[]> {
  const nginx = tools.nginx as string;
  const upstreamPort = await pickFreePort();
  const upstream = group.start("nginx upstream", nginx, nginxUpstream(workDir, upstreamPort).args);
  await group.waitForPort(upstream, HOST, upstreamPort);
  const upstreamAddress = `${HOST}:${upstreamPort}`;

  const node = process.execPath;
  const script = (name: string) => join(root, "dist/bench", name);
  const plans: Array<{ name: string; command: string; args: (port: number) => string[] }> = [
    { name: NGINX, command: nginx, args: (port) => nginxProxy(workDir, port, upstreamPort).args },
    { name: "haproxy", command: tools.haproxy as string, args: (port) => haproxyConfig(workDir, port, upstreamPort).args },
    { name: NODE_HTTP_PROXY, command: node, args: (port) => [script("node-http-proxy.js"), "--listen", `${HOST}:${port}`, "--target", upstreamAddress] },
    { name: NODE_FLOOR, command: node, args: (port) => [script("dispatch-floor.js"), "--listen", `${HOST}:${port}`, "--target", upstreamAddress] },
    { name: FLIP, command: node, args: (port) => [script("flip-proxy.js"), "--listen", `${HOST}:${port}`, "--blue", upstreamAddress] },
  ];
  // A separate row once the router has a `workers` key (another part of issue 3); skipped before.
  if (builtinRouterSchema.safeParse({ kind: "builtin", workers: 2 }).success) {
    plans.push({ name: FLIP_WORKERS, command: node, args: (port) => [script("flip-proxy.js"), "--listen", `${HOST}:${port}`, "--blue", upstreamAddress, "--workers", "2"] });
  } else {
    console.log("(no `workers` key in the builtin router's config yet: the multi-process row is skipped)");
  }
  const candidates: Candidate[] = [];
  for (const plan of plans) {
    const port = await pickFreePort();
    const started = group.start(plan.name, plan.command, plan.args(port));
    await group.waitForPort(started, HOST, port);
    if (plan.name === FLIP_WORKERS && !(await forkedWorkers(started.pid, 2))) {
      // The key may exist before the feature does; a second single-process row would mislead.
      console.log("(the router accepts `workers: 2` but did not fork 2 worker processes: the multi-process row is skipped)");
      continue;
    }
    candidates.push({ name: plan.name, port, pid: started.pid });
  }
  return candidates;
}

/** Whether `pid` has at least `count` child processes within a couple of seconds. */
async function forkedWorkers(pid: number, count: number): Promise<boolean> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    if (descendantsOf(pid).length >= count) return true;
    await sleep(100);
  }
  return false;
}

/** One request through each proxy before measuring: a proxy that answers wrongly is not benchmarked. */
async function checkAnswers(candidates: Candidate[]): Promise<void> {
  const client = new Agent();
  try {
    for (const candidate of candidates) {
      const response = await request(`http://${HOST}:${candidate.port}/`, { dispatcher: client });
      const body = await response.body.text();
      if (response.statusCode !== 200 || body !== "ok\n") {
        throw new Error(`${candidate.name} answered ${response.statusCode} ${JSON.stringify(body)} instead of 200 "ok\\n"`);
      }
    }
  } finally {
    await client.destroy();
  }
}

async function measure(group: ProcessGroup, tool: LoadTool, candidate: Candidate, load: LoadOptions, warmupSeconds: number): Promise<Measurement> {
  const adopt = (pid: number) => group.adopt(pid);
  if (warmupSeconds > 0) await runLoad(tool, { ...load, durationSeconds: warmupSeconds }, adopt);
  const cpuBefore = treeCpuMicros(candidate.pid);
  // Sampled during the load: the figure that matters is the resident set while serving.
  let rssBytes = treeRssBytes(candidate.pid);
  const sampler = setInterval(() => (rssBytes = Math.max(rssBytes, treeRssBytes(candidate.pid))), 1000);
  try {
    const result = await runLoad(tool, load, adopt);
    const cpuMicros = treeCpuMicros(candidate.pid) - cpuBefore;
    return { name: candidate.name, load: result, rssBytes, cpuMicrosPerRequest: result.requests > 0 ? cpuMicros / result.requests : Number.NaN };
  } finally {
    clearInterval(sampler);
  }
}

function byName(round: Round, name: string): Measurement | undefined {
  return round.find((measurement) => measurement.name === name);
}

function ratio(round: Round, name: string, to: string, pick: (measurement: Measurement) => number): number {
  const mine = byName(round, name);
  const theirs = byName(round, to);
  return mine && theirs ? pick(mine) / pick(theirs) : Number.NaN;
}

const rps = (measurement: Measurement) => measurement.load.requestsPerSecond;
const p99 = (measurement: Measurement) => measurement.load.p99Ms;

function roundTable(round: Round): string {
  const columns: Column[] = [
    { title: "proxy" },
    { title: "req/s", align: "right" },
    { title: "× nginx", align: "right" },
    { title: "p50 ms", align: "right" },
    { title: "p99 ms", align: "right" },
    { title: "RSS", align: "right" },
    { title: "CPU µs/req", align: "right" },
    { title: "errors", align: "right" },
  ];
  const rows = [...round]
    .sort((a, b) => rps(b) - rps(a))
    .map((m) => [
      m.name,
      thousands(rps(m)),
      fixed(ratio(round, m.name, NGINX, rps), 2),
      fixed(m.load.p50Ms, 2),
      fixed(m.load.p99Ms, 2),
      megabytes(m.rssBytes),
      fixed(m.cpuMicrosPerRequest, 1),
      String(m.load.non2xx + m.load.socketErrors),
    ]);
  return formatTable(columns, rows);
}

function summaryTable(rounds: Round[]): string {
  const names = (rounds[0] ?? []).map((measurement) => measurement.name);
  const over = (name: string, pick: (m: Measurement) => number) =>
    median(rounds.map((round) => byName(round, name)).filter((m): m is Measurement => m !== undefined).map(pick));
  const columns: Column[] = [
    { title: "proxy" },
    { title: "req/s", align: "right" },
    { title: "× nginx", align: "right" },
    { title: "p50 ms", align: "right" },
    { title: "p99 ms", align: "right" },
    { title: "p99 × nginx", align: "right" },
    { title: "RSS", align: "right" },
    { title: "CPU µs/req", align: "right" },
  ];
  const rows = names
    .map((name) => ({
      name,
      rps: over(name, rps),
      vsNginx: median(rounds.map((round) => ratio(round, name, NGINX, rps))),
      p50: over(name, (m) => m.load.p50Ms),
      p99: over(name, p99),
      p99VsNginx: median(rounds.map((round) => ratio(round, name, NGINX, p99))),
      rss: Math.max(...rounds.map((round) => byName(round, name)?.rssBytes ?? 0)),
      cpu: over(name, (m) => m.cpuMicrosPerRequest),
    }))
    .sort((a, b) => b.rps - a.rps)
    .map((row) => [row.name, thousands(row.rps), fixed(row.vsNginx, 2), fixed(row.p50, 2), fixed(row.p99, 2), fixed(row.p99VsNginx, 2), megabytes(row.rss), fixed(row.cpu, 1)]);
  return `${formatTable(columns, rows)}\n(RSS: the largest sample over all rounds, process and children; CPU: user + system time of the proxy per request)`;
}

function targetLines(rounds: Round[]): string[] {
  const lines: string[] = [];
  for (const flip of [FLIP, FLIP_WORKERS]) {
    if (byName(rounds[0] ?? [], flip) === undefined) continue;
    const vsNginx = median(rounds.map((round) => ratio(round, flip, NGINX, rps)));
    const vsNodeHttpProxy = median(rounds.map((round) => ratio(round, flip, NODE_HTTP_PROXY, rps)));
    const p99VsNginx = median(rounds.map((round) => ratio(round, flip, NGINX, p99)));
    const rssBytes = Math.max(...rounds.map((round) => byName(round, flip)?.rssBytes ?? 0));
    const line = (target: string, value: string, ok: boolean) => `  ${target.padEnd(34)} ${value.padStart(7)}  ${ok ? "met" : "MISSED"}`;
    lines.push(
      `${flip}:`,
      line(`throughput ≥ ${TARGETS.vsNginx}× nginx`, `${fixed(vsNginx, 2)}×`, vsNginx >= TARGETS.vsNginx),
      line(`throughput ≥ ${TARGETS.vsNodeHttpProxy}× node-http-proxy`, `${fixed(vsNodeHttpProxy, 2)}×`, vsNodeHttpProxy >= TARGETS.vsNodeHttpProxy),
      line(`p99 ≤ ${TARGETS.p99VsNginx}× nginx's`, `${fixed(p99VsNginx, 2)}×`, p99VsNginx <= TARGETS.p99VsNginx),
      line(`RSS ≤ ${megabytes(TARGETS.rssBytes)} under load`, megabytes(rssBytes), rssBytes <= TARGETS.rssBytes),
    );
    // Not a target: how much Flip's features cost over the cheapest Node proxy, measured in the same rounds.
    const cpuVsFloor = median(rounds.map((round) => ratio(round, flip, NODE_FLOOR, (m) => m.cpuMicrosPerRequest)));
    if (Number.isFinite(cpuVsFloor)) lines.push(`  ${"CPU µs/request vs the node floor".padEnd(34)} ${`${fixed(cpuVsFloor, 2)}×`.padStart(7)}  (reference)`);
  }
  return lines;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:proxy failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
