// "Now": both slots side by side — colour, version, state, replicas — and which one gets the
// traffic, in one sentence a person who never read the docs can act on.
import { fill, h, slotLabel } from "./format.js";

const STATE_WORDS = {
  live: "serving all traffic",
  idle: "no traffic",
  standby: "standby: the previous version, kept running for an instant rollback",
  deploying: "a new version is being deployed here",
  failed: "failed its last deployment",
  stopped: "stopped (scaled down)",
  empty: "nothing deployed",
};

export function renderNow(status) {
  const headline = document.getElementById("headline");
  const now = document.getElementById("now");
  now.dataset.liveSlot = status.live ?? "";
  if (status.live) {
    const version = status.slots[status.live].version;
    fill(headline, h("strong", {}, version ?? "an unknown version"), " is live on ", h("span", { class: `chip chip-${status.live}` }, status.live), ": all traffic goes there.");
  } else {
    fill(headline, "No slot is live yet: nothing receives traffic. Deploy a version to start.");
  }
  for (const slot of ["blue", "green"]) renderSlot(document.querySelector(`.slot[data-slot="${slot}"]`), status.slots[slot], status);
}

function renderSlot(card, view, status) {
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
      h("dd", {}, live ? "100%" : "0%"),
      target ? h("dt", {}, "Now") : undefined,
      target ? h("dd", {}, `${target.kind} of ${target.version}: ${target.phase}`) : undefined,
    ),
  );
  card.setAttribute("aria-label", `${view.slot} slot: ${slotLabel(view.slot, view.version)}, ${live ? "live, serving all traffic" : view.state}`);
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
