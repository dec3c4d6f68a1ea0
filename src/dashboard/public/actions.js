// Actions: deploy, roll back, switch, retire, abort, promote. Each says what it will do before it does it
// ("Traffic will move from green (v2) to blue (v1)"), and one that cannot apply now is disabled
// with the reason beside it. The server decides in the end: a refusal is shown as it words it.
import { postJson } from "./api.js";
import { h, slotLabel } from "./format.js";

const BEFORE_SWITCH = new Set(["queued", "expanding", "deploying", "waiting-ready", "checking", "awaiting-approval", "awaiting-window"]);
const VERSION = /^[A-Za-z0-9._:/+@-]{1,128}$/;
const other = (slot) => (slot === "blue" ? "green" : "blue");

/** What each action would do now, or why it cannot: pure, from the last status. */
export function availability(status, connected) {
  const down = { ok: false, why: "flip serve cannot be reached right now." };
  if (!connected || !status) return { deploy: down, rollback: down, switch: down, retire: down, abort: down, promote: down };
  const running = status.deployment;
  const busy = running ? { ok: false, why: `wait until ${running.id} (${running.kind} of ${running.version}) ends: one at a time.` } : undefined;
  const live = status.live;
  const label = (slot) => slotLabel(slot, status.slots[slot]?.version);

  const rollbackTarget = live ? other(live) : undefined;
  const switchTarget = live ? other(live) : ["blue", "green"].find((slot) => status.slots[slot].version && status.slots[slot].runningReplicas > 0);
  return {
    deploy: busy ?? { ok: true, why: `Goes to ${live ? other(live) : "blue"}, is checked, then gets the traffic.` },
    rollback: busy ?? rollbackCheck(status, rollbackTarget, label),
    switch: busy ?? switchCheck(status, switchTarget, label),
    retire: busy ?? retireCheck(status, rollbackTarget, label),
    abort: running ? { ok: true, why: abortWords(status, running).short } : { ok: false, why: "No deployment is running." },
    promote: promoteCheck(running, label),
  };
}

/** Promote approves a deployment that awaits approval, or ends a monitor window early. */
function promoteCheck(running, label) {
  if (!running) return { ok: false, why: "No deployment is running." };
  if (running.phase === "awaiting-approval") {
    return { ok: true, approve: true, why: `${running.version} passed its checks on ${label(running.slot)} and waits for a person: approving moves the traffic.` };
  }
  if (running.phase !== "monitoring") return { ok: false, why: `Only while a deployment awaits approval or is monitoring (${running.id} is ${running.phase}).` };
  return { ok: true, why: `Ends the monitor window of ${running.version} now, as a success.` };
}

function rollbackCheck(status, target, label) {
  if (!target) return { ok: false, why: "No slot is live yet: nothing to roll back." };
  const view = status.slots[target];
  if (!view.version || view.state === "empty" || view.state === "stopped") return { ok: false, why: `No standby: ${target} runs nothing.` };
  if (view.state === "failed") return { ok: false, why: `${label(target)} failed its last deployment (\`flip rollback --force\` goes there anyway).` };
  if (view.state === "retired") return { ok: true, target, why: `Not instant: ${target} was retired, so ${view.version} is deployed again first.` };
  if (view.state === "scaled-down") return { ok: true, target, why: `${label(target)} is scaled down: scaled back up and checked first.` };
  if (view.runningReplicas === 0) return { ok: false, why: `${label(target)} has no running replica.` };
  return { ok: true, target, why: `Instant: ${view.version} still runs on ${target}.` };
}

function retireCheck(status, target, label) {
  if (!target) return { ok: false, why: "No slot is live yet: there is no standby." };
  const view = status.slots[target];
  if (view.state !== "standby" && view.state !== "scaled-down") return { ok: false, why: `No standby to retire: ${target} is ${view.state}.` };
  return { ok: true, target, why: `Stops ${label(target)} now; a rollback then redeploys ${view.version}, not instantly.` };
}

function switchCheck(status, target, label) {
  if (!target) return { ok: false, why: "Neither slot runs a version yet." };
  const view = status.slots[target];
  if (!view.version) return { ok: false, why: `${target} runs nothing.` };
  if (view.runningReplicas === 0) return { ok: false, why: `${label(target)} has no running replica.` };
  return { ok: true, target, why: `Checks ${label(target)} first, then moves the traffic.` };
}

function abortWords(status, running) {
  const from = running.fromSlot;
  const fromLabel = from ? slotLabel(from, status.slots[from]?.version) : undefined;
  const toLabel = slotLabel(running.slot, running.version);
  if (BEFORE_SWITCH.has(running.phase)) {
    return {
      short: `Stops ${running.id}; traffic stays where it is.`,
      long: `The ${running.kind} of ${running.version} to ${running.slot} stops now. Traffic stays on ${fromLabel ?? "nothing"}: it has not moved yet.`,
    };
  }
  if (!from) return { short: `Stops ${running.id}.`, long: `${running.id} stops and is marked failed. There is no standby, so traffic stays on ${toLabel}.` };
  return {
    short: `Moves traffic back to ${fromLabel}.`,
    long: `Traffic will move back from ${toLabel} to ${fromLabel}, and ${running.id} ends as rolled back.`,
  };
}

export function renderActions(status, connected) {
  const can = availability(status, connected);
  const set = (name, available, text) => {
    const button = document.getElementById(`${name}-button`);
    button.disabled = !available.ok;
    if (text) button.textContent = text;
    const why = document.getElementById(`${name}-why`);
    why.textContent = available.why;
    why.classList.toggle("why-blocked", !available.ok);
    button.setAttribute("aria-describedby", `${name}-why`);
  };
  const label = (slot) => slotLabel(slot, status?.slots[slot]?.version);
  set("deploy", can.deploy);
  set("rollback", can.rollback, can.rollback.ok ? `Roll back to ${label(can.rollback.target)}…` : "Roll back…");
  set("switch", can.switch, can.switch.ok ? `Switch traffic to ${label(can.switch.target)}…` : "Switch traffic…");
  set("retire", can.retire, can.retire.ok ? `Retire ${label(can.retire.target)}…` : "Retire the standby…");
  set("abort", can.abort);
  set("promote", can.promote, can.promote.approve ? "Approve the switch…" : "Promote…");
  return can;
}

/**
 * Wires the buttons. `page` gives: status() (the last status), connected(), confirm({ title,
 * message, detail, confirmLabel, danger }) → Promise<boolean>, refresh(), toast(text, kind).
 */
export function wireActions(page) {
  const run = async (name, work) => {
    try {
      await work();
    } catch (error) {
      page.toast(`${name}: ${error.message}${error.hint ? ` ${error.hint}` : ""}`, "error");
    } finally {
      page.refresh();
    }
  };
  const started = (what, summary) => page.toast(`${what} started (${summary.id}).`, "ok");

  document.getElementById("deploy-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("deploy-version");
    const version = input.value.trim();
    if (!VERSION.test(version)) {
      page.toast("A version is 1 to 128 letters, digits or . _ : / + @ -", "error");
      input.focus();
      return;
    }
    void run("Deploy", async () => {
      const plan = await postJson("/api/deployments/plan", { version });
      const status = page.status();
      const fromLabel = plan.fromSlot ? slotLabel(plan.fromSlot, status?.slots[plan.fromSlot]?.version) : undefined;
      const replaced = status?.slots[plan.slot]?.version;
      const message = fromLabel
        ? `${version} will start on ${plan.slot}${replaced ? ` (replacing ${replaced})` : ""} and be checked. If the checks pass, traffic will move from ${fromLabel} to ${slotLabel(plan.slot, version)}, then be watched; if they fail, traffic stays on ${fromLabel}.`
        : `${version} will start on ${plan.slot} and be checked. If the checks pass, it gets all the traffic (no slot is live yet).`;
      const steps = h("details", { class: "plan" }, h("summary", {}, "Every step"), h("ol", {}, plan.steps.map((step) => h("li", {}, h("strong", {}, step.phase), step.changes.length ? h("ul", {}, step.changes.map((change) => h("li", {}, change))) : ""))));
      if (!(await page.confirm({ title: `Deploy ${version}?`, message, detail: steps, confirmLabel: `Deploy ${version}` }))) return;
      started(`Deploy of ${version}`, await postJson("/api/deployments", { version }));
      input.value = "";
    });
  });

  document.getElementById("rollback-button").addEventListener("click", () => {
    const status = page.status();
    const target = other(status.live);
    void run("Rollback", async () => {
      const from = slotLabel(status.live, status.slots[status.live].version);
      const to = slotLabel(target, status.slots[target].version);
      const when = { retired: `once ${status.slots[target].version} has been deployed to ${target} again and checked (it was retired)`, "scaled-down": `once ${target} is scaled back up and checked` };
      const message = `Traffic will move from ${from} to ${to}, ${when[status.slots[target].state] ?? "at once"}.`;
      if (!(await page.confirm({ title: "Roll back?", message, confirmLabel: "Roll back", danger: true }))) return;
      started("Rollback", await postJson("/api/rollback", {}));
    });
  });

  document.getElementById("switch-button").addEventListener("click", () => {
    const status = page.status();
    const target = availability(status, page.connected()).switch.target;
    void run("Switch", async () => {
      const from = status.live ? slotLabel(status.live, status.slots[status.live].version) : "nothing";
      const message = `Traffic will move from ${from} to ${slotLabel(target, status.slots[target].version)}, once ${target} has passed its checks. If they fail, traffic stays where it is.`;
      if (!(await page.confirm({ title: `Switch traffic to ${target}?`, message, confirmLabel: `Switch to ${target}` }))) return;
      started(`Switch to ${target}`, await postJson("/api/switch", { slot: target }));
    });
  });

  document.getElementById("retire-button").addEventListener("click", () => {
    const status = page.status();
    const target = other(status.live);
    void run("Retire", async () => {
      const version = status.slots[target].version;
      const message = `${slotLabel(target, version)} stops now and no longer costs anything. A rollback to ${version} will then deploy it again and check it first: not instant.`;
      if (!(await page.confirm({ title: `Retire ${target}?`, message, confirmLabel: `Retire ${target}`, danger: true }))) return;
      const retired = await postJson("/api/retire", {});
      page.toast(`Standby ${retired.slot} (${retired.version}) retired.`, "ok");
    });
  });

  document.getElementById("abort-button").addEventListener("click", () => {
    const status = page.status();
    const running = status.deployment;
    void run("Abort", async () => {
      if (!(await page.confirm({ title: `Abort ${running.id}?`, message: abortWords(status, running).long, confirmLabel: "Abort", danger: true }))) return;
      await postJson("/api/abort", {});
      page.toast(`Abort of ${running.id} requested.`, "ok");
    });
  });

  document.getElementById("promote-button").addEventListener("click", () => {
    const status = page.status();
    const running = status.deployment;
    if (running.phase === "awaiting-approval") {
      void run("Approve", async () => {
        const message = `${running.version} on ${slotLabel(running.slot, running.version)} passed its checks. Approving switches the traffic to it (after any switch window), then watches it; you are recorded as the approver.`;
        if (!(await page.confirm({ title: `Approve ${running.version}?`, message, confirmLabel: "Approve and switch" }))) return;
        await postJson("/api/promote", {});
        page.toast(`${running.id} approved: switching.`, "ok");
      });
      return;
    }
    void run("Promote", async () => {
      const message = `The monitor window of ${running.version} ends now and ${running.id} counts as succeeded. Traffic stays on ${slotLabel(running.slot, running.version)}.`;
      if (!(await page.confirm({ title: `Promote ${running.version}?`, message, confirmLabel: "Promote" }))) return;
      await postJson("/api/promote", {});
      page.toast(`${running.id} promoted.`, "ok");
    });
  });
}
