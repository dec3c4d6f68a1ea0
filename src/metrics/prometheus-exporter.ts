// The /metrics exposition in the Prometheus text format (prom-client): the proxy's counters per slot
// and per replica when the router sees traffic, and the engine's state (live slot, deployments) for
// every router. Nothing here runs per request: each metric reads the counters when it is scraped
// (prom-client's collect()), so the proxy's hot path never touches prom-client.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";
import type { Outcome } from "../core/phases.js";
import { SLOTS, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import type { StatusClass, TrafficCounts, TrafficStats } from "../routers/router.js";

export interface PrometheusExporterOptions {
  app: string;
  /** The router's counters; without them (a router that does not see traffic) only the engine's metrics are shown. */
  traffic?: TrafficStats | undefined;
  /** The version deployed in a slot now: it labels the slot's series. */
  versionOf(slot: Slot): string | undefined;
  /** The slot the router points at now. */
  liveSlot(): Promise<Slot | undefined>;
  /** How many deployments ended with each outcome ("running" for the one holding the lock). */
  deploymentOutcomes(): Partial<Record<Outcome, number>>;
  /** prom-client's default process_* and nodejs_* metrics (flip serve turns them on). */
  processMetrics?: boolean;
  logger: Logger;
}

type Labels = Record<string, string>;

/** One labelled set of traffic counters: a slot's, or one replica's. */
interface CountedSeries {
  labels: Labels;
  counts: TrafficCounts;
}

/** Everything the proxy families show, read once per scrape so the families agree with each other. */
interface TrafficView {
  slots: CountedSeries[];
  replicas: CountedSeries[];
}

/** Spelled out: "499" would otherwise come first, as JavaScript lists integer-like keys before the others. */
const STATUS_CLASSES: readonly StatusClass[] = ["1xx", "2xx", "3xx", "4xx", "5xx", "499"];
const FINISHED_OUTCOMES: readonly Exclude<Outcome, "running">[] = ["succeeded", "aborted", "rolled-back", "failed"];

export class PrometheusExporter {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new Registry();
  private readonly traffic: TrafficStats | undefined;
  private scrapeView: TrafficView | undefined;

  constructor(private readonly options: PrometheusExporterOptions) {
    // A source that only feeds the monitor has no counts(): nothing to expose for it.
    this.traffic = options.traffic?.counts ? options.traffic : undefined;
    if (this.traffic) {
      this.registerTrafficFamilies("flip_proxy", "slot", () => this.view().slots);
      this.registerTrafficFamilies("flip_proxy_replica", "replica", () => this.view().replicas);
    }
    this.registerEngineMetrics();
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text, read from the counters as they are now. */
  async render(): Promise<string> {
    this.scrapeView = this.readTraffic();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrapeView = undefined;
    }
  }

  private view(): TrafficView {
    return this.scrapeView ?? this.readTraffic();
  }

  private readTraffic(): TrafficView {
    const view: TrafficView = { slots: [], replicas: [] };
    if (!this.traffic?.counts) return view;
    for (const slot of SLOTS) {
      const counts = this.traffic.counts(slot);
      const labels = { app: this.options.app, slot, version: this.options.versionOf(slot) ?? "" };
      view.slots.push({ labels, counts });
      for (const replica of counts.replicas) view.replicas.push({ labels: { ...labels, replica: replica.replica }, counts: replica });
    }
    return view;
  }

  private registerTrafficFamilies(prefix: string, scope: "slot" | "replica", read: () => CountedSeries[]): void {
    const labelNames = scope === "slot" ? ["app", "slot", "version"] : ["app", "slot", "version", "replica"];
    const per = scope === "slot" ? "per slot" : "per replica";
    new Counter({
      name: `${prefix}_requests_total`,
      help: `Requests through the proxy that finished, ${per}, by response class (499: the client left first).`,
      labelNames: [...labelNames, "class"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, counts } of read()) {
          for (const statusClass of STATUS_CLASSES) this.inc({ ...labels, class: statusClass }, counts.responses[statusClass]);
        }
      },
    });
    new Counter({
      name: `${prefix}_upstream_errors_total`,
      help: `Requests the upstream failed (the proxy answered 502/504 itself or the answer broke off), ${per}, by kind.`,
      labelNames: [...labelNames, "kind"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, counts } of read()) {
          for (const [kind, count] of Object.entries(counts.upstreamErrors)) this.inc({ ...labels, kind }, count);
        }
      },
    });
    new Gauge({
      name: `${prefix}_in_flight`,
      help: `Requests through the proxy running now, ${per}.`,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, counts } of read()) this.set(labels, counts.inFlight);
      },
    });
    this.registry.registerMetric(
      new CountedHistogram(`${prefix}_request_duration_seconds`, `Time from receiving a request to the end of its response, ${per}.`, read) as unknown as Metric,
    );
  }

  private registerEngineMetrics(): void {
    const { app, logger } = this.options;
    const liveSlot = () => this.options.liveSlot();
    const outcomes = () => this.options.deploymentOutcomes();
    new Gauge({
      name: "flip_live_slot",
      help: "1 for the slot that gets the traffic, 0 for the other.",
      labelNames: ["app", "slot"],
      registers: [this.registry],
      async collect() {
        this.reset();
        let live: Slot | undefined;
        try {
          live = await liveSlot();
        } catch (error) {
          // One unreachable load balancer must not take every other metric down with it.
          logger.warn({ err: error }, "metrics: could not ask the router which slot is live");
          return;
        }
        for (const slot of SLOTS) this.set({ app, slot }, slot === live ? 1 : 0);
      },
    });
    new Counter({
      name: "flip_deployments_total",
      help: "Deployments (deploys, switches, rollbacks) that finished, by outcome.",
      labelNames: ["app", "outcome"],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = outcomes();
        for (const outcome of FINISHED_OUTCOMES) this.inc({ app, outcome }, counts[outcome] ?? 0);
      },
    });
    new Gauge({
      name: "flip_deployment_running",
      help: "1 while a deployment holds the deploy lock.",
      labelNames: ["app"],
      registers: [this.registry],
      collect() {
        this.set({ app }, outcomes().running ?? 0);
      },
    });
  }
}

/**
 * A Prometheus histogram over buckets the proxy has already counted. prom-client's Histogram can
 * only observe() one value at a time, which would put it on the hot path; its Registry needs no
 * more of a metric than a name and get(), so this one answers get() from the counters directly.
 */
interface HistogramSample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

class CountedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => CountedSeries[],
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramSample[] }> {
    const values: HistogramSample[] = [];
    for (const { labels, counts } of this.read()) {
      const { boundsSeconds, counts: buckets, sumSeconds } = counts.duration;
      let cumulative = 0;
      boundsSeconds.forEach((bound, i) => {
        cumulative += buckets[i] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
      });
      cumulative += buckets[boundsSeconds.length] ?? 0;
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: cumulative });
      values.push({ metricName: `${this.name}_sum`, labels, value: sumSeconds });
      values.push({ metricName: `${this.name}_count`, labels, value: cumulative });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry.resetMetrics() calls this; the counts belong to the proxy, so there is nothing to reset. */
  reset(): void {}
}
