// Small helpers shared by the views: building DOM nodes (text only, never HTML strings, so a
// version or a check's output cannot inject markup) and formatting times, durations and metrics.

/** h("p", { class: "x" }, "text", child) — attributes; `on*` functions become listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
}

export function clockTime(at) {
  if (at === undefined || at === null) return "";
  const date = typeof at === "number" ? new Date(at) : new Date(at);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function dateTime(at) {
  const date = new Date(at);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay ? clockTime(date.getTime()) : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${clockTime(date.getTime())}`;
}

/** 850 ms, 4.2 s, 3 min 5 s, 2 h 10 min */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  const restSeconds = Math.round(seconds - minutes * 60);
  if (minutes < 60) return restSeconds === 0 ? `${minutes} min` : `${minutes} min ${restSeconds} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A rule's value as the rule writes it: errorRate in %, latencies in ms, requestRate per second. */
export function metricValue(metric, value) {
  if (value === undefined || value === null) return "—";
  if (metric === "errorRate") return `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%`;
  if (metric === "requestRate") return `${value.toFixed(1)}/s`;
  return `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

export function threshold(rule) {
  return `${rule.op} ${metricValue(rule.metric, rule.threshold)}`;
}

/** "green (v2)", or just "green" when the slot runs nothing known. */
export function slotLabel(slot, version) {
  return version ? `${slot} (${version})` : slot;
}

/** A coloured chip naming a slot. */
export function slotChip(slot) {
  return slot ? h("span", { class: `chip chip-${slot}` }, slot) : h("span", { class: "chip" }, "none");
}

export function outcomeBadge(outcome) {
  return h("span", { class: `outcome outcome-${outcome}` }, outcome === "running" ? "running" : outcome);
}
