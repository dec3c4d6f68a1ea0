// The deployment in progress (or the last one): its phases as a timeline with start times and
// durations, each check's result, the monitor's rules with their latest values against the
// thresholds, and the time left in the monitor window.
import { clockTime, duration, fill, h, metricValue, outcomeBadge, slotChip, threshold } from "./format.js";

/** The phases each kind of deployment goes through when all goes well (optional ones appear once entered). */
const EXPECTED = {
  deploy: ["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring"],
  switch: ["queued", "waiting-ready", "checking", "switching", "verifying-switch"],
  rollback: ["queued", "waiting-ready", "switching", "verifying-switch"],
  contract: ["queued", "contracting"],
};
const TERMINAL = new Set(["succeeded", "aborted", "rolled-back", "failed"]);

/**
 * view: { detail, running, monitor, liveSample, now } — `now` is the server's clock as the page
 * estimates it; `liveSample` the last sample event seen ({ deploymentId, remainingMs, receivedAt }).
 */
export function renderDeployment(view) {
  const title = document.getElementById("deployment-title");
  const body = document.getElementById("deployment-body");
  const { detail } = view;
  if (!detail) {
    title.textContent = "Deployment";
    fill(body, h("p", { class: "muted" }, "No deployment yet. Deploy a version to start."));
    return;
  }
  const running = detail.outcome === "running";
  title.textContent = running ? "Deployment in progress" : "Last deployment";
  body.dataset.deployment = detail.id;
  body.dataset.outcome = detail.outcome;
  // Redrawn every second while running: keep the check outputs someone opened open.
  const opened = new Set([...body.querySelectorAll("details[open]")].map((element) => element.dataset.key));
  fill(
    body,
    summary(detail, view.now),
    timeline(detail, view.now),
    running ? undefined : reason(detail),
    h("div", { class: "deployment-grid" }, checks(detail), monitorPanel(view)),
  );
  for (const element of body.querySelectorAll("details")) if (opened.has(element.dataset.key)) element.open = true;
}

function summary(detail, now) {
  const verbs = {
    deploy: detail.outcome === "running" ? "Deploying" : "Deploy of",
    switch: detail.outcome === "running" ? "Switching traffic to" : "Switch to",
    rollback: detail.outcome === "running" ? "Rolling back to" : "Rollback to",
    contract: detail.outcome === "running" ? "Contracting for" : "Contract for",
  };
  const started = Date.parse(detail.startedAt);
  const took = detail.durationMs ?? now - started;
  return h(
    "p",
    { class: "deployment-summary" },
    outcomeBadge(detail.outcome),
    " ",
    verbs[detail.kind] ?? detail.kind,
    " ",
    h("strong", {}, detail.version),
    detail.kind === "deploy" ? " to " : " in ",
    slotChip(detail.slot),
    detail.fromSlot ? [" (traffic was on ", slotChip(detail.fromSlot), ")"] : "",
    h("span", { class: "muted" }, ` · ${detail.id} · by ${detail.actor} · started ${clockTime(started)} · ${duration(took)}`),
  );
}

function timeline(detail, now) {
  const running = detail.outcome === "running";
  const entered = detail.phases.filter((phase) => !TERMINAL.has(phase.phase));
  const items = entered.map((phase, index) => {
    const next = entered[index + 1] ?? detail.phases.find((p) => TERMINAL.has(p.phase));
    const last = index === entered.length - 1;
    let state = "done";
    if (running && last) state = "current";
    else if (!running && last && detail.outcome !== "succeeded" && phase.phase !== "rolling-back") state = "failed";
    const end = phase.finishedAt ?? next?.startedAt ?? (running && last ? now : undefined);
    return phaseItem(phase.phase, state, phase.startedAt, end === undefined ? undefined : end - phase.startedAt, phase.detail);
  });
  if (running) {
    const expected = EXPECTED[detail.kind] ?? [];
    const reached = Math.max(-1, ...entered.map((phase) => expected.indexOf(phase.phase)));
    if (!entered.some((phase) => phase.phase === "rolling-back")) {
      for (const phase of expected.slice(reached + 1)) items.push(phaseItem(phase, "pending"));
    }
  } else {
    const end = detail.phases.find((phase) => TERMINAL.has(phase.phase));
    items.push(phaseItem(detail.outcome, `end end-${detail.outcome}`, end?.startedAt ?? Date.parse(detail.finishedAt ?? detail.startedAt)));
  }
  return h("ol", { class: "timeline", "aria-label": "phases" }, items);
}

function phaseItem(name, state, startedAt, tookMs, detailText) {
  const label = { done: "done", current: "in progress", failed: "stopped here", pending: "not yet" }[state] ?? "";
  return h(
    "li",
    { class: `phase phase-${state}`, "data-phase": name, title: detailText ?? undefined },
    h("span", { class: "phase-dot", "aria-hidden": "true" }),
    h("span", { class: "phase-name" }, name),
    h("span", { class: "phase-time" }, startedAt === undefined ? label : clockTime(startedAt)),
    h("span", { class: "phase-duration" }, tookMs === undefined ? "" : duration(tookMs)),
    label ? h("span", { class: "visually-hidden" }, ` (${label})`) : undefined,
  );
}

function reason(detail) {
  if (!detail.reason) return undefined;
  return h("p", { class: `reason reason-${detail.outcome}` }, detail.reason);
}

function checks(detail) {
  const results = detail.checks;
  const rows = results.map((result) =>
    h(
      "tr",
      { class: result.ok ? "ok" : "failed" },
      h("td", { class: "check-mark" }, result.ok ? "✓" : "✗", h("span", { class: "visually-hidden" }, result.ok ? " passed" : " failed")),
      h("td", {}, result.name, result.replica === undefined ? "" : h("span", { class: "muted" }, ` #${result.replica}`)),
      h("td", { class: "check-message" }, result.message, result.output && !result.ok ? h("details", { "data-key": `${result.name}#${result.replica ?? ""}` }, h("summary", {}, "output"), h("pre", {}, result.output)) : undefined),
      h("td", { class: "num" }, duration(result.durationMs)),
    ),
  );
  const passed = results.filter((result) => result.ok).length;
  return h(
    "div",
    { class: "checks" },
    h("h3", {}, "Checks", results.length ? h("span", { class: "muted" }, ` ${passed} of ${results.length} passed`) : ""),
    results.length === 0
      ? h("p", { class: "muted" }, detail.kind === "rollback" ? "A rollback only waits for the standby to be ready." : "No check has run yet.")
      : h("table", { class: "table compact" }, h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "visually-hidden" }, "result")), h("th", {}, "check"), h("th", {}, "result"), h("th", { class: "num" }, "took"))), h("tbody", {}, rows)),
  );
}

function monitorPanel({ detail, monitor, liveSample, now }) {
  const heading = h("h3", {}, "Monitor");
  if (detail.kind !== "deploy" && detail.phases.every((p) => p.phase !== "monitoring")) {
    return h("div", { class: "monitor" }, heading, h("p", { class: "muted" }, `A ${detail.kind} is a person's decision: no monitor window.`));
  }
  if (!monitor) return h("div", { class: "monitor" }, heading);
  const latest = detail.samples.at(-1);
  const rows = monitor.rules.map((rule) => {
    const result = latest?.results.find((r) => r.rule === rule.text);
    const verdict = result === undefined || result.value === undefined || result.value === null ? "—" : result.ok ? "ok" : "breaks";
    return h(
      "tr",
      { class: verdict === "breaks" ? "failed" : "" },
      h("td", {}, h("code", {}, rule.metric)),
      h("td", { class: "num" }, metricValue(rule.metric, result?.value)),
      h("td", { class: "num" }, threshold(rule)),
      h("td", {}, h("span", { class: `verdict verdict-${verdict === "—" ? "none" : verdict}` }, verdict)),
    );
  });
  return h(
    "div",
    { class: "monitor" },
    heading,
    windowProgress(detail, monitor, liveSample, now),
    h("table", { class: "table compact" }, h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", { class: "num" }, "last window"), h("th", { class: "num" }, "rule"), h("th", {}, ""))), h("tbody", {}, rows)),
    latest ? h("p", { class: "muted small" }, windowNote(latest, detail.samples, monitor)) : undefined,
  );
}

function windowProgress(detail, monitor, liveSample, now) {
  const phase = detail.phases.find((p) => p.phase === "monitoring");
  if (!phase && detail.outcome !== "running") return h("p", { class: "muted" }, "Never started: the deployment ended before traffic moved to it.");
  if (!phase) return h("p", { class: "muted" }, `Starts once traffic has switched: ${duration(monitor.durationMs)}, a window every ${duration(monitor.intervalMs)}.`);
  const end = detail.phases.find((p) => TERMINAL.has(p.phase) || p.phase === "rolling-back");
  if (end || detail.outcome !== "running") {
    return h("p", { class: "muted" }, `Watched for ${duration((end?.startedAt ?? now) - phase.startedAt)} of ${duration(monitor.durationMs)}.`);
  }
  let leftMs = phase.startedAt + monitor.durationMs - now;
  if (liveSample?.deploymentId === detail.id) leftMs = liveSample.remainingMs - (Date.now() - liveSample.receivedAt);
  leftMs = Math.max(0, leftMs);
  const total = Math.max(monitor.durationMs, leftMs);
  return h(
    "div",
    { class: "window-progress" },
    h("label", { for: "monitor-progress" }, h("strong", { "data-testid": "time-left" }, duration(leftMs)), ` left of ${duration(monitor.durationMs)}`),
    h("progress", { id: "monitor-progress", max: String(total), value: String(total - leftMs) }),
  );
}

function windowNote(latest, samples, monitor) {
  const judged = samples.filter((sample) => sample.judged).length;
  const verdict = latest.judged ? (latest.healthy ? "healthy" : "unhealthy") : `not judged (${latest.note ?? `fewer than ${monitor.minRequests} requests`})`;
  return `Last window at ${clockTime(latest.at)}: ${latest.requests} requests, ${latest.errors} errors — ${verdict}. ${samples.length} windows so far, ${judged} judged.`;
}
