// History: every deployment (version, slot, outcome, reason, duration), and the audit log: who
// did what, when.
import { dateTime, duration, fill, h, outcomeBadge, slotChip } from "./format.js";

export function renderHistory(deployments) {
  const body = document.getElementById("history-body");
  if (deployments.length === 0) {
    fill(body, h("p", { class: "muted" }, "No deployment yet."));
    return;
  }
  const rows = deployments.map((deployment) =>
    h(
      "tr",
      { "data-id": deployment.id },
      h("td", { class: "nowrap" }, dateTime(deployment.startedAt)),
      h("td", {}, h("strong", {}, deployment.version), deployment.kind === "deploy" ? "" : h("span", { class: "muted" }, ` ${deployment.kind}`)),
      h("td", {}, slotChip(deployment.slot)),
      h("td", {}, outcomeBadge(deployment.outcome)),
      h("td", { class: "reason-cell" }, deployment.reason ?? (deployment.outcome === "running" ? deployment.phase : "")),
      h("td", { class: "num nowrap" }, duration(deployment.durationMs)),
    ),
  );
  fill(
    body,
    h(
      "table",
      { class: "table" },
      h("thead", {}, h("tr", {}, ["started", "version", "slot", "outcome", "reason", "took"].map((name) => h("th", { class: name === "took" ? "num" : "" }, name)))),
      h("tbody", {}, rows),
    ),
  );
}

export function renderAudit(events) {
  const body = document.getElementById("audit-body");
  if (events.length === 0) {
    fill(body, h("p", { class: "muted" }, "Nothing recorded yet."));
    return;
  }
  const rows = events.map((event) =>
    h(
      "tr",
      {},
      h("td", { class: "nowrap" }, dateTime(event.at)),
      h("td", {}, h("code", { class: "event-kind" }, event.kind), h("span", { class: "actor" }, ` by ${event.actor}`), h("div", { class: "event-message" }, event.message)),
    ),
  );
  fill(body, h("table", { class: "table" }, h("thead", {}, h("tr", {}, h("th", {}, "when"), h("th", {}, "who did what"))), h("tbody", {}, rows)));
}
