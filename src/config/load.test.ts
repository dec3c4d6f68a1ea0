import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors.js";
import type { ConfigProblem } from "../core/errors.js";
import { loadConfig, parseConfigText } from "./load.js";

const FILE = "/srv/hello/flip.yaml";

/** The problems parseConfigText reports; fails the test if it does not throw a ConfigError. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfigText(text, FILE, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

const where = (problems: ConfigProblem[]) => problems.map(({ path, line }) => ({ path, line }));

const MINIMAL = `app: hello
platform:
  kind: process
  command: node server.js
`;

describe("parseConfigText: valid configs", () => {
  it("fills every default of a minimal config and makes paths absolute", () => {
    const config = parseConfigText(MINIMAL, FILE, { env: {} });
    expect(config.app).toBe("hello");
    expect(config.platform).toMatchObject({ kind: "process", command: "node server.js", replicas: 1, env: {}, stopGrace: 10_000, restart: { maxBackoff: 30_000 } });
    expect(config.router).toEqual({
      kind: "builtin",
      listen: "127.0.0.1:8080",
      drainTimeout: 30_000,
      connectTimeout: 5_000,
      upstreamTimeout: 60_000,
      health: { enabled: true, interval: 5_000, timeout: 2_000, unhealthyAfter: 2, healthyAfter: 1, passive: { failures: 3, ejectFor: 10_000 } },
      longLivedGrace: 30_000,
      sessions: { affinity: "none", drain: 900_000, cookie: "flip_slot" },
      limits: { maxHeaderBytes: 16_384, maxHeaders: 100, headersTimeout: 10_000, requestTimeout: 300_000, idleTimeout: 60_000 },
      workers: 1,
    });
    expect(config.checks).toEqual([]);
    expect(config.monitor).toEqual({ duration: 300_000, interval: 10_000, minRequests: 20, rules: ["errorRate < 5%"] });
    expect(config.control).toEqual({ listen: "127.0.0.1:8787" });
    expect(config.readyTimeout).toBe(60_000);
    expect(config.verifyTimeout).toBe(30_000);
    expect(config.file).toBe(FILE);
    expect(config.dir).toBe("/srv/hello");
    expect(config.statePath).toBe("/srv/hello/.flip/state.db");
    expect(config.logDir).toBe("/srv/hello/.flip/logs");
  });

  it("resolves a relative file against the current folder and keeps platform.cwd as written", () => {
    const config = parseConfigText(`${MINIMAL}  cwd: releases/{version}\nstate: ../data/flip.db\n`, "deploy/flip.yaml", { env: {} });
    expect(config.file).toBe(resolve("deploy/flip.yaml"));
    expect(config.dir).toBe(resolve("deploy"));
    expect(config.statePath).toBe(resolve("data/flip.db"));
    if (config.platform.kind !== "process") throw new Error("expected the process platform");
    expect(config.platform.cwd).toBe("releases/{version}");
  });

  it("reads the example of DESIGN.md", () => {
    const text = `app: hello
platform: { kind: process, command: "node examples/hello/server.js", replicas: 2,
            env: { APP_VERSION: "{version}", PORT: "{port}" } }
router:   { kind: builtin, listen: "127.0.0.1:8080", preview: "127.0.0.1:8081", drainTimeout: 30s }
checks:
  - { name: health,  http: { path: /health } }
  - { name: version, http: { path: /api/status, expectJson: { version: "{version}" } } }
  - { name: smoke,   command: "./smoke-tests.sh {url}" }
monitor:  { duration: 10m, interval: 10s, minRequests: 20,
            rules: [ "errorRate < 5%", "p99 < 800ms" ] }
retire:   { scaleDownAfter: 10m, standbyReplicas: 1, retireAfter: 24h }
control:  { listen: "127.0.0.1:8787", token: "\${FLIP_TOKEN}" }
state:    .flip/state.db
`;
    const config = parseConfigText(text, FILE, { env: { FLIP_TOKEN: "s3cret" } });
    expect(config.platform).toMatchObject({ command: "node examples/hello/server.js", replicas: 2, env: { APP_VERSION: "{version}", PORT: "{port}" } });
    expect(config.router).toMatchObject({ listen: "127.0.0.1:8080", preview: "127.0.0.1:8081", drainTimeout: 30_000 });
    expect(config.checks.map((check) => check.name)).toEqual(["health", "version", "smoke"]);
    expect(config.checks[0]?.http).toEqual({ path: "/health", method: "GET", expectStatus: "2xx" });
    expect(config.checks[1]?.http?.expectJson).toEqual({ version: "{version}" });
    expect(config.checks[2]).toMatchObject({ command: "./smoke-tests.sh {url}", timeout: 10_000, retries: 0, retryDelay: 1_000 });
    expect(config.monitor).toEqual({ duration: 600_000, interval: 10_000, minRequests: 20, rules: ["errorRate < 5%", "p99 < 800ms"] });
    expect(config.control).toEqual({ listen: "127.0.0.1:8787", token: "s3cret" });
    expect(config.retire).toEqual({ scaleDownAfter: 600_000, standbyReplicas: 1, retireAfter: 86_400_000 });
    expect(config.statePath).toBe("/srv/hello/.flip/state.db");
  });
});

describe("parseConfigText: problems with their lines", () => {
  it("reports a mistyped key at its line with the key that was meant", () => {
    const problems = problemsOf(`app: hello
platform:
  kind: process
  comand: node server.js
  replica: 2
`);
    expect(problems).toEqual([
      { path: "platform.command", line: 2, message: 'required: "command" is missing (expected a string)' },
      { path: "platform.comand", line: 4, message: 'unknown key "comand" — did you mean "command"?' },
      { path: "platform.replica", line: 5, message: 'unknown key "replica" — did you mean "replicas"?' },
    ]);
  });

  it("suggests the top-level key for a typo there, and lists the keys when nothing is close", () => {
    const problems = problemsOf(`app: hello
platfrom:
  kind: process
  command: x
zzz: 1
`);
    expect(problems).toEqual([
      { path: "platform", line: 1, message: 'required: "platform" is missing (expected a map with kind: process | command | static | kubernetes)' },
      { path: "platfrom", line: 2, message: 'unknown key "platfrom" — did you mean "platform"?' },
      { path: "zzz", line: 5, message: expect.stringMatching(/^unknown key "zzz" — expected one of: app, platform, router, checks, monitor, control, state/) },
    ]);
  });

  it("reports several problems at once, each at its own line, in file order", () => {
    const problems = problemsOf(`# a comment first
app: hello
platform:
  kind: process
  command: node server.js
  replicas: two
checks:
  - name: health
  - name: version
    http: { path: /version, method: PUT, tiemout: 5s }
monitor:
  duration: 5 minutes
  rules:
    - errorRate < 5%
    - latency < 800ms
control: { listen: "localhost" }
`);
    expect(where(problems)).toEqual([
      { path: "platform.replicas", line: 6 },
      { path: "checks[0]", line: 8 },
      { path: "checks[1].http.method", line: 10 },
      { path: "checks[1].http.tiemout", line: 10 },
      { path: "monitor.duration", line: 12 },
      { path: "monitor.rules[1]", line: 15 },
      { path: "control.listen", line: 16 },
    ]);
    expect(problems[1]?.message).toBe('a check needs exactly one of `http: { path: ... }` or `command: "..."`');
    expect(problems[2]?.message).toBe('expected one of "GET", "HEAD", "POST", got "PUT"');
    expect(problems[3]?.message).toBe('unknown key "tiemout" — expected one of: path, method, expectStatus, expectJson, headers');
    expect(problems[6]?.message).toBe('expected host:port, e.g. 127.0.0.1:8080, got "localhost"');
  });

  it("says what type was expected and what was written", () => {
    const at = (value: string) => problemsOf(`${MINIMAL}  replicas: ${value}\n`);
    expect(at("two")).toEqual([{ path: "platform.replicas", line: 5, message: 'expected a number, got a string ("two")' }]);
    expect(at("2.5")).toEqual([{ path: "platform.replicas", line: 5, message: "expected a whole number, got 2.5" }]);
    expect(at('"2"')).toEqual([{ path: "platform.replicas", line: 5, message: 'expected a number, got a string ("2") — write it without quotes' }]);
    expect(at("100")).toEqual([{ path: "platform.replicas", line: 5, message: "expected at most 64, got 100" }]);
    expect(at("[1]")).toEqual([{ path: "platform.replicas", line: 5, message: "expected a number, got a list" }]);
    expect(problemsOf("app: hello\nplatform:\n")).toEqual([{ path: "platform", line: 2, message: "expected a map (key: value), got an empty value" }]);
    expect(problemsOf(`${MINIMAL}  env: { A: [1] }\nchecks:\n  - name: a\n    http: { path: /, expectStatus: true }\n  - { name: b, http: { path: /, expectStatus: 3xy } }\n`)).toEqual([
      { path: "platform.env.A", line: 5, message: "expected a string, a number or true/false, got a list" },
      { path: "checks[0].http.expectStatus", line: 8, message: 'expected a status code (200), a list of codes ([200, 204]) or a class like "2xx", got true' },
      { path: "checks[1].http.expectStatus", line: 9, message: 'expected a status code, a list of codes, or a class like "2xx", got "3xy"' },
    ]);
  });

  it("reports a bad duration at its line", () => {
    const problems = problemsOf(`${MINIMAL}router:
  kind: builtin
  drainTimeout: 30
`);
    expect(problemsOf(`${MINIMAL}monitor: { interval: 10 sec, duration: [5m] }\n`)).toEqual([
      { path: "monitor.interval", line: 5, message: 'expected a duration such as 500ms, 30s, 10m or 24h, got "10 sec"' },
      { path: "monitor.duration", line: 5, message: "expected a duration such as 500ms, 30s, 10m or 24h, got a list" },
    ]);
    expect(problems).toEqual([{ path: "router.drainTimeout", line: 7, message: 'expected a duration such as 500ms, 30s, 10m or 24h, got 30, a number without a unit' }]);
  });

  it("reports a rule that cannot be read at its line, with parseRule's words", () => {
    const problems = problemsOf(`${MINIMAL}monitor:
  rules:
    - "p99 < 800ms"
    - "errorRate < 5 percent"
    - "p99 < 2%"
`);
    expect(where(problems)).toEqual([
      { path: "monitor.rules[1]", line: 8 },
      { path: "monitor.rules[2]", line: 9 },
    ]);
    expect(problems[0]?.message).toMatch(/^cannot read rule "errorRate < 5 percent": expected "<metric> <op> <value>"/);
    expect(problems[1]?.message).toBe('rule "p99 < 2%": p99 takes ms or s, not "%"');
  });

  it("lists the known kinds for an unknown platform or router kind, and asks for a missing one", () => {
    expect(problemsOf("app: hello\nplatform: { kind: proces, command: x }\nrouter:\n  kind: traefik\n")).toEqual([
      { path: "platform.kind", line: 2, message: 'unknown platform kind "proces": expected one of process, command, static, kubernetes' },
      { path: "router.kind", line: 4, message: expect.stringMatching(/^unknown router kind "traefik": expected one of builtin, kubernetes-service, aws-alb, route53(?=.*\bnginx\b)(?=.*\bhaproxy\b)(?=.*\bdns\b)(?=.*\bcaddy\b)/) },
    ]);
    expect(problemsOf("app: hello\nplatform:\n  command: x\n")).toEqual([
      { path: "platform.kind", line: 2, message: 'required: "kind" is missing (expected one of process, command, static, kubernetes)' },
    ]);
  });

  it("reports a missing app at the top level's first line", () => {
    expect(problemsOf("# deploys hello\n\nplatform: { kind: process, command: x }\n")).toEqual([
      { path: "app", line: 3, message: 'required: "app" is missing (expected a string)' },
    ]);
    expect(problemsOf("app: my app\nplatform: { kind: process, command: x }\n")).toEqual([
      { path: "app", line: 1, message: `expected letters, digits, '.', '_' or '-' (starting with a letter or digit), got "my app"` },
    ]);
  });

  it("turns a YAML syntax error into a problem at the parser's line", () => {
    const problems = problemsOf("app: hello\nplatform: { kind: process, command: x\nchecks: []\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]?.line).toBe(3);
    expect(problems[0]?.message).toMatch(/^YAML syntax error: Flow map .* must be sufficiently indented and end with a \} \(column 1\)$/);

    const duplicate = problemsOf("app: hello\napp: again\n");
    expect(duplicate).toEqual([{ path: "", line: 2, message: "YAML syntax error: Map keys must be unique (column 1)" }]);
  });

  it("says so when the file is empty or its top level is not a map", () => {
    expect(problemsOf("# nothing yet\n")).toEqual([
      { path: "", line: 1, message: "the file is empty: it needs at least `app:` and `platform:` (`flip init` writes a commented starter)" },
    ]);
    expect(problemsOf("\n- app: hello\n")).toEqual([{ path: "", line: 2, message: "expected keys such as `app:` and `platform:` at the top level, got a list" }]);
  });

  it("puts the file and each line in the error's message", () => {
    try {
      parseConfigText(`${MINIMAL}  replicas: two\n`, "flip.yaml", { env: {} });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe("FLIP_E_CONFIG");
      expect((error as ConfigError).message).toBe('flip.yaml is not a valid Flip config (1 problem):\n  flip.yaml:5  platform.replicas: expected a number, got a string ("two")');
    }
  });
});

describe("parseConfigText: ${ENV}", () => {
  it("expands variables and defaults in every string, leaving {placeholders} alone", () => {
    const config = parseConfigText(
      `app: \${APP_NAME}
platform:
  kind: process
  command: "node \${ENTRY:-server.js} --port {port}"
  replicas: \${REPLICAS:-3}
  env:
    RELEASE: "\${RELEASE}-{version}"
    SHA: "\${SHA}"
control: { token: "\${FLIP_TOKEN}" }
`,
      FILE,
      { env: { APP_NAME: "hello", RELEASE: "r7", SHA: "0123", FLIP_TOKEN: "t0k" } },
    );
    expect(config.app).toBe("hello");
    if (config.platform.kind !== "process") throw new Error("expected the process platform");
    expect(config.platform.command).toBe("node server.js --port {port}");
    expect(config.platform.replicas).toBe(3); // unquoted: read as a number once expanded
    expect(config.platform.env).toEqual({ RELEASE: "r7-{version}", SHA: "0123" }); // quoted: stays text
    expect(config.control.token).toBe("t0k");
  });

  it("reads options.env, not process.env", () => {
    process.env.FLIP_LOAD_TEST_ONLY_IN_PROCESS = "from-process";
    try {
      const config = parseConfigText(`${MINIMAL}control: { token: "\${FLIP_LOAD_TEST_ONLY_IN_PROCESS:-fallback}" }\n`, FILE, { env: {} });
      expect(config.control.token).toBe("fallback");
    } finally {
      delete process.env.FLIP_LOAD_TEST_ONLY_IN_PROCESS;
    }
  });

  it("reports an unset variable without a default at the line that uses it, once", () => {
    const problems = problemsOf(`${MINIMAL}  env: { TOKEN: "\${FLIP_TOKEN}" }
router: { kind: builtin, listen: "\${LISTEN}" }
monitor:
  rules: [ "\${RULE}" ]
`);
    expect(problems).toEqual([
      { path: "platform.env.TOKEN", line: 5, message: "environment variable FLIP_TOKEN is not set (used in platform.env.TOKEN)" },
      { path: "router.listen", line: 6, message: "environment variable LISTEN is not set (used in router.listen)" },
      { path: "monitor.rules[0]", line: 8, message: "environment variable RULE is not set (used in monitor.rules[0])" },
    ]);
  });
});

describe("parseConfigText: checks across keys", () => {
  it("refuses the same address for two listeners, at the line written", () => {
    expect(problemsOf(`${MINIMAL}router: { kind: builtin, listen: "127.0.0.1:9000" }\ncontrol:\n  listen: "127.0.0.1:9000"\n`)).toEqual([
      {
        path: "control.listen",
        line: 7,
        message: "127.0.0.1:9000 is also router.listen: router.listen, router.preview and control.listen need three different addresses",
      },
    ]);
    // router.listen is the default here; the clash is reported on the key that is written.
    expect(where(problemsOf(`${MINIMAL}router:\n  kind: builtin\n  preview: "0.0.0.0:8080"\n`))).toEqual([{ path: "router.preview", line: 7 }]);
    expect(problemsOf(`${MINIMAL}router:\n  kind: builtin\n  preview: "0.0.0.0:8080"\n`)[0]?.message).toMatch(/^0\.0\.0\.0:8080 is also router\.listen \(its default\)/);
    // Port 0 means "any free port": several listeners may ask for it.
    expect(() => parseConfigText(`${MINIMAL}router: { kind: builtin, listen: "127.0.0.1:0", preview: "127.0.0.1:0" }\ncontrol: { listen: "127.0.0.1:0" }\n`, FILE, { env: {} })).not.toThrow();
    // Different hosts on one port are different addresses.
    expect(() => parseConfigText(`${MINIMAL}router: { kind: builtin, listen: "127.0.0.1:9000", preview: "127.0.0.2:9000" }\n`, FILE, { env: {} })).not.toThrow();
  });

  it("refuses a control API reachable from other machines without a token, and an empty token", () => {
    const open = problemsOf(`${MINIMAL}control:\n  listen: "0.0.0.0:8787"\n`);
    expect(where(open)).toEqual([{ path: "control.listen", line: 6 }]);
    expect(open[0]?.message).toBe(
      "control.listen 0.0.0.0:8787 can be reached from other machines, so the control API needs a token (without one, anyone who reaches it could deploy or roll back): " +
        'add `token: "${FLIP_TOKEN}"` under control and export FLIP_TOKEN (e.g. `export FLIP_TOKEN=$(openssl rand -hex 32)`), or listen on 127.0.0.1',
    );
    expect(where(problemsOf(`${MINIMAL}control: { listen: "[::]:8787" }\n`))).toEqual([{ path: "control.listen", line: 5 }]);
    expect(where(problemsOf(`${MINIMAL}control: { listen: "flip.internal:8787" }\n`))).toEqual([{ path: "control.listen", line: 5 }]);
    expect(where(problemsOf(`${MINIMAL}control: { listen: "127.0.0.1:8787", token: "" }\n`))).toEqual([{ path: "control.token", line: 5 }]);
    // With a token, or on loopback, it may start.
    const guarded = parseConfigText(`${MINIMAL}control: { listen: "0.0.0.0:8787", token: "\${FLIP_TOKEN}" }\n`, FILE, { env: { FLIP_TOKEN: "t0k" } });
    expect(guarded.control).toEqual({ listen: "0.0.0.0:8787", token: "t0k" });
    for (const listen of ["127.0.0.1:8787", "localhost:8787", "[::1]:8787"]) {
      expect(() => parseConfigText(`${MINIMAL}control: { listen: "${listen}" }\n`, FILE, { env: {} })).not.toThrow();
    }
  });

  it("refuses process ports whose slot ranges overlap each other or a listener", () => {
    const overlap = problemsOf(`${MINIMAL}  replicas: 3\n  ports:\n    blue: 9100\n    green: 9102\n`);
    expect(overlap).toEqual([
      { path: "platform.ports.green", line: 8, message: "green ports 9102..9104 overlap blue ports 9100..9102: each slot needs 3 ports of its own (base .. base+replicas-1)" },
    ]);
    const listener = problemsOf(`${MINIMAL}  replicas: 2\n  ports: { blue: 8079, green: 8200 }\n`);
    expect(listener).toEqual([
      { path: "platform.ports.blue", line: 6, message: "blue ports 8079..8080 include 8080, the port of router.listen; the slots' ports must differ from the listeners'" },
    ]);
    expect(() => parseConfigText(`${MINIMAL}  replicas: 2\n  ports: { blue: 9100, green: 9102 }\n`, FILE, { env: {} })).not.toThrow();
  });

  it("refuses two checks with the same name", () => {
    expect(problemsOf(`${MINIMAL}checks:\n  - { name: health, http: { path: /health } }\n  - name: health\n    command: ./smoke.sh\n`)).toEqual([
      { path: "checks[1].name", line: 7, message: 'check name "health" is used twice (first at checks[0]); give each check its own name' },
    ]);
  });
});

describe("loadConfig", () => {
  let folder: string | undefined;
  afterEach(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
    folder = undefined;
  });

  it("reads a file and anchors its paths at the file's folder", async () => {
    folder = await mkdtemp(join(tmpdir(), "flip-load-"));
    const file = join(folder, "flip.yaml");
    await writeFile(file, `${MINIMAL}logs: out/logs\n`);
    const config = await loadConfig(file, { env: {} });
    expect(config.file).toBe(file);
    expect(config.statePath).toBe(join(folder, ".flip/state.db"));
    expect(config.logDir).toBe(join(folder, "out/logs"));
  });

  it("says where it looked and suggests flip init when the file is missing", async () => {
    folder = await mkdtemp(join(tmpdir(), "flip-load-"));
    const file = join(folder, "flip.yaml");
    const error = await loadConfig(file).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`No Flip config at ${file}.`);
    expect((error as ConfigError).hint).toMatch(/flip init/);
    expect((error as ConfigError).problems).toEqual([{ path: "", line: undefined, message: `no such file: ${file}` }]);
  });
});
