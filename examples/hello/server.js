// hello: the tiny app Flip's demo and tests deploy. Plain Node (20+), no dependencies.
// Its behaviour depends on the version name, so one app can show a good release, one that fails
// its smoke tests and one that breaks after the switch (see README.md).
import http from "node:http";

const version = process.env.APP_VERSION || "dev";
const slot = process.env.FLIP_SLOT || null;
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT ?? 3000);
const startedAt = Date.now();
const name = `hello ${version}${slot ? ` (${slot})` : ""}`;

const unhealthy = version.includes("unhealthy");
const wrongVersion = version.includes("wrong-version");
const failing = version.includes("errors");
const errorRate = clamp(Number(process.env.ERROR_RATE || 0.5), 0, 1);
const MAX_SLOW_MS = 30_000;
/** After SIGTERM, requests in flight get this long before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 4_500;

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`${name}: PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(1);
}

if (version.includes("crash")) {
  console.error(`${name}: version "${version}" crashes at startup (on purpose), exiting with code 1`);
  process.exit(1);
}

// Errors are spread evenly rather than drawn at random, so a demo run is the same every time:
// with ERROR_RATE=0.5, every second request fails.
let appRequests = 0;
function shouldFail() {
  appRequests += 1;
  return Math.floor(appRequests * errorRate) > Math.floor((appRequests - 1) * errorRate);
}

let shuttingDown = false;
let inFlight = 0;

const server = http.createServer((request, response) => {
  inFlight += 1;
  response.on("close", () => {
    inFlight -= 1;
  });
  response.setHeader("x-flip-version", version);
  // Routers that watch which slot answers through a proxy they do not run (nginx) read this.
  if (slot) response.setHeader("x-flip-slot", slot);
  if (shuttingDown) response.setHeader("connection", "close");
  const url = new URL(request.url ?? "/", "http://hello");

  if (url.pathname === "/health") {
    if (unhealthy) return sendJson(response, 503, { status: "unhealthy" });
    return sendJson(response, 200, { status: "ok" });
  }
  if (url.pathname === "/api/status") {
    const reported = wrongVersion ? `${version}-stale` : version;
    return sendJson(response, 200, { app: "hello", version: reported, slot, pid: process.pid, uptimeMs: Date.now() - startedAt });
  }

  // Everything below is "the app": this is where an `errors` release breaks.
  if (failing && shouldFail()) return sendJson(response, 500, { error: "internal error (this release fails on purpose)" });
  if (url.pathname === "/") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><title>hello</title><h1>hello from ${escapeHtml(version)}${slot ? ` (${escapeHtml(slot)})` : ""}</h1>\n`);
    return;
  }
  if (url.pathname === "/slow") {
    const waitMs = clamp(Number(url.searchParams.get("ms") ?? 1000) || 0, 0, MAX_SLOW_MS);
    setTimeout(() => sendJson(response, 200, { version, waitedMs: waitMs }), waitMs);
    return;
  }
  return sendJson(response, 404, { error: `no route ${url.pathname}` });
});

function sendJson(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function clamp(value, min, max) {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : min;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function listen() {
  server.listen(port, host, () => {
    const address = server.address();
    const startNote = startDelayMs > 0 ? ` after a ${startDelayMs}ms slow start` : "";
    console.log(`${name} listening on http://${host}:${address.port} (pid ${process.pid})${startNote}`);
  });
}

server.on("error", (error) => {
  console.error(`${name}: cannot listen on ${host}:${port}: ${error.message}`);
  process.exit(1);
});

// Stop accepting, let requests in flight finish, exit 0; never take longer than the deadline.
function shutDown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`${name} received ${signal}: finishing ${inFlight} request${inFlight === 1 ? "" : "s"} in flight, then exiting`);
  if (!server.listening) process.exit(0);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Keep-alive connections become idle as their last response ends; close them as they do.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  sweep.unref();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_DEADLINE_MS).unref();
}
process.on("SIGTERM", () => shutDown("SIGTERM"));
process.on("SIGINT", () => shutDown("SIGINT"));

const startDelayMs = version.includes("slow-start") ? Math.max(0, Number(process.env.START_DELAY_MS ?? 2000) || 0) : 0;
if (startDelayMs > 0) setTimeout(listen, startDelayMs);
else listen();
