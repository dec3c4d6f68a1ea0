// "Now": both slots side by side — colour, version, state, replicas — and which one gets the
// traffic, in one sentence a person who never read the docs can act on.
import { dateTime, fill, h, metricValue, slotLabel } from "./format.js";

const STATE_WORDS = {
  live: "serving all traffic",
  idle: "no traffic",
  standby: "standby: the previous version, kept running for an instant rollback",
  "scaled-down": "standby, scaled down: a rollback scales it up and checks it first",
  retired: "retired: stopped; a rollback would deploy this version again",
  deploying: "a new version is being deployed here",
  failed: "failed its last deployment",
  stopped: "stopped (scaled down)",
  empty: "nothing deployed",
};

/** `traffic`: the newest second of each slot ({ requestRate, errorRate, p99Ms }), when the router sees traffic. */
export function renderNow(status, traffic) {
  const headline = document.getElementById("headline");
  const now = document.getElementById("now");
  now.dataset.liveSlot = status.live ?? "";
  if (status.live) {
    const version = status.slots[status.live].version;
    fill(headline, h("strong", {}, version ?? "an unknown version"), " is live on ", h("span", { class: `chip chip-${status.live}` }, status.live), ": all traffic goes there.");
  } else {
    fill(headline, "No slot is live yet: nothing receives traffic. Deploy a version to start.");
  }
  renderEntrances(status);
  for (const slot of ["blue", "green"]) renderSlot(document.querySelector(`.slot[data-slot="${slot}"]`), status.slots[slot], status, traffic?.[slot]);
}

function renderSlot(card, view, status, traffic) {
  const live = status.live === view.slot;
  card.classList.toggle("is-live", live);
  card.dataset.state = view.state;
  const deployment = status.deployment;
  const target = deployment && deployment.slot === view.slot ? deployment : undefined;
  const healthy = view.runningReplicas === view.replicas && view.replicas > 0;
  fill(
    card,
    h(
      "div",
      { class: "slot-head" },
      h("span", { class: "slot-name" }, view.slot),
      live ? h("span", { class: "live-badge", "data-testid": `live-${view.slot}` }, "LIVE") : h("span", { class: `state-badge state-${view.state}` }, view.state),
    ),
    h("div", { class: "slot-version", title: "version" }, view.version ?? "—"),
    h("p", { class: "slot-state" }, live ? "Serving all traffic" : capitalise(STATE_WORDS[view.state] ?? view.state)),
    h(
      "dl",
      { class: "slot-facts" },
      h("dt", {}, "Replicas"),
      h("dd", { class: healthy || view.replicas === 0 ? "" : "warn" }, `${view.runningReplicas} of ${view.replicas} running`),
      h("dt", {}, "Traffic"),
      h("dd", {}, live ? "100%" : "0%", traffic ? ` · ${traffic.requestRate.toFixed(traffic.requestRate < 10 ? 1 : 0)} req/s` : ""),
      traffic?.errorRate != null ? h("dt", {}, "Errors") : undefined,
      traffic?.errorRate != null ? h("dd", {}, `${metricValue("errorRate", traffic.errorRate)} · p99 ${metricValue("p99", traffic.p99Ms)}`) : undefined,
      view.scheduled?.length ? h("dt", {}, "Next") : undefined,
      view.scheduled?.length ? h("dd", {}, view.scheduled.map((item) => `${item.action === "retire" ? "retires" : "scales down"} at ${dateTime(item.at)}`).join(", ")) : undefined,
      target ? h("dt", {}, "Now") : undefined,
      target ? h("dd", {}, `${target.kind} of ${target.version}: ${target.phase}`) : undefined,
    ),
  );
  card.setAttribute("aria-label", `${view.slot} slot: ${slotLabel(view.slot, view.version)}, ${live ? "live, serving all traffic" : view.state}`);
}

/** Where people reach the app, and where the idle version can be tried before it gets traffic. */
function renderEntrances(status) {
  const { listen, preview } = status.router;
  const idle = status.live === "blue" ? "green" : status.live === "green" ? "blue" : undefined;
  fill(
    document.getElementById("entrances"),
    listen ? h("span", {}, "Traffic enters at ", h("code", {}, `http://${listen}`)) : undefined,
    listen && preview ? " · " : undefined,
    preview ? h("span", {}, "the preview at ", h("code", {}, `http://${preview}`), ` always serves the idle slot${idle ? ` (${slotLabel(idle, status.slots[idle].version)})` : ""}`) : undefined,
    listen || preview ? "." : undefined,
  );
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
