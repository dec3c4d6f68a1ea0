// Live charts per slot (request rate, error rate, p99) over the last 15 minutes, one point a
// second, with the moments traffic switched drawn as dashed lines in the colour of the slot that
// got the traffic. uPlot (vendor/, loaded as a classic script) draws; this keeps the columns.

const WINDOW_SECONDS = 15 * 60;
const COLORS = { blue: "#2563eb", green: "#16a34a" };
const FILLS = { blue: "rgba(37, 99, 235, 0.10)", green: "rgba(22, 163, 74, 0.10)" };
const HEIGHT_PX = 170;
/** A history shorter than the window (flip serve started recently) is drawn at least this wide. */
const MIN_SPAN_SECONDS = 60;

const CHARTS = [
  { id: "chart-rate", key: "requestRate", unit: "/s", scale: (v) => v, floor: 1, labels: true },
  { id: "chart-errors", key: "errorRate", unit: "%", scale: (v) => v * 100, floor: 1 },
  { id: "chart-p99", key: "p99Ms", unit: "ms", scale: (v) => v, floor: 1 },
];

export class TrafficCharts {
  times = [];
  columns = { blue: emptyColumns(), green: emptyColumns() };
  switches = [];
  plots = [];
  /** The right edge of the window, in server ms. */
  nowMs = Date.now();

  /** Builds the charts; false when the chart library did not load. */
  mount() {
    const uPlot = globalThis.uPlot;
    if (!uPlot) return false;
    for (const chart of CHARTS) {
      const target = document.getElementById(chart.id);
      const plot = new uPlot(this.options(chart, target.clientWidth || 300), this.dataFor(chart), target);
      this.plots.push({ chart, plot, target });
    }
    const resize = new ResizeObserver(() => {
      for (const { plot, target } of this.plots) plot.setSize({ width: Math.max(200, target.clientWidth), height: HEIGHT_PX });
    });
    for (const { target } of this.plots) resize.observe(target);
    return true;
  }

  /** A whole series from GET /api/traffic (the first load, and after a reconnect). */
  replace(series) {
    this.times = [];
    this.columns = { blue: emptyColumns(), green: emptyColumns() };
    this.append(series);
  }

  /** New points from GET /api/traffic?since=…; older ones fall off the left edge. */
  append(series) {
    const last = this.times.at(-1) ?? -Infinity;
    series.times.forEach((at, index) => {
      if (at <= last) return;
      this.times.push(at);
      for (const slot of ["blue", "green"]) {
        for (const key of ["requestRate", "errorRate", "p99Ms"]) this.columns[slot][key].push(series.slots[slot][key][index]);
      }
    });
    this.switches = series.switches;
    this.nowMs = Math.max(series.now ?? 0, this.times.at(-1) ?? 0);
    const cutoff = this.nowMs - WINDOW_SECONDS * 1000;
    const drop = this.times.findIndex((at) => at > cutoff);
    const remove = drop === -1 ? this.times.length : drop;
    if (remove > 0) {
      this.times.splice(0, remove);
      for (const slot of ["blue", "green"]) for (const key of Object.keys(this.columns[slot])) this.columns[slot][key].splice(0, remove);
    }
    this.draw();
  }

  draw() {
    for (const { chart, plot } of this.plots) plot.setData(this.dataFor(chart));
  }

  /** [start, end] in seconds: the last 15 minutes, or since the first point when the history is younger. */
  range() {
    const end = this.nowMs / 1000;
    const first = (this.times[0] ?? this.nowMs) / 1000;
    return [Math.max(end - WINDOW_SECONDS, Math.min(first, end - MIN_SPAN_SECONDS)), end];
  }

  /** The newest point of each slot ({ requestRate, errorRate, p99Ms }), or undefined before the first one. */
  latest() {
    if (this.times.length === 0) return undefined;
    const pick = (slot) => ({ requestRate: this.columns[slot].requestRate.at(-1), errorRate: this.columns[slot].errorRate.at(-1), p99Ms: this.columns[slot].p99Ms.at(-1) });
    return { blue: pick("blue"), green: pick("green") };
  }

  /** When the history began, if that is within the window (else undefined). */
  startedWithinWindow() {
    const first = this.times[0];
    return first !== undefined && first > this.nowMs - (WINDOW_SECONDS - 5) * 1000 ? first : undefined;
  }

  dataFor(chart) {
    const column = (slot) => this.columns[slot][chart.key].map((value) => (value === null || value === undefined ? null : chart.scale(value)));
    return [this.times.map((at) => at / 1000), column("blue"), column("green")];
  }

  options(chart, width) {
    const series = (slot) => ({ label: slot, stroke: COLORS[slot], fill: chart.key === "requestRate" ? FILLS[slot] : undefined, width: 2, points: { show: false }, spanGaps: false, value: (u, v) => (v === null ? "—" : `${v.toFixed(1)} ${chart.unit}`) });
    return {
      width,
      height: HEIGHT_PX,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => this.range() },
        y: { range: (u, min, max) => [0, Math.max(chart.floor, (max ?? 0) * 1.15)] },
      },
      axes: [
        { stroke: "#475569", space: 78, grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#e2e8f0" }, values: (u, ticks, space, index, step) => ticks.map((tick) => timeTick(tick, step)) },
        { stroke: "#475569", grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#e2e8f0" }, size: 48, values: (u, ticks) => ticks.map((tick) => formatTick(tick)) },
      ],
      series: [{}, series("blue"), series("green")],
      plugins: [switchMarks(() => this.switches, chart.labels === true)],
    };
  }
}

function emptyColumns() {
  return { requestRate: [], errorRate: [], p99Ms: [] };
}

/** 21:05 on whole minutes, 21:05:30 when ticks are closer than a minute. */
function timeTick(seconds, stepSeconds) {
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const minutes = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return stepSeconds >= 60 ? minutes : `${minutes}:${pad(date.getSeconds())}`;
}

function formatTick(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** Dashed vertical lines where traffic switched; the first chart also names where it went. */
function switchMarks(marks, withLabels) {
  return {
    hooks: {
      draw: [
        (u) => {
          const ratio = globalThis.uPlot.pxRatio ?? 1;
          const { ctx, bbox } = u;
          let lastLabelEnd = -Infinity;
          let row = 0;
          for (const mark of marks()) {
            const x = Math.round(u.valToPos(mark.at / 1000, "x", true));
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            ctx.save();
            ctx.strokeStyle = COLORS[mark.to] ?? "#334155";
            ctx.lineWidth = 1.5 * ratio;
            ctx.setLineDash([5 * ratio, 4 * ratio]);
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
            if (withLabels) {
              const text = `→ ${mark.to}${mark.version ? ` ${mark.version}` : ""}`;
              ctx.font = `600 ${11 * ratio}px system-ui, sans-serif`;
              const textWidth = ctx.measureText(text).width;
              // Near the right edge, put the label on the left of the line so it stays inside.
              const left = x + 4 * ratio + textWidth > bbox.left + bbox.width ? x - 4 * ratio - textWidth : x + 4 * ratio;
              // Switches close together get their labels on separate rows instead of on top of each other.
              row = left < lastLabelEnd ? (row + 1) % 3 : 0;
              lastLabelEnd = left + textWidth + 6 * ratio;
              const top = bbox.top + (2 + row * 16) * ratio;
              ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
              ctx.fillRect(left - 2 * ratio, top, textWidth + 4 * ratio, 14 * ratio);
              ctx.fillStyle = COLORS[mark.to] ?? "#334155";
              ctx.fillText(text, left, top + 11 * ratio);
            }
            ctx.restore();
          }
        },
      ],
    },
  };
}
