// The flip.yaml that `flip init` writes: valid as it stands for a small HTTP app, and commented line
// by line so a newcomer can read what each key does. Optional keys are shown commented out with
// their defaults; uncommenting them changes nothing until their values are edited.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { FlipError } from "../core/errors.js";

const DEFAULT_APP = "my-app";

/** The text of a starter flip.yaml. `app` is made safe as a name (letters, digits, '.', '_', '-'). */
export function starterConfig(options?: { app?: string }): string {
  return STARTER.replaceAll("__APP__", safeAppName(options?.app));
}

/** Writes the starter to `file`; refuses to replace an existing file unless `force`. */
export async function writeStarterConfig(file: string, options?: { app?: string; force?: boolean }): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  try {
    // "wx" fails if the file exists, in the same step as creating it: no window for a race.
    await writeFile(file, starterConfig(options), { encoding: "utf8", flag: options?.force ? "w" : "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new FlipError("FLIP_E_CONFIG", `${file} already exists; flip init leaves it as it is.`, "Edit it by hand, or run `flip init --force` to replace it with the starter config.");
    }
    throw error;
  }
}

function safeAppName(app: string | undefined): string {
  const cleaned = (app ?? "")
    .trim()
    .replace(/[^a-zA-Z0-9._-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 63);
  return cleaned === "" ? DEFAULT_APP : cleaned;
}

// Prose comments never read "# word: ..." — that shape marks a key that can be uncommented.
const STARTER = `# flip.yaml — how Flip deploys __APP__ blue-green.
#
# Flip keeps two copies of the app, "blue" and "green". One is live (it gets all the traffic), the
# other is idle. \`flip deploy <version>\` starts the new version in the idle slot, runs the checks
# below against it, switches traffic to it in one step, then watches the monitor rules and switches
# back by itself if one breaks. \`flip rollback\` switches back by hand.
#
# Placeholders {version} {slot} {port} {url} {replica} are filled in by Flip where a value is used.
# \${NAME} or \${NAME:-default} is read from the environment when this file is loaded.
# Durations are written 500ms, 30s, 10m, 24h. Keys commented out below show their default value.
# Every key is described in docs/configuration.md.

# The name of the app (letters, digits, '.', '_' or '-').
app: __APP__

# How a version runs. With "process", Flip starts the app as local processes, one set per slot.
platform:
  kind: process
  # The shell command that starts one copy of the app, run with the env below.
  command: "npm start"
  # Environment variables of each copy. The app must listen on PORT; APP_VERSION lets it say
  # which version it is (the "version" check below relies on that).
  env:
    PORT: "{port}"
    APP_VERSION: "{version}"
  # The folder to run the command in, relative to this file; may use {version} or {slot}.
  # Without it, the command runs in this file's folder.
  # cwd: releases/{version}
  # How many copies of the app run in each slot.
  # replicas: 1
  # The first port of each slot; copy n listens on base + n. Without this, Flip picks free ports.
  # ports: { blue: 3001, green: 3101 }
  # How Flip tells that a copy is ready to serve: it requests \`path\` every \`interval\` until it
  # answers, for up to \`readyTimeout\` (below). Without \`path\`, the path of the first http check is used, and
  # with no http check at all, a TCP connection to the port is enough.
  # readiness:
  #   path: /health
  #   interval: 200ms
  # When a copy is stopped it gets SIGTERM, then SIGKILL if it is still running after this long.
  # stopGrace: 10s
  # A copy that exits on its own is restarted, waiting longer after each exit, at most this long.
  # restart:
  #   maxBackoff: 30s
  # Instead of "process", the platform can be your team's own scripts ("command": Flip runs them
  # with {slot} and {version} filled in, and reaches each slot at its URL), written with these keys:
  #   { kind: command, deploy: "./deploy.sh {slot} {version}", ready: "./ready.sh {slot}", stop: "./stop.sh {slot}" }
  #   { scale: "./scale.sh {slot} {replicas}", cwd: deploy, env: { REGION: eu-west-1 }, readyInterval: 2s, killGrace: 10s }
  #   { endpoint: "http://app-{slot}.internal:8080" }  or  { urls: { blue: "http://10.0.0.5:8080", green: "http://10.0.0.6:8080" } }
  #   { timeouts: { deploy: 10m, ready: 5m, scale: 5m, stop: 5m } }
  # or two slots deployed by something else, given by URL ("static": Flip checks, switches, watches):
  #   { kind: static, slots: { blue: { url: "http://10.0.0.5:8080" }, green: { url: "http://10.0.0.6:8080" } }, readyInterval: 1s }
  # or two Deployments on Kubernetes ("kubernetes": a deploy sets the container's image and waits
  # for the rollout; credentials as for kubectl):
  #   { kind: kubernetes, image: "registry.example.com/app:{version}", deployment: "{app}-{slot}", container: app }
  #   { replicas: 2, namespace: shop, kubeconfig: ./kubeconfig, context: prod, pollInterval: 1s, endpoint: "http://{deployment}.{namespace}.svc" }
  # Every key is described in docs/configuration.md.

# How traffic reaches the live slot. With "builtin", Flip runs its own reverse proxy.
router:
  kind: builtin
  # The address your users (or your load balancer) send requests to; they reach the live slot.
  listen: "127.0.0.1:8080"
  # A second address that always serves the idle slot, to try a new version before it goes live.
  # preview: "127.0.0.1:8081"
  # After a switch, requests still running on the old slot have this long to finish.
  # drainTimeout: 30s
  # How long to wait for a connection to a copy (then 502), and for its response headers (then 504).
  # connectTimeout: 5s
  # upstreamTimeout: 60s
  # After a switch, WebSockets and server-sent-event streams to the old slot stay up this long, then
  # are closed cleanly (WebSocket close code 1001, so browsers reconnect, to the new version).
  # longLivedGrace: 30s
  # Version-aware sessions. With affinity "cookie", a client that was using the old version keeps it
  # for up to drain after a switch (unless that slot turns unhealthy); new clients get the new one.
  # Off by default: a bug that calls for a rollback keeps hitting those sessions until drain ends.
  # sessions:
  #   affinity: none
  #   drain: 15m
  #   cookie: flip_slot
  # The health of each copy of both slots. Every interval, Flip requests the path of the first http
  # check below on each copy (any answer under 500 passes); a copy that fails unhealthyAfter checks
  # in a row gets no requests until it passes healthyAfter in a row. Set health.path to ask another
  # path (then only 2xx or 3xx passes), or enabled to false to turn the checks off.
  # health:
  #   enabled: true
  #   interval: 5s
  #   timeout: 2s
  #   unhealthyAfter: 2
  #   healthyAfter: 1
  #   # A copy that this many requests in a row cannot reach gets none for ejectFor (0: never).
  #   passive: { failures: 3, ejectFor: 10s }
  # What the proxy accepts from clients: bigger headers, or more of them, get 431; a client that
  # takes longer than headersTimeout to send its headers (or requestTimeout for the whole request)
  # gets 408; an idle keep-alive connection is closed after idleTimeout. 0 turns a timeout off.
  # limits:
  #   maxHeaderBytes: 16384
  #   maxHeaders: 100
  #   headersTimeout: 10s
  #   requestTimeout: 5m
  #   idleTimeout: 60s
  # Processes that serve the listeners. 1: the proxy runs inside flip serve. More: that many
  # node:cluster workers share the listen addresses (a switch returns once every one has moved).
  # workers: 1
  # Instead of "builtin", the router can switch an AWS load balancer's listener between two target
  # groups ("aws-alb") or a Route 53 record between two answers ("route53"); AWS credentials come
  # from the SDK's usual chain, never from this file. Written with these keys:
  #   { kind: aws-alb, listenerArn: "arn:aws:elasticloadbalancing:…:listener/app/…", region: eu-west-1, pollInterval: 5s }
  #   { targetGroups: { blue: "arn:…:targetgroup/app-blue/…", green: "arn:…:targetgroup/app-green/…" } }
  #   { kind: route53, hostedZoneId: Z1D633PJN98FT9, recordName: app.example.com, recordType: A, ttl: 60s }
  #   { slots: { blue: { alias: { dnsName: app-blue-1.eu-west-1.elb.amazonaws.com, hostedZoneId: Z32O12XQLNTSW2, evaluateTargetHealth: false } } } }
  #   { slots: { blue: { value: "192.0.2.10" }, green: { value: "192.0.2.20" } } }
  # or flip a Kubernetes Service's selector label between the two slots' pods ("kubernetes-service"):
  #   { kind: kubernetes-service, service: app, label: version, values: { blue: blue, green: green }, pollInterval: 1s }
  #   { namespace: shop, kubeconfig: ./kubeconfig, context: prod }   (default: the kubernetes platform's)
  # or drive the nginx you already run ("nginx": Flip rewrites one included upstream file, runs
  # \`nginx -t\`, reloads; see the README for the nginx.conf lines) or your HAProxy ("haproxy": one
  # \`set map\` on its runtime API, no reload), written with these keys:
  #   { kind: nginx, file: /etc/nginx/flip/app.conf, upstream: app, probeUrl: "http://127.0.0.1/health", slotHeader: x-flip-slot }
  #   { template: "upstream {upstream} { {servers} keepalive 16; }", slots: { blue: ["127.0.0.1:3001"], green: ["127.0.0.1:3101"] } }
  #   { testCommand: "nginx -t", reloadCommand: "nginx -s reload", commandTimeout: 30s, pollInterval: 100ms, reloadTimeout: 10s }
  #   { accessLog: /var/log/nginx/flip-app.log }   # in the flip log format: the monitor then needs no Prometheus
  #   { kind: haproxy, runtimeApi: /run/haproxy/admin.sock, map: /etc/haproxy/flip.map, key: app, persistMap: true }
  #   { backends: { blue: app-blue, green: app-green }, timeout: 5s, pollInterval: 100ms }
  # or your Caddy ("caddy": its admin API replaces the upstreams of the reverse_proxy handler with
  # that "@id") or a DNS record on your own DNS server ("dns": an RFC 2136 update signed with TSIG):
  #   { kind: caddy, adminUrl: "http://127.0.0.1:2019", handlerId: app, probeUrl: "http://127.0.0.1:8080/health", slotHeader: x-flip-slot }
  #   { slots: { blue: ["127.0.0.1:3001"], green: ["127.0.0.1:3101"] }, timeout: 10s, pollInterval: 100ms }
  #   { accessLog: /var/log/caddy/flip-app.log }   # Caddy's JSON access log: the monitor then needs no Prometheus
  #   no reload at all: the handler reads an SRV record (dynamic upstreams) that Flip updates on your DNS server:
  #   { srv: { server: "127.0.0.1:53", zone: example.com, name: _http._tcp.app.example.com, ttl: 5s, timeout: 5s } }
  #   { kind: dns, server: "ns1.example.com:53", zone: example.com, recordName: app.example.com, recordType: A, ttl: 60s }
  #   { slots: { blue: { value: "192.0.2.10" }, green: { value: "192.0.2.20" } }, pollInterval: 1s, timeout: 5s }
  #   { tsig: { name: flip-key, algorithm: hmac-sha256, secret: "\${FLIP_TSIG_SECRET}" } }

# Smoke tests, run against the idle slot before any traffic moves. If one fails, the deploy stops
# and the live slot is never touched. Each check has a name and either "http" or "command".
checks:
  # The app answers on /health.
  - name: health
    http:
      path: /health
      # method: GET                 # GET, HEAD or POST
      # expectStatus: 2xx           # a code (200), a list ([200, 204]) or a class (2xx)
      # headers: { Authorization: "Bearer \${APP_TOKEN}" }
    # timeout: 10s                  # for each attempt
    # retries: 0                    # attempts after the first one fails
    # retryDelay: 1s                # the pause between attempts
  # The copy that answers is the new version: the JSON field "version" of /version must equal it.
  - name: version
    http:
      path: /version
      expectJson: { version: "{version}" }
  # A command check passes when the command exits with 0; {url} is the idle slot's address.
  # - name: smoke
  #   command: "./smoke-tests.sh {url}"

# After the switch, Flip watches the new live slot. Every interval it judges that interval's
# traffic against the rules; if a rule breaks, traffic flips straight back to the old slot.
monitor:
  # How long to watch after a switch.
  # duration: 5m
  # How often to judge.
  # interval: 10s
  # An interval with fewer requests than this is not judged: too few to tell.
  # minRequests: 20
  # Each rule reads "<metric> <op> <value>". Metrics are errorRate (in %), the latency percentiles
  # p50 p90 p95 p99 (in ms or s) and requestRate (in /s); operators are < <= > >=.
  rules:
    - "errorRate < 5%"
    - "p99 < 800ms"
  # Where the rules' values come from. Without a source, Flip's own proxy counts the traffic. When
  # traffic does not pass through Flip (Kubernetes, a load balancer, DNS), Flip can ask Prometheus:
  # one PromQL query per metric, with {slot}, {version}, {app} and {window} (the interval) filled in.
  #   { source: { kind: prometheus, url: "http://127.0.0.1:9090", queries: { ... }, timeout: 10s, consecutiveErrorLimit: 4 } }
  # with queries such as (errorRate a fraction, latencies in seconds, requestRate per second):
  #   { errorRate: 'sum(rate(http_requests_total{slot="{slot}",code=~"5.."}[{window}])) / sum(rate(http_requests_total{slot="{slot}"}[{window}]))' }
  #   { p99: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{slot="{slot}"}[{window}])))' }
  #   { p50: '...', p90: '...', p95: '...', requestRate: 'sum(rate(http_requests_total{slot="{slot}"}[{window}]))' }
  #   { requests: 'sum(increase(http_requests_total{slot="{slot}"}[{window}]))' }   (lets minRequests apply)

# Before the switch. Without the keys below, a deployment whose checks pass switches at once.
# With approval "manual", a checked deployment waits until someone runs \`flip promote\` (or
# approves it in the dashboard); after approvalTimeout without an answer it is aborted.
# approval: auto
#   { approvalTimeout: 2h }
# Traffic moves only inside these windows (days, local times, an IANA time zone). Outside them the
# deployment waits, checked, and runs its checks again right before the switch.
# \`flip deploy --now\` skips the wait, and the audit log records who did.
# switchWindows: []
#   { switchWindows: ["Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 22:00-06:00 UTC"] }
# No switch while the live slot serves more than this many requests ("/s" or "/m"): switching at
# peak traffic hurts most. A deployment that waited maxRequestRateTimeout for a quieter moment is aborted.
#   { maxRequestRate: 500/s }
# maxRequestRateTimeout: 30m

# The cheap standby. After a switch the old live slot stays as the standby, for an instant rollback.
# With these keys it is scaled down to standbyReplicas after scaleDownAfter (never while the monitor
# still runs) and stopped after retireAfter. A rollback to a scaled-down standby scales it back up and
# checks it first; after retirement, a rollback redeploys its version through the whole flow.
#   { retire: { scaleDownAfter: 10m, standbyReplicas: 1, retireAfter: 24h } }

# Database expand/contract, for a database both slots share. expand runs before a new version is
# deployed (it makes the schema work for the old version and the new one); contract runs only once no
# slot running the previous version can get traffic (\`flip contract\`, or by itself when the standby
# is retired with contractAfterRetire). {version} is the new version, {previousVersion} the old one.
#   { migrations: { expand: "./migrate.sh expand {version}", contract: "./migrate.sh contract {version}", contractAfterRetire: false, timeout: 10m } }

# Webhooks told what happens: a deployment started, waits for approval, switched, rolled back (with
# the rule that fired and its value), aborted (with the failing check), succeeded or failed. A post
# that fails is retried, waiting longer each time; a webhook never holds up a deployment.
# notify: []
#   { notify: [{ url: "https://hooks.slack.com/services/T0/B0/XXXX", format: slack, events: [switched, rolled-back, aborted, failed] }] }
#   { notify: [{ url: "https://ops.example.com/flip", format: json, headers: { Authorization: "Bearer …" }, timeout: 10s, retries: 3 }] }

# The control API that the flip commands (and the dashboard) talk to, served by \`flip serve\`.
control:
  listen: "127.0.0.1:8787"
  # A shared secret the commands must send; they read it from FLIP_TOKEN. Set one before
  # listening anywhere but 127.0.0.1.
  # token: "\${FLIP_TOKEN}"

# Where Flip keeps what it knows (deployments, which slot is live), relative to this file.
# state: .flip/state.db
# Where the output of each copy of the app is written, relative to this file.
# logs: .flip/logs
# How long a freshly started slot may take to become ready.
# readyTimeout: 60s
# How long a switch may take to show in the data plane before Flip gives up on it.
# verifyTimeout: 30s
`;
