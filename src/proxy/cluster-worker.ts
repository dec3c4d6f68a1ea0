// One proxy worker of `workers: N`: a ProxyServer driven by the primary over the cluster IPC
// channel. It applies each change the moment it arrives (the switch stays one reference swap),
// confirms it with the change's sequence number, and reports its counters every reportEveryMs.
// It listens only after the first state has been applied, so it never serves a stale slot.
import { SLOTS, type Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import { isPrimaryMessage, type PrimaryMessage, type SerializedError, type WorkerMessage, type WorkerReport } from "./cluster-protocol.js";
import { ProxyServer, type ProxyEvent, type ProxyOptions } from "./server.js";

/** Turns the primary's opaque setup into the options of this worker's ProxyServer. */
export type WorkerOptionsFactory = (setup: unknown, onEvent: (event: ProxyEvent) => void) => ProxyOptions;

function send(message: WorkerMessage): void {
  // The primary may already be gone (it is shutting down): nothing left to tell.
  if (process.connected) process.send?.(message);
}

/** Resolves once `message` has been handed to the IPC channel (before disconnecting). */
function sendAndFlush(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

function serializeError(error: unknown): SerializedError {
  const { code, message, hint } = error as { code?: unknown; message?: unknown; hint?: unknown };
  return {
    code: typeof code === "string" ? code : undefined,
    message: typeof message === "string" ? message : String(error),
    hint: typeof hint === "string" ? hint : undefined,
  };
}

class ProxyWorker {
  private proxy: ProxyServer | undefined;
  private logger: Logger | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  /** Requests counted at the last periodic report: an idle worker stays quiet. */
  private lastReported = "";
  /** For each slot that stopped being live, the switch that started its drain. */
  private readonly drainSeq: Partial<Record<Slot, number>> = {};
  private closing = false;

  constructor(private readonly makeOptions: WorkerOptionsFactory) {}

  readonly onMessage = (message: unknown): void => {
    if (!isPrimaryMessage(message)) return;
    try {
      this.handle(message);
    } catch (error) {
      this.logger?.error({ err: error, message: message.flip }, "proxy worker failed to apply a change");
    }
  };

  private handle(message: PrimaryMessage): void {
    switch (message.flip) {
      case "init":
        return this.init(message);
      case "targets":
        this.proxy?.setTargets(message.slot, message.endpoints);
        return send({ flip: "ack", seq: message.seq });
      case "switch":
        this.switchTo(message.slot, message.seq);
        return send({ flip: "ack", seq: message.seq });
      case "report":
        return this.report(message.id);
      case "close":
        return void this.close();
    }
  }

  private init(message: Extract<PrimaryMessage, { flip: "init" }>): void {
    if (this.proxy !== undefined) return;
    const options = this.makeOptions(message.setup, this.onEvent);
    this.logger = options.logger;
    const proxy = new ProxyServer(options);
    this.proxy = proxy;
    for (const slot of SLOTS) proxy.setTargets(slot, message.state.targets[slot]);
    proxy.restoreLive(message.state.live);
    send({ flip: "ack", seq: message.seq });
    proxy.start().then(
      () => {
        send({ flip: "started", addresses: proxy.addresses() });
        this.reportTimer = setInterval(() => this.report(undefined), message.reportEveryMs);
        this.reportTimer.unref();
      },
      (error: unknown) => {
        send({ flip: "failed", error: serializeError(error) });
        void this.close();
      },
    );
  }

  private switchTo(slot: Slot, seq: number): void {
    const previous = this.proxy?.live;
    if (previous !== undefined && previous !== slot) this.drainSeq[previous] = seq;
    this.proxy?.switchTo(slot);
  }

  private readonly onEvent = (event: ProxyEvent): void => {
    if (event.type === "drained") {
      const seq = this.drainSeq[event.slot];
      if (seq !== undefined) send({ flip: "drained", seq, slot: event.slot, remaining: event.remaining, timedOut: event.timedOut });
      return;
    }
    if (event.type === "listening") return; // the primary announces the listeners once, for all workers
    send({ flip: "event", event });
  };

  /** Sends the counters: always when asked (`id`), periodically only when they changed. */
  private report(id: number | undefined): void {
    const report = this.currentReport();
    if (report === undefined) return;
    const fingerprint = SLOTS.map((slot) => `${report[slot].snapshot.requests}/${report[slot].snapshot.inFlight}/${report[slot].healthyReplicas}`).join(" ");
    if (id === undefined && fingerprint === this.lastReported) return;
    this.lastReported = fingerprint;
    send({ flip: "traffic", report, id });
  }

  private currentReport(): WorkerReport | undefined {
    const proxy = this.proxy;
    if (proxy === undefined) return undefined;
    const report = {} as WorkerReport;
    for (const slot of SLOTS) {
      const { at: _at, ...snapshot } = proxy.traffic.snapshot(slot);
      report[slot] = { snapshot, counts: proxy.traffic.counts(slot), healthyReplicas: proxy.healthyReplicas(slot) };
    }
    return report;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reportTimer !== undefined) clearInterval(this.reportTimer);
    try {
      await this.proxy?.close();
      // The final counts, so the primary loses none of them.
      const report = this.currentReport();
      if (report !== undefined) await sendAndFlush({ flip: "traffic", report, id: undefined });
    } catch (error) {
      this.logger?.error({ err: error }, "closing the proxy worker failed");
    }
    process.disconnect?.();
    // Whatever still holds the event loop (a stuck pool) must not keep the worker alive.
    setTimeout(() => process.exit(0), 1_000).unref();
  }
}

/** Runs this process as a proxy worker; call from the worker entry module only. */
export function runProxyWorker(makeOptions: WorkerOptionsFactory): void {
  const worker = new ProxyWorker(makeOptions);
  process.on("message", worker.onMessage);
  // The primary going away (crash, kill -9) must not leave a worker serving on its own.
  process.on("disconnect", () => void worker.close());
  send({ flip: "hello" });
}
