// Rules that span several keys, checked once the config has the right shape: every listener has an
// address of its own, the two slots' process ports do not collide, check names are unique, a
// monitor source that is asked per metric has a query for every metric the rules name, and a
// control API reachable from other machines has a token.
// Pure: the validated config in, problems out.
import type { RawConfig } from "./schema.js";
import { parseRule } from "../core/rules.js";
import { ownTraffic } from "../routers/schemas.js";
import { isLoopbackListen, parseListenAddress } from "./fields.js";
import { formatPath } from "./source.js";
import type { KeyPath, PathProblem } from "./source.js";

interface Listener {
  path: KeyPath;
  address: string;
  host: string;
  port: number;
  /** Written in flip.yaml, rather than a default. */
  written: boolean;
}

/** `written(path)` says whether a key is in the file, so a clash is reported where the user wrote it. */
export function crossCheck(config: RawConfig, written: (path: KeyPath) => boolean): PathProblem[] {
  const listeners = listenersOf(config, written);
  return [
    ...clashingListeners(listeners),
    ...clashingPorts(config, listeners),
    ...duplicateCheckNames(config),
    ...rulesWithoutQueries(config),
    ...untimedLatencyRules(config),
    ...unguardedControl(config),
    ...unmeasurableRequestRate(config),
  ];
}

/**
 * Why the control API must not start with this listen address and token, or undefined when it
 * may. Loopback needs no token (only this machine can call it); anywhere else it does. Shared with
 * startApiServer, which refuses the same thing for callers that skipped loading a config.
 */
export function controlTokenProblem(listen: string, token: string | undefined, loopback = isLoopbackListen(listen)): string | undefined {
  if (token !== undefined && token.trim() === "") {
    return 'control.token is empty, so no call could ever be authorised: set it to a secret, e.g. token: "${FLIP_TOKEN}" with FLIP_TOKEN exported';
  }
  if (token !== undefined || loopback) return undefined;
  return (
    `control.listen ${listen} can be reached from other machines, so the control API needs a token (without one, anyone who reaches it could deploy or roll back): ` +
    'add `token: "${FLIP_TOKEN}"` under control and export FLIP_TOKEN (e.g. `export FLIP_TOKEN=$(openssl rand -hex 32)`), or listen on 127.0.0.1'
  );
}

function unguardedControl(config: RawConfig): PathProblem[] {
  const problem = controlTokenProblem(config.control.listen, config.control.token);
  if (problem === undefined) return [];
  return [{ path: config.control.token === undefined ? ["control", "listen"] : ["control", "token"], message: problem }];
}

function listenersOf(config: RawConfig, written: (path: KeyPath) => boolean): Listener[] {
  const addresses: { path: KeyPath; address: string | undefined }[] = [];
  if (config.router.kind === "builtin") {
    addresses.push({ path: ["router", "listen"], address: config.router.listen });
    addresses.push({ path: ["router", "preview"], address: config.router.preview });
  }
  addresses.push({ path: ["control", "listen"], address: config.control.listen });
  return addresses.flatMap(({ path, address }) => {
    const parsed = address === undefined ? undefined : parseListenAddress(address);
    return parsed && address !== undefined ? [{ path, address, host: normalHost(parsed.host), port: parsed.port, written: written(path) }] : [];
  });
}

function normalHost(host: string): string {
  const lower = host.toLowerCase();
  return lower === "localhost" ? "127.0.0.1" : lower;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "*"]);

/**
 * Two listeners clash on the same port when their hosts are equal or either listens everywhere.
 * Port 0 asks the system for a free port each time (tests use it), so it never clashes.
 */
function sameAddress(a: Listener, b: Listener): boolean {
  if (a.port === 0 || b.port === 0) return false;
  return a.port === b.port && (a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host));
}

function clashingListeners(listeners: readonly Listener[]): PathProblem[] {
  const problems: PathProblem[] = [];
  listeners.forEach((later, index) => {
    const earlier = listeners.slice(0, index).find((other) => sameAddress(other, later));
    if (!earlier) return;
    // Point at a key the user wrote: a default cannot be "fixed" where it is not written.
    const [reported, other] = later.written || !earlier.written ? [later, earlier] : [earlier, later];
    problems.push({
      path: reported.path,
      message:
        `${reported.address} is also ${formatPath(other.path)}${other.written ? "" : " (its default)"}: ` +
        "router.listen, router.preview and control.listen need three different addresses",
    });
  });
  return problems;
}

function clashingPorts(config: RawConfig, listeners: readonly Listener[]): PathProblem[] {
  const platform = config.platform;
  if (platform.kind !== "process" || !platform.ports) return [];
  const replicas = platform.replicas;
  const ranges = (["blue", "green"] as const).map((slot) => {
    const first = platform.ports?.[slot] as number;
    return { slot, path: ["platform", "ports", slot] as KeyPath, first, last: first + replicas - 1 };
  });
  const problems: PathProblem[] = [];
  for (const range of ranges) {
    if (range.last > 65535) {
      problems.push({ path: range.path, message: `${describeRange(range)} for ${replicas} replicas go past 65535; pick a lower base port` });
    }
    for (const listener of listeners) {
      if (listener.port >= range.first && listener.port <= range.last) {
        const where = range.first === range.last ? "is" : `include ${listener.port},`;
        problems.push({ path: range.path, message: `${describeRange(range)} ${where} the port of ${formatPath(listener.path)}; the slots' ports must differ from the listeners'` });
      }
    }
  }
  const [blue, green] = ranges as [(typeof ranges)[number], (typeof ranges)[number]];
  if (blue.first <= green.last && green.first <= blue.last) {
    problems.push({
      path: green.path,
      message: `${describeRange(green)} ${replicas === 1 ? "is" : "overlap"} ${describeRange(blue)}: each slot needs ${replicas} port${replicas === 1 ? "" : "s"} of its own (base .. base+replicas-1)`,
    });
  }
  return problems;
}

function describeRange(range: { slot: string; first: number; last: number }): string {
  return range.first === range.last ? `${range.slot} port ${range.first}` : `${range.slot} ports ${range.first}..${range.last}`;
}

function duplicateCheckNames(config: RawConfig): PathProblem[] {
  const firstIndex = new Map<string, number>();
  const problems: PathProblem[] = [];
  config.checks.forEach((check, index) => {
    const earlier = firstIndex.get(check.name);
    if (earlier === undefined) firstIndex.set(check.name, index);
    else problems.push({ path: ["checks", index, "name"], message: `check name "${check.name}" is used twice (first at checks[${earlier}]); give each check its own name` });
  });
  return problems;
}

function rulesWithoutQueries(config: RawConfig): PathProblem[] {
  const source = config.monitor.source;
  if (source?.kind !== "prometheus") return [];
  return config.monitor.rules.flatMap((text, index) => {
    const parsed = parseRule(text);
    if (!parsed.ok || source.queries[parsed.rule.metric] !== undefined) return [];
    return [{ path: ["monitor", "rules", index], message: `rule "${text}" needs a PromQL query for ${parsed.rule.metric}: add \`${parsed.rule.metric}: "..."\` under monitor.source.queries` }];
  });
}

/**
 * Without monitor.source, a router's own counters feed the monitor; HAProxy's count requests and
 * 5xx answers but keep no latency distribution, so a latency rule would never be judged. Said at
 * validation, not discovered as "n/a" in every window.
 */
function untimedLatencyRules(config: RawConfig): PathProblem[] {
  if (config.monitor.source !== undefined || ownTraffic(config.router) !== "counted") return [];
  return config.monitor.rules.flatMap((text, index) => {
    const parsed = parseRule(text);
    if (!parsed.ok || parsed.rule.metric === "errorRate" || parsed.rule.metric === "requestRate") return [];
    return [
      {
        path: ["monitor", "rules", index],
        message: `rule "${text}": router ${config.router.kind} counts requests and errors from HAProxy's stats but cannot time them, so ${parsed.rule.metric} is never measured; add a monitor.source (Prometheus) with a ${parsed.rule.metric} query, or remove the rule`,
      },
    ];
  });
}

/** maxRequestRate needs something that counts the live slot's requests: the built-in proxy, HAProxy's stats, an nginx or Caddy access log, or a query. */
function unmeasurableRequestRate(config: RawConfig): PathProblem[] {
  if (config.maxRequestRate === undefined) return [];
  const source = config.monitor.source;
  if (source?.kind === "prometheus") {
    if (source.queries.requestRate !== undefined || source.queries.requests !== undefined) return [];
    return [{ path: ["maxRequestRate"], message: "maxRequestRate needs a PromQL query for the live slot's traffic: add `requestRate: \"...\"` under monitor.source.queries" }];
  }
  const router = config.router;
  if (ownTraffic(router) !== "none") return [];
  return [
    {
      path: ["maxRequestRate"],
      message: `router ${router.kind} does not see the traffic, so nothing can measure the live slot's request rate: add a monitor.source (Prometheus) with a requestRate query${router.kind === "nginx" || router.kind === "caddy" ? " or a router.accessLog" : ""}, or remove maxRequestRate`,
    },
  ];
}
