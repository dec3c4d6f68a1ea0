// The dashboard's entry: keeps what the server last said, refreshes it on every event of the
// stream and every few seconds, and redraws. Survives restarts of flip serve: the stream
// reconnects by itself and everything is read again, no reload needed.
import { renderActions, wireActions } from "./actions.js";
import { currentToken, followEvents, getJson, onTokenNeeded, rememberToken } from "./api.js";
import { TrafficCharts } from "./charts.js";
import { clockTime, fill, h } from "./format.js";
import { renderDeployment } from "./view-deployment.js";
import { renderAudit, renderHistory } from "./view-history.js";
import { renderNow } from "./view-now.js";

const STATUS_EVERY_MS = 3_000;
const HISTORY_EVERY_MS = 10_000;
const TRAFFIC_EVERY_MS = 1_000;

const state = {
  status: undefined,
  detail: undefined,
  monitor: undefined,
  history: [],
  audit: [],
  /** The last live sample event: it alone knows the exact time left in the window. */
  liveSample: undefined,
  /** Server clock minus this browser's, from /api/traffic answers. */
  clockOffsetMs: 0,
  connected: false,
  streamOpen: false,
  /** How often the event stream was opened, and how many events it brought (shown as data- attributes, for tests and curious people). */
  streamOpens: 0,
  eventsSeen: 0,
};

const charts = new TrafficCharts();
const serverNow = () => Date.now() + state.clockOffsetMs;

// ---- reading ------------------------------------------------------------------------------

async function refreshStatus() {
  try {
    state.status = await getJson("/api/status");
    setConnected(true);
  } catch (error) {
    if (error instanceof TypeError) setConnected(false); // network: flip serve is down or restarting
    if (error.status === 401) showBanner("This Flip server shows nothing without its control token (it listens beyond loopback): use “Enter token” at the top.");
    return;
  }
  const wanted = state.status.deployment?.id ?? state.history[0]?.id;
  if (wanted) await refreshDetail(wanted);
  render();
}

async function refreshDetail(id) {
  try {
    state.detail = await getJson(`/api/deployments/${encodeURIComponent(id)}`);
  } catch {
    // keep what we had; the next refresh tries again
  }
}

async function refreshHistory() {
  try {
    const [history, audit] = await Promise.all([getJson("/api/history?limit=50"), getJson("/api/audit?limit=50")]);
    state.history = history;
    state.audit = audit;
    if (!state.status?.deployment && history[0] && state.detail?.id !== history[0].id) await refreshDetail(history[0].id);
    renderHistory(history);
    renderAudit(audit);
    render();
  } catch {
    // shown by the connection state
  }
}

async function refreshMonitor() {
  try {
    state.monitor = await getJson("/api/monitor");
  } catch {
    // the deployment view shows rules once this answers
  }
}

let trafficSince;
async function refreshTraffic() {
  try {
    const asked = Date.now();
    const series = await getJson(`/api/traffic?seconds=900${trafficSince === undefined ? "" : `&since=${trafficSince}`}`);
    state.clockOffsetMs = series.now - (asked + Date.now()) / 2;
    const note = document.getElementById("traffic-note");
    note.hidden = series.available;
    if (!series.available) note.textContent = `This router (${state.status?.router.kind ?? "?"}) does not see traffic, so there is nothing to chart here; the monitor reads its numbers from its configured source.`;
    if (trafficSince === undefined) charts.replace(series);
    else charts.append(series);
    trafficSince = series.times.at(-1) ?? trafficSince;
    if (state.status) renderNow(state.status, charts.latest());
    const began = charts.startedWithinWindow();
    document.getElementById("traffic-since").textContent = began ? `since ${clockTime(began)}, when flip serve started` : "";
  } catch {
    // next second
  }
}

/** Everything again: on start and after the stream reconnects (flip serve may have restarted). */
async function refreshAll() {
  trafficSince = undefined;
  await Promise.all([refreshMonitor(), refreshHistory()]);
  await Promise.all([refreshStatus(), refreshTraffic()]);
}

// Events come in bursts (phase, check, check, ...): one refresh per burst.
let pending;
function refreshSoon(withHistory) {
  if (withHistory) pending = { history: true, timer: pending?.timer };
  else pending ??= { history: false };
  if (pending.timer) return;
  pending.timer = setTimeout(() => {
    const { history } = pending;
    pending = undefined;
    void refreshStatus();
    if (history) void refreshHistory();
  }, 100);
}

function onEvent(type, event) {
  state.eventsSeen += 1;
  if (type === "sample" && event.remainingMs !== undefined) state.liveSample = { deploymentId: event.deploymentId, remainingMs: event.remainingMs, receivedAt: Date.now() };
  refreshSoon(type === "finished" || type === "phase");
  renderConnection();
}

// ---- drawing ------------------------------------------------------------------------------

function render() {
  const status = state.status;
  if (status) {
    document.getElementById("app-name").textContent = status.app;
    document.title = status.live ? `${status.slots[status.live].version ?? "?"} on ${status.live} · ${status.app} · Flip` : `${status.app} · Flip`;
    const router = status.router.kind === "builtin" ? "built-in proxy" : `router ${status.router.kind}`;
    document.getElementById("router-info").textContent = `${router} · platform ${status.platform.kind}`;
    renderNow(status, charts.latest());
  }
  renderDeployment({ detail: state.detail, monitor: state.monitor, liveSample: state.liveSample, now: serverNow() });
  renderActions(status, state.connected);
}

function showBanner(text) {
  const banner = document.getElementById("banner");
  banner.hidden = text === undefined;
  banner.textContent = text ?? "";
}

function setConnected(connected) {
  state.connected = connected;
  showBanner(connected ? undefined : "Lost contact with flip serve. Retrying… (this page updates by itself once it is back)");
  renderConnection();
  renderActions(state.status, connected);
}

function renderConnection() {
  const element = document.getElementById("connection");
  const live = state.connected && state.streamOpen;
  element.textContent = live ? "live" : state.connected ? "reconnecting…" : "offline";
  element.dataset.state = live ? "live" : state.connected ? "reconnecting" : "offline";
  element.dataset.opens = String(state.streamOpens);
  element.dataset.events = String(state.eventsSeen);
  const tokenButton = document.getElementById("token-button");
  tokenButton.textContent = currentToken() ? "Forget token" : "Enter token";
}

function toast(text, kind = "ok") {
  const item = h("div", { class: `toast toast-${kind}` }, text);
  document.getElementById("toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12_000 : 5_000);
}

// ---- dialogs ------------------------------------------------------------------------------

function confirmDialog({ title, message, detail, confirmLabel = "Confirm", danger = false }) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-message").textContent = message;
  fill(document.getElementById("confirm-detail"), detail);
  const button = document.getElementById("confirm-button");
  button.textContent = confirmLabel;
  button.className = danger ? "danger" : "primary";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
    button.focus();
  });
}

let tokenAsked;
/** Set when the person cancels the dialog: reads stop asking until they click "Enter token". */
let tokenDeclined = false;
/** One token dialog at a time, however many requests were refused meanwhile. */
function askToken({ refused, message, read = false } = {}) {
  if (read && tokenDeclined && !tokenAsked) return Promise.resolve(undefined);
  tokenAsked ??= new Promise((resolve) => {
    const dialog = document.getElementById("token-dialog");
    const input = document.getElementById("token-input");
    document.getElementById("token-reason").textContent = refused
      ? "That token was refused. Enter the control token of this Flip server."
      : (message ?? "This Flip server needs its control token to change anything.");
    input.value = "";
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        tokenAsked = undefined;
        const token = dialog.returnValue === "ok" ? input.value.trim() : "";
        tokenDeclined = !token;
        renderConnection();
        resolve(token || undefined);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return tokenAsked;
}

// ---- start --------------------------------------------------------------------------------

onTokenNeeded(askToken);
document.getElementById("token-button").addEventListener("click", async () => {
  if (currentToken()) rememberToken(undefined);
  else {
    const token = await askToken({ message: "Enter the control token of this Flip server (control.token in flip.yaml)." });
    if (token) {
      rememberToken(token);
      void refreshAll();
    }
  }
  renderConnection();
});

wireActions({
  status: () => state.status,
  connected: () => state.connected,
  confirm: confirmDialog,
  refresh: () => refreshSoon(true),
  toast,
});

if (!charts.mount()) {
  const note = document.getElementById("traffic-note");
  note.hidden = false;
  note.textContent = "The chart library did not load (dashboard assets are missing: run `npm run build`).";
}

followEvents({
  onEvent,
  onOpen: () => {
    state.streamOpen = true;
    state.streamOpens += 1;
    renderConnection();
    void refreshAll();
  },
  onDown: () => {
    state.streamOpen = false;
    renderConnection();
    void refreshStatus();
  },
});

void refreshAll();
setInterval(() => void refreshStatus(), STATUS_EVERY_MS);
setInterval(() => void refreshHistory(), HISTORY_EVERY_MS);
setInterval(() => void refreshTraffic(), TRAFFIC_EVERY_MS);
// The timeline's running durations and the time left tick between events.
setInterval(() => {
  if (state.detail?.outcome === "running") renderDeployment({ detail: state.detail, monitor: state.monitor, liveSample: state.liveSample, now: serverNow() });
}, 1_000);
