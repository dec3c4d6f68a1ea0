// The config keys of issue 6's safety nets: approval, switch windows, the rate gate (and, as they
// land, notify, retire, migrations): their defaults, what they become, and where a mistake is reported.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors.js";
import type { ConfigProblem } from "../core/errors.js";
import { loadConfig, parseConfigText } from "./load.js";

const FILE = "/srv/shop/flip.yaml";
const MINIMAL = `app: shop
platform: { kind: process, command: node server.js }
`;

function problemsOf(text: string): ConfigProblem[] {
  try {
    parseConfigText(text, FILE, { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

describe("approval, switchWindows, maxRequestRate", () => {
  it("default to switching at once", () => {
    const config = parseConfigText(MINIMAL, FILE, { env: {} });
    expect(config).toMatchObject({ approval: "auto", switchWindows: [], maxRequestRateTimeout: 30 * 60_000 });
    expect(config.approvalTimeout).toBeUndefined();
    expect(config.maxRequestRate).toBeUndefined();
  });

  it("read windows and rates into what the engine decides with", () => {
    const config = parseConfigText(
      `${MINIMAL}approval: manual
approvalTimeout: 2h
switchWindows: ["Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 22:00-06:00"]
maxRequestRate: 30000/m
maxRequestRateTimeout: 10m
`,
      FILE,
      { env: {} },
    );
    expect(config.approval).toBe("manual");
    expect(config.approvalTimeout).toBe(2 * 3_600_000);
    expect(config.switchWindows.map((w) => [w.days, w.startMinute, w.endMinute, w.timeZone])).toEqual([
      [[1, 2, 3, 4, 5], 120, 300, "Europe/Berlin"],
      [[0, 6], 1320, 360, "UTC"],
    ]);
    expect(config.maxRequestRate).toBe(500);
    expect(config.maxRequestRateTimeout).toBe(600_000);
  });

  it("report a window, a rate or an approval mode it cannot read at its line", () => {
    expect(problemsOf(`${MINIMAL}switchWindows:\n  - "Mon-Fri 02:00-05:00 Europe/Berlin"\n  - "weekdays 2am"\nmaxRequestRate: 500\napproval: yes\n`)).toEqual([
      { path: "switchWindows[1]", line: 5, message: expect.stringMatching(/^cannot read switch window "weekdays 2am"/) as unknown },
      { path: "maxRequestRate", line: 6, message: 'expected a request rate such as "500/s" or "30000/m", got 500, a number without a unit' },
      { path: "approval", line: 7, message: expect.stringMatching(/expected one of "auto", "manual"/) as unknown },
    ]);
    expect(problemsOf(`${MINIMAL}switchWindows: ["Mon 02:00-05:00 Europe/Paname"]\n`)[0]?.message).toMatch(/unknown time zone "Europe\/Paname"/);
  });

  it("refuse a latency rule that HAProxy's counters cannot measure, and take maxRequestRate from them", () => {
    const haproxy = `app: shop
platform: { kind: static, slots: { blue: { url: "http://10.0.0.1:80" }, green: { url: "http://10.0.0.2:80" } } }
router: { kind: haproxy, runtimeApi: "127.0.0.1:9999", map: /etc/haproxy/flip.map }
maxRequestRate: 500/s
`;
    expect(problemsOf(`${haproxy}monitor: { rules: ["errorRate < 5%", "p99 < 800ms"] }\n`)).toEqual([
      { path: "monitor.rules[1]", line: 5, message: expect.stringMatching(/^rule "p99 < 800ms": router haproxy counts requests and errors from HAProxy's stats but cannot time them/) as unknown },
    ]);
    expect(parseConfigText(`${haproxy}monitor: { rules: ["errorRate < 5%", "requestRate > 1/s"] }\n`, FILE, { env: {} }).maxRequestRate).toBe(500);
  });

  it("refuse maxRequestRate when nothing can measure the live slot's traffic", () => {
    const elsewhere = `app: shop
platform: { kind: static, slots: { blue: { url: "http://10.0.0.1:80" }, green: { url: "http://10.0.0.2:80" } } }
router: { kind: kubernetes-service, service: shop }
maxRequestRate: 500/s
`;
    expect(problemsOf(elsewhere)).toEqual([{ path: "maxRequestRate", line: 4, message: expect.stringMatching(/router kubernetes-service does not see the traffic/) as unknown }]);
    const withPrometheus = `${elsewhere}monitor:\n  rules: ["errorRate < 5%"]\n  source: { kind: prometheus, url: "http://127.0.0.1:9090", queries: { errorRate: "x" } }\n`;
    expect(problemsOf(withPrometheus)[0]?.message).toMatch(/needs a PromQL query for the live slot's traffic/);
    expect(() => parseConfigText(withPrometheus.replace('errorRate: "x"', 'errorRate: "x", requestRate: "y"'), FILE, { env: {} })).not.toThrow();
  });
});

describe("notify", () => {
  it("defaults every event, JSON, 3 retries and a 10s timeout per attempt", () => {
    const config = parseConfigText(`${MINIMAL}notify:\n  - url: "http://127.0.0.1:9000/hook"\n  - { url: "https://hooks.slack.com/services/T/B/X", format: slack, events: [rolled-back, aborted], retries: 0 }\n`, FILE, { env: {} });
    expect(config.notify).toEqual([
      { url: "http://127.0.0.1:9000/hook", events: ["started", "awaiting-approval", "switched", "rolled-back", "aborted", "succeeded", "failed"], format: "json", timeout: 10_000, retries: 3 },
      { url: "https://hooks.slack.com/services/T/B/X", events: ["rolled-back", "aborted"], format: "slack", timeout: 10_000, retries: 0 },
    ]);
    expect(parseConfigText(MINIMAL, FILE, { env: {} }).notify).toEqual([]);
  });

  it("reports an event it does not know, and a URL that is not http(s), at their lines", () => {
    const problems = problemsOf(`${MINIMAL}notify:\n  - url: "ftp://example.com/x"\n    events: [switched, deployed]\n`);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ["notify[0].url", 4],
      ["notify[0].events[1]", 5],
    ]);
    expect(problems[0]?.message).toBe('expected an http:// or https:// URL, got "ftp://example.com/x"');
    expect(problems[1]?.message).toMatch(/rolled-back/);
  });
});

describe("retire", () => {
  it("is absent by default; standbyReplicas defaults to 1; either step may be left out", () => {
    expect(parseConfigText(MINIMAL, FILE, { env: {} }).retire).toBeUndefined();
    expect(parseConfigText(`${MINIMAL}retire: { retireAfter: 2h }\n`, FILE, { env: {} }).retire).toEqual({ standbyReplicas: 1, retireAfter: 7_200_000 });
    expect(parseConfigText(`${MINIMAL}retire: { scaleDownAfter: 5m, standbyReplicas: 0 }\n`, FILE, { env: {} }).retire).toEqual({ scaleDownAfter: 300_000, standbyReplicas: 0 });
  });

  it("refuses a retirement that would come before the scale-down", () => {
    expect(problemsOf(`${MINIMAL}retire:\n  scaleDownAfter: 1h\n  retireAfter: 30m\n`)).toEqual([
      { path: "retire.retireAfter", line: 5, message: "retireAfter must be longer than scaleDownAfter: the standby is scaled down first, then retired" },
    ]);
  });
});

describe("migrations", () => {
  it("are absent by default, and take the commands as written", () => {
    expect(parseConfigText(MINIMAL, FILE, { env: {} }).migrations).toBeUndefined();
    const config = parseConfigText(`${MINIMAL}migrations: { expand: "./migrate.sh expand {version}", contract: "./migrate.sh contract {version}" }\n`, FILE, { env: {} });
    expect(config.migrations).toEqual({ expand: "./migrate.sh expand {version}", contract: "./migrate.sh contract {version}", contractAfterRetire: false, timeout: 600_000 });
  });

  it("refuse contractAfterRetire without a contract command; `flip retire` is a retirement too", () => {
    expect(problemsOf(`${MINIMAL}migrations: { expand: x, contractAfterRetire: true }\nretire: { retireAfter: 1h }\n`)).toEqual([
      { path: "migrations.contractAfterRetire", line: 3, message: "contractAfterRetire needs a `contract` command to run" },
    ]);
    const config = parseConfigText(`${MINIMAL}migrations: { contract: x, contractAfterRetire: true }\n`, "/srv/app/flip.yaml", { env: {} });
    expect(config.migrations?.contractAfterRetire).toBe(true);
  });
});

describe("the README's safety nets and examples/postgres", () => {
  it("has snippets that load as they are, under a minimal config", async () => {
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.split("\n## Safety nets: the database, the bill, the calendar\n")[1]?.split(/\n## /)[0] ?? "";
    const snippets = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] as string);
    expect(snippets).toHaveLength(3);
    const configs = snippets.map((snippet) => parseConfigText(MINIMAL + snippet, FILE, { env: { SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X" } }));
    expect(configs[0]).toMatchObject({ migrations: { contractAfterRetire: true }, retire: { retireAfter: 86_400_000 } });
    expect(configs[1]).toMatchObject({ maxRequestRate: 500, maxRequestRateTimeout: 1_800_000 });
    expect(configs[2]?.notify.map((target) => target.format)).toEqual(["slack", "json"]);
  });

  it("examples/postgres/flip.yaml loads", async () => {
    const file = fileURLToPath(new URL("../../examples/postgres/flip.yaml", import.meta.url));
    const config = await loadConfig(file, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" } });
    expect(config.migrations).toMatchObject({ expand: "node migrate.js expand {version}", contract: "node migrate.js contract {version}" });
    expect(config.checks.map((check) => check.name)).toEqual(["health", "version", "users"]);
  });
});
