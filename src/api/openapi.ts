// The control API described as OpenAPI 3.1, served at GET /api/openapi.json. Written by hand
// beside routes.ts (a test checks that the two list the same routes); the request bodies come from
// the zod schemas the routes validate with, so what is documented is what is accepted.
import { z } from "zod";
import { PHASES } from "../core/phases.js";
import type { DeploymentKind, Outcome } from "../core/phases.js";
import type { Metric } from "../core/rules.js";
import { SLOTS } from "../core/slots.js";
import type { SlotState } from "../core/slots.js";
import { deployBody, MAX_BODY_BYTES, rollbackBody, switchBody } from "./requests.js";

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Json): Json => ({ oneOf: [schema, { type: "null" }] });
const str = (description?: string): Json => (description ? { type: "string", description } : { type: "string" });
const int = (description?: string): Json => (description ? { type: "integer", description } : { type: "integer" });
const object = (properties: Json, required: string[] = Object.keys(properties)): Json => ({ type: "object", properties, required });

function bodyOf(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema) as Json;
  return rest;
}

const json = (schema: Json) => ({ "application/json": { schema } });
const ok = (description: string, schema: Json) => ({ description, content: json(schema) });
const error = (description: string) => ({ description, content: json(ref("Error")) });

/** The error answers every guarded route may give, besides its own. */
const GUARD_ERRORS = {
  "401": error("FLIP_E_UNAUTHORIZED: no token or a wrong one, where one is needed"),
  "403": error("FLIP_E_BAD_REQUEST: a foreign Host on a loopback listener, or a call that changes something from another site's page (Origin)"),
  "429": { ...error("FLIP_E_RATE_LIMITED: too many wrong tokens from this client"), headers: { "Retry-After": { schema: int("seconds"), description: "When to try again" } } },
  "500": error("FLIP_E_INTERNAL: a bug; the server log has the details"),
};

const BODY_ERRORS = {
  "400": error("FLIP_E_BAD_REQUEST: the body is not valid JSON or does not match the schema"),
  "413": error(`FLIP_E_BAD_REQUEST: the body is larger than ${MAX_BODY_BYTES / 1024} KiB`),
  "415": error("FLIP_E_BAD_REQUEST: a Content-Type other than application/json"),
};

const limitParameter = {
  name: "limit",
  in: "query",
  required: false,
  description: "How many, newest first (the server's default when absent)",
  schema: { type: "integer", minimum: 1, maximum: 1000 },
};
const idParameter = { name: "id", in: "path", required: true, description: "A deployment id, e.g. d-0007-k3f9", schema: str() };

const eventStream = (description: string) => ({
  description: `${description} Each message's \`event:\` is the type of the JSON in \`data:\` (a StreamEvent); a \`: heartbeat\` comment comes every 15 s while quiet.`,
  content: { "text/event-stream": { schema: ref("StreamEvent") } },
});

function read(summary: string, description: string, responses: Json, parameters: Json[] = []): Json {
  return { summary, description, ...(parameters.length ? { parameters } : {}), responses: { ...responses, ...GUARD_ERRORS } };
}

function action(summary: string, description: string, body: z.ZodType | undefined, status: string, answer: string, errors: Json, answerSchema: Json = ref("DeploymentSummary")): Json {
  return {
    summary,
    description,
    requestBody: {
      required: false,
      description: body ? undefined : "None, or an empty JSON object",
      content: json(body ? bodyOf(body) : { type: "object", additionalProperties: false }),
    },
    responses: { [status]: ok(answer, answerSchema), ...BODY_ERRORS, ...errors, ...GUARD_ERRORS },
  };
}

const LOCKED = { "409": error("FLIP_E_LOCKED and friends: another deployment is running, no standby, an empty slot, or no checks without force") };

const paths: Record<string, Record<string, Json>> = {
  "/healthz": {
    get: { summary: "Liveness", description: "Always open, needs no token.", security: [], responses: { "200": ok("flip serve is up", object({ ok: { const: true } })) } },
  },
  "/api/openapi.json": {
    get: read("This document", "The control API as OpenAPI 3.1.", { "200": ok("The document", { type: "object" }) }),
  },
  "/api/status": {
    get: read("Status", "Which slot is live, what each slot runs, and the running deployment (as `flip status --json`).", { "200": ok("The status", ref("StatusView")) }),
  },
  "/api/history": {
    get: read("History", "Deployments, switches and rollbacks, newest first.", { "200": ok("Deployments", { type: "array", items: ref("DeploymentSummary") }), "400": error("FLIP_E_BAD_REQUEST: a bad limit") }, [limitParameter]),
  },
  "/api/audit": {
    get: read("Audit log", "Who did what, when, newest first. The actor is what the caller claims (X-Flip-Actor, else `api`) followed by `@` and the address the server saw.", { "200": ok("Events", { type: "array", items: ref("AuditEvent") }), "400": error("FLIP_E_BAD_REQUEST: a bad limit") }, [limitParameter]),
  },
  "/api/deployments/{id}": {
    get: read("One deployment", "With its phases, check results and monitor samples.", { "200": ok("The deployment", ref("DeploymentDetail")), "404": error("FLIP_E_NOT_FOUND: no such deployment") }, [idParameter]),
  },
  "/api/deployments/{id}/events": {
    get: read("Follow one deployment", "Server-sent events: what already happened (replayed: true), then live events, ending with `finished`, after which the stream closes.", { "200": eventStream("The events."), "404": error("FLIP_E_NOT_FOUND: no such deployment") }, [idParameter]),
  },
  "/api/events": {
    get: read("Follow every deployment", "Server-sent events of every deployment from now on; the stream stays open.", { "200": eventStream("The events.") }),
  },
  "/api/deployments": {
    post: action("Deploy", "Deploys a version to the idle slot, checks it, switches traffic and watches it. Answers once it is queued; follow it at /api/deployments/{id}/events.", deployBody, "202", "The deployment, queued", LOCKED),
  },
  "/api/deployments/plan": {
    post: {
      ...action("Plan a deploy (dry run)", "Each phase a deploy would go through with the exact changes it would make; changes nothing.", deployBody, "200", "", LOCKED),
      responses: { "200": ok("The plan", ref("DeploymentPlan")), ...BODY_ERRORS, ...LOCKED, ...GUARD_ERRORS },
    },
  },
  "/api/switch": {
    post: action("Switch", "Sends traffic to a slot that already runs a version, after its checks unless force.", switchBody, "202", "The switch, queued", LOCKED),
  },
  "/api/rollback": {
    post: action("Roll back", "Flips traffic to the standby slot; force allows a standby whose last deployment failed.", rollbackBody, "202", "The rollback, queued", LOCKED),
  },
  "/api/contract": {
    post: action(
      "Contract the database schema",
      "Runs migrations.contract for the live version, as a deployment of kind contract (follow it at /api/deployments/{id}/events). Refused while a rollback target still runs the previous version.",
      undefined,
      "202",
      "The contract, queued",
      { "409": error("FLIP_E_CONTRACT_BLOCKED: the standby still runs the previous version; FLIP_E_LOCKED: another deployment is running"), "400": error("FLIP_E_BAD_REQUEST: no contract command is configured, or a bad body") },
    ),
  },
  "/api/retire": {
    post: action(
      "Retire the standby",
      "Stops the standby now instead of at retire.retireAfter. A rollback then redeploys its version through the full flow, which is not instant; with migrations.contractAfterRetire the contract follows.",
      undefined,
      "200",
      "The standby, stopped",
      { "409": error("FLIP_E_LOCKED: a deployment is running"), "400": error("FLIP_E_BAD_REQUEST: nothing is live, or no standby to retire"), "500": error("FLIP_E_PLATFORM: the platform could not stop it (it stays the standby)") },
      object({ slot: { type: "string", enum: ["blue", "green"] }, version: str() }, ["slot", "version"]),
    ),
  },
  "/api/abort": {
    post: action("Abort", "Stops the running deployment: before the switch it ends aborted, after it traffic flips back.", undefined, "200", "The deployment the abort applies to", { "409": error("FLIP_E_NOTHING_RUNNING") }),
  },
  "/api/promote": {
    post: action("Promote", "Ends the running deployment's monitor window now, as a success.", undefined, "200", "The deployment promoted", { "409": error("FLIP_E_NOTHING_RUNNING"), "400": error("FLIP_E_BAD_REQUEST: not monitoring, or a bad body") }),
  },
  "/api/traffic": {
    get: read(
      "Traffic per slot",
      "Request rate, error rate and p99 per slot over the last minutes (the dashboard's charts), with the moments traffic moved.",
      { "200": ok("Columns, oldest first", ref("TrafficSeries")), "400": error("FLIP_E_BAD_REQUEST: a bad seconds or since") },
      [
        { name: "seconds", in: "query", required: false, description: "How far back (default and most: 900)", schema: { type: "integer", minimum: 1, maximum: 900 } },
        { name: "since", in: "query", required: false, description: "Only points after this time, in ms since the epoch", schema: { type: "integer", minimum: 0 } },
      ],
    ),
  },
  "/api/monitor": {
    get: read("Monitor settings", "The rules deployments are judged by after the switch, with their thresholds, and the window's length.", { "200": ok("The settings", ref("MonitorSettings")) }),
  },
  "/metrics": {
    get: read("Prometheus metrics", "Traffic per slot and replica, the live slot, deployments; in the Prometheus text format.", { "200": { description: "The exposition", content: { "text/plain": { schema: str() } } } }),
  },
};

// The enums of the views, listed here; `satisfies` plus Complete<> fail the type check when a
// value is added to (or removed from) the code's type without being added here.
type Complete<All, Listed extends readonly All[]> = [Exclude<All, Listed[number]>] extends [never] ? Listed : never;
const SLOT_STATES = ["empty", "deploying", "idle", "live", "standby", "scaled-down", "retired", "failed", "stopped"] as const satisfies readonly SlotState[];
const OUTCOMES = ["running", "succeeded", "aborted", "rolled-back", "failed"] as const satisfies readonly Outcome[];
const KINDS = ["deploy", "switch", "rollback", "contract"] as const satisfies readonly DeploymentKind[];
const METRICS = ["errorRate", "p50", "p90", "p95", "p99", "requestRate"] as const satisfies readonly Metric[];
const enumOf = <All>() => <Listed extends readonly All[]>(values: Complete<All, Listed>): Json => ({ type: "string", enum: [...values] });

const phase = { type: "string", enum: [...PHASES] };
const slot = { type: "string", enum: [...SLOTS] };
const outcome = enumOf<Outcome>()(OUTCOMES);

const schemas: Record<string, Json> = {
  Error: object({ error: object({ code: str("A stable FLIP_E_* code, see docs/errors.md"), message: str(), hint: str("What to do") }, ["code", "message"]) }),
  SlotView: object({
    slot,
    version: nullable(str()),
    state: enumOf<SlotState>()(SLOT_STATES),
    replicas: int(),
    runningReplicas: int(),
    scheduled: { type: "array", description: "A standby's upcoming scale-down and retirement, earliest first", items: object({ action: { type: "string", enum: ["scale-down", "retire"] }, at: str("ISO 8601") }) },
  }, ["slot", "state", "replicas", "runningReplicas"]),
  StatusView: object({
    app: str(),
    live: nullable(slot),
    slots: object({ blue: ref("SlotView"), green: ref("SlotView") }),
    deployment: nullable(ref("DeploymentSummary")),
    router: object({ kind: str(), listen: str(), preview: str() }, ["kind"]),
    platform: object({ kind: str() }),
  }, ["app", "slots", "router", "platform"]),
  DeploymentSummary: object({
    id: str(),
    kind: enumOf<DeploymentKind>()(KINDS),
    version: str(),
    slot,
    fromSlot: slot,
    phase,
    outcome,
    reason: str(),
    actor: str("Who started it: the claimed actor, then @ and the client's address"),
    startedAt: str("ISO 8601"),
    finishedAt: str("ISO 8601"),
    durationMs: int(),
  }, ["id", "kind", "version", "slot", "phase", "outcome", "actor", "startedAt"]),
  DeploymentDetail: {
    allOf: [
      ref("DeploymentSummary"),
      object({
        phases: { type: "array", items: ref("PhaseRecord") },
        checks: { type: "array", items: ref("CheckResult") },
        samples: { type: "array", items: ref("SampleRecord") },
        logs: { type: "array", description: "Log lines the controller still holds in memory (the last few deployments')", items: object({ at: int("ms since the epoch"), message: str() }, ["at", "message"]) },
      }),
    ],
  },
  PhaseRecord: object({ deploymentId: str(), phase, startedAt: int("ms since the epoch"), finishedAt: int("ms since the epoch"), detail: str() }, ["deploymentId", "phase", "startedAt"]),
  CheckResult: object({
    name: str(),
    kind: { type: "string", enum: ["http", "command"] },
    ok: { type: "boolean" },
    message: str(),
    output: str(),
    replica: int(),
    attempts: int(),
    durationMs: int(),
    at: int("ms since the epoch"),
  }, ["name", "kind", "ok", "message", "attempts", "durationMs", "at"]),
  RuleResult: object({
    rule: str("e.g. errorRate < 5%"),
    metric: enumOf<Metric>()(METRICS),
    value: { type: "number" },
    threshold: { type: "number" },
    ok: { type: "boolean" },
  }, ["rule", "metric", "threshold", "ok"]),
  SampleRecord: object({
    deploymentId: str(),
    at: int("ms since the epoch"),
    slot,
    requests: int(),
    errors: int(),
    judged: { type: "boolean" },
    healthy: { type: "boolean" },
    results: { type: "array", items: ref("RuleResult") },
    note: str(),
  }, ["deploymentId", "at", "slot", "requests", "errors", "judged", "healthy", "results"]),
  AuditEvent: object({ id: int(), at: int("ms since the epoch"), actor: str(), kind: str("e.g. deployment.started, deployment.abort-requested"), deploymentId: str(), message: str(), data: {} }, ["id", "at", "actor", "kind", "message"]),
  TrafficSeries: object({
    available: { type: "boolean", description: "False when the router does not see traffic (every column is then empty)" },
    now: int("The server's clock, ms since the epoch"),
    stepMs: int(),
    times: { type: "array", items: int("End of each step, ms since the epoch") },
    slots: object(Object.fromEntries(SLOTS.map((name) => [name, ref("SlotSeries")]))),
    switches: { type: "array", items: object({ at: int(), from: slot, to: slot, version: str() }, ["at", "to"]) },
  }),
  SlotSeries: object({
    requestRate: { type: "array", items: { type: "number" }, description: "Requests per second" },
    errorRate: { type: "array", items: nullable({ type: "number" }), description: "0..1; null for a step without requests" },
    p99Ms: { type: "array", items: nullable({ type: "number" }) },
  }),
  MonitorSettings: object({
    durationMs: int(),
    intervalMs: int(),
    minRequests: int(),
    rules: { type: "array", items: object({ text: str(), metric: enumOf<Metric>()(METRICS), op: { type: "string", enum: ["<", "<=", ">", ">="] }, threshold: { type: "number" } }) },
    source: str('"builtin", or the kind of monitor.source'),
  }),
  DeploymentPlan: object({ version: str(), slot, fromSlot: slot, steps: { type: "array", items: object({ phase, changes: { type: "array", items: str() } }) } }, ["version", "slot", "steps"]),
  StreamEvent: {
    description: "One event of a deployment; `replayed: true` on what happened before the stream opened.",
    oneOf: [
      object({ type: { const: "phase" }, deploymentId: str(), phase, at: int(), detail: str(), replayed: { type: "boolean" } }, ["type", "deploymentId", "phase", "at"]),
      object({ type: { const: "check" }, deploymentId: str(), result: ref("CheckResult"), replayed: { type: "boolean" } }, ["type", "deploymentId", "result"]),
      object({ type: { const: "sample" }, deploymentId: str(), sample: ref("SampleRecord"), remainingMs: int("Left in the monitor window (live events only)"), replayed: { type: "boolean" } }, ["type", "deploymentId", "sample"]),
      object({ type: { const: "log" }, deploymentId: str(), at: int(), message: str() }, ["type", "deploymentId", "at", "message"]),
      object({ type: { const: "finished" }, deploymentId: str(), outcome, reason: str(), deployment: ref("DeploymentSummary") }, ["type", "deploymentId", "outcome", "deployment"]),
    ],
  },
};

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Flip control API",
    version: "1",
    description:
      "JSON over HTTP, served by `flip serve` on control.listen; the flip CLI and the dashboard use nothing else. " +
      "Auth: `Authorization: Bearer <control.token>` on every call that changes something, and on every call under /api/ and /metrics when the listener is not loopback. " +
      "10 wrong tokens from one client within a minute → 429 for the rest of that minute. No CORS: other sites' pages can neither read answers nor act. " +
      "Errors are `{ error: { code, message, hint } }`.",
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "control.token (normally ${FLIP_TOKEN})" } },
    schemas,
  },
  // Either form: a loopback listener needs no token for reads (the empty requirement).
  security: [{ bearer: [] }, {}],
  paths,
} as const;
