// `workers: N`: the proxy served by N node:cluster workers that share the listen addresses, each
// running one ProxyServer (cluster-worker.ts). This is the primary's side, the controller process:
// it keeps the authoritative live slot and targets, sends every change to every worker, and a
// switch returns only once every worker has confirmed that its swap took effect. A worker that
// dies is replaced, and the new one gets the current state before it takes a connection.
import cluster, { type Worker } from "node:cluster";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Clock } from "../core/clock.js";
import { FlipError, RouterError, type ErrorCode } from "../core/errors.js";
import type { Endpoint, Slot } from "../core/slots.js";
import type { Logger } from "../logging.js";
import { isWorkerMessage, type PrimaryMessage, type SerializedError, type WorkerMessage } from "./cluster-protocol.js";
import { ClusterTraffic } from "./cluster-traffic.js";
import type { ProxyAddresses, ProxyEvent } from "./server.js";

export interface ProxyClusterOptions {
  workers: number;
  /** The compiled worker entry module, which calls runProxyWorker(). */
  entry: URL;
  /** Handed to each worker's entry to build its ProxyOptions: plain JSON. */
  setup: unknown;
  listen: string;
  preview?: string | undefined;
  drainTimeoutMs: number;
  /** How long a switch (or new targets) waits for every worker to confirm it (default 5 s). */
  ackTimeoutMs?: number | undefined;
  /** How often workers report their counters (default 250 ms). */
  reportEveryMs?: number | undefined;
  clock: Clock;
  logger: Logger;
  onEvent?: ((event: ProxyEvent) => void) | undefined;
}

export interface WorkerStatus {
  id: number;
  pid: number | undefined;
  /** Bound and taking connections (a replacement is not, until it has the current state). */
  listening: boolean;
  /** Requests it has finished, as of its last report. */
  requests: number;
}

const DEFAULT_ACK_TIMEOUT_MS = 5_000;
const DEFAULT_REPORT_EVERY_MS = 250;
/** A worker that dies sooner than this after it started is restarted after a growing pause. */
const STABLE_AFTER_MS = 1_000;
const MAX_RESTART_DELAY_MS = 5_000;

/** One worker as the primary tracks it. */
class WorkerLink {
  /** init was sent: the worker gets every change from then on. */
  initialized = false;
  /** Its listeners are bound: it may be handed connections. */
  listening = false;
  ackedSeq = -1;
  readonly forkedAt: number;
  readonly started: Promise<ProxyAddresses>;
  settleStart: { resolve: (addresses: ProxyAddresses) => void; reject: (error: Error) => void } | undefined;

  constructor(
    readonly worker: Worker,
    now: number,
  ) {
    this.forkedAt = now;
    this.started = new Promise<ProxyAddresses>((resolve, reject) => (this.settleStart = { resolve, reject }));
    this.started.catch(() => undefined); // the caller that awaits it sees the error; nobody else must
  }

  get name(): string {
    return `proxy worker ${this.worker.id} (pid ${this.worker.process.pid ?? "?"})`;
  }

  send(message: PrimaryMessage): void {
    if (!this.worker.isConnected()) return;
    try {
      this.worker.send(message);
    } catch {
      // The worker is exiting; its exit handler settles whatever waits on it.
    }
  }
}

/** A change sent to the workers, waiting for each of them to confirm it. */
interface AckWait {
  seq: number;
  what: string;
  pending: Set<WorkerLink>;
  resolve(): void;
  reject(error: Error): void;
  stopTimer: AbortController;
}

/** The drain each worker runs after a switch; one "drained" event once all have reported. */
interface PendingDrain {
  slot: Slot;
  waiting: Set<number>;
  remaining: number;
  timedOut: boolean;
}

function deserializeError(error: SerializedError): FlipError {
  return new FlipError((error.code ?? "FLIP_E_ROUTER") as ErrorCode, error.message, error.hint);
}

export class ProxyCluster {
  readonly traffic: ClusterTraffic;
  private liveSlot: Slot | undefined;
  private readonly targets: Record<Slot, Endpoint[]> = { blue: [], green: [] };
  private readonly links = new Map<number, WorkerLink>();
  private seq = 0;
  private bound: ProxyAddresses;
  private running = false;
  private closing = false;
  private readonly acks = new Set<AckWait>();
  private readonly drains = new Map<number, PendingDrain>();
  private readonly reportWaits = new Map<number, { waiting: Set<number>; resolve: () => void }>();
  private nextReportId = 1;
  private restartDelayMs = 0;
  private readonly stopRestarts = new AbortController();

  constructor(private readonly options: ProxyClusterOptions) {
    this.traffic = new ClusterTraffic(options.clock);
    this.bound = { listen: options.listen, ...(options.preview === undefined ? {} : { preview: options.preview }) };
  }

  get live(): Slot | undefined {
    return this.liveSlot;
  }

  hasTargets(slot: Slot): boolean {
    return this.targets[slot].length > 0;
  }

  /** Replicas of `slot` that no worker has ejected (every replica before the first report). */
  healthyReplicas(slot: Slot): number {
    return this.traffic.healthyReplicas(slot) ?? this.targets[slot].length;
  }

  addresses(): ProxyAddresses {
    return { ...this.bound };
  }

  /** The workers running now (for tests and status). */
  workers(): WorkerStatus[] {
    const requests = this.traffic.requestsByWorker();
    return [...this.links.values()].map((link) => ({
      id: link.worker.id,
      pid: link.worker.process.pid,
      listening: link.listening,
      requests: requests.get(link.worker.id) ?? 0,
    }));
  }

  restoreLive(slot: Slot | undefined): void {
    this.liveSlot = slot;
  }

  /** Starts every worker; resolves once all of them listen, rejects (stopping them) if one cannot. */
  async start(): Promise<void> {
    if (!cluster.isPrimary) throw new RouterError("The built-in proxy cannot start workers from inside a cluster worker.", "Set router.workers to 1 when Flip itself runs under a process manager's cluster mode.");
    const entry = fileURLToPath(this.options.entry);
    if (!existsSync(entry)) throw new RouterError(`The proxy worker entry ${entry} does not exist.`, "router.workers needs Flip's compiled code: run `npm run build`, or set router.workers to 1.");
    const links = Array.from({ length: this.options.workers }, () => this.fork());
    try {
      const addresses = await Promise.all(links.map((link) => link.started));
      this.bound = addresses[0] ?? this.bound;
    } catch (error) {
      await this.close();
      throw error;
    }
    this.running = true;
    this.options.onEvent?.({ type: "listening", name: "proxy", address: this.bound.listen });
    if (this.bound.preview !== undefined) this.options.onEvent?.({ type: "listening", name: "preview", address: this.bound.preview });
  }

  /** Moves every worker to `slot`; resolves once each has confirmed its swap. */
  async switchTo(slot: Slot): Promise<void> {
    const previous = this.liveSlot;
    if (previous === slot) return;
    this.liveSlot = slot;
    const seq = ++this.seq;
    // A slot that goes live again cancels its drains, in every worker: no event will come.
    for (const [drainSeq, drain] of this.drains) if (drain.slot === slot) this.drains.delete(drainSeq);
    const recipients = this.initializedLinks();
    if (previous !== undefined && recipients.length > 0) {
      this.drains.set(seq, { slot: previous, waiting: new Set(recipients.map((link) => link.worker.id)), remaining: 0, timedOut: false });
    }
    await this.broadcast({ flip: "switch", seq, slot }, `the switch to ${slot}`);
  }

  /** Gives every worker the new replicas of `slot`; resolves once each has them. */
  async setTargets(slot: Slot, endpoints: readonly Endpoint[]): Promise<void> {
    if (this.closing) return;
    this.targets[slot] = [...endpoints];
    await this.broadcast({ flip: "targets", seq: ++this.seq, slot, endpoints: [...endpoints] }, `the new replicas of ${slot}`);
  }

  /** Asks every worker for its counters now and waits (up to 2 s) for the answers. */
  async refreshTraffic(): Promise<void> {
    const id = this.nextReportId++;
    const waiting = new Set(this.initializedLinks().map((link) => link.worker.id));
    if (waiting.size === 0) return;
    const answered = new Promise<void>((resolve) => this.reportWaits.set(id, { waiting, resolve }));
    for (const link of this.initializedLinks()) link.send({ flip: "report", id });
    const stop = new AbortController();
    await Promise.race([answered, this.options.clock.sleep(2_000, stop.signal).catch(() => undefined)]);
    stop.abort();
    this.reportWaits.delete(id);
  }

  /** Tells every worker to close (each drains its requests), and waits for them to exit. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopRestarts.abort();
    for (const wait of this.acks) this.settleAck(wait, new RouterError(`The proxy closed before every worker confirmed ${wait.what}.`));
    const exits = [...this.links.values()].map((link) => this.exitOf(link));
    for (const link of this.links.values()) {
      // A worker that has not said hello yet may not hear a message either; it serves nothing, so a signal will do.
      if (link.initialized) link.send({ flip: "close" });
      else link.worker.process.kill("SIGTERM");
    }
    const stop = new AbortController();
    const deadline = this.options.clock.sleep(this.options.drainTimeoutMs + 5_000, stop.signal).then(
      () => true,
      () => false,
    );
    const allExited = Promise.all(exits).then(() => false);
    if (await Promise.race([allExited, deadline])) {
      for (const link of this.links.values()) link.worker.process.kill("SIGKILL");
      await Promise.all(exits);
    }
    stop.abort();
  }

  private initializedLinks(): WorkerLink[] {
    return [...this.links.values()].filter((link) => link.initialized);
  }

  private exitOf(link: WorkerLink): Promise<void> {
    if (link.worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => link.worker.once("exit", () => resolve()));
  }

  private fork(): WorkerLink {
    // setupPrimary is process-wide; set right before each fork so nothing else can change it between.
    cluster.setupPrimary({ exec: fileURLToPath(this.options.entry), args: [] });
    const link = new WorkerLink(cluster.fork(), this.options.clock.now());
    this.links.set(link.worker.id, link);
    link.worker.on("message", (message: unknown) => {
      if (isWorkerMessage(message)) this.onMessage(link, message);
    });
    link.worker.on("exit", (code: number | null, signal: string | null) => this.onExit(link, code, signal));
    link.worker.on("error", (error: Error) => this.options.logger.warn({ err: error, worker: link.worker.id }, "proxy worker IPC error"));
    return link;
  }

  private onMessage(link: WorkerLink, message: WorkerMessage): void {
    switch (message.flip) {
      case "hello":
        link.initialized = true;
        return link.send({
          flip: "init",
          seq: this.seq,
          setup: this.options.setup,
          state: { live: this.liveSlot, targets: this.targets },
          reportEveryMs: this.options.reportEveryMs ?? DEFAULT_REPORT_EVERY_MS,
        });
      case "ack":
        link.ackedSeq = Math.max(link.ackedSeq, message.seq);
        return this.checkAcks();
      case "started":
        link.listening = true;
        return link.settleStart?.resolve(message.addresses);
      case "failed":
        return link.settleStart?.reject(deserializeError(message.error));
      case "traffic":
        return this.onTraffic(link, message.report, message.id);
      case "drained":
        return this.onDrained(link.worker.id, message);
      case "event":
        return this.options.onEvent?.(message.event);
    }
  }

  private onTraffic(link: WorkerLink, report: Parameters<ClusterTraffic["update"]>[1], id: number | undefined): void {
    this.traffic.update(link.worker.id, report);
    if (id === undefined) return;
    const wait = this.reportWaits.get(id);
    wait?.waiting.delete(link.worker.id);
    if (wait?.waiting.size === 0) wait.resolve();
  }

  private onDrained(workerId: number, message: Extract<WorkerMessage, { flip: "drained" }>): void {
    const drain = this.drains.get(message.seq);
    if (drain === undefined || drain.slot !== message.slot) return;
    drain.remaining += message.remaining;
    drain.timedOut ||= message.timedOut;
    drain.waiting.delete(workerId);
    this.finishDrain(message.seq, drain);
  }

  private finishDrain(seq: number, drain: PendingDrain): void {
    if (drain.waiting.size > 0) return;
    this.drains.delete(seq);
    this.options.onEvent?.({ type: "drained", slot: drain.slot, remaining: drain.remaining, timedOut: drain.timedOut });
  }

  private onExit(link: WorkerLink, code: number | null, signal: string | null): void {
    this.links.delete(link.worker.id);
    this.traffic.departedWorker(link.worker.id);
    link.settleStart?.reject(new RouterError(`${link.name} exited (${signal ?? `code ${code}`}) before it listened.`, "Look at the log lines of the worker above."));
    for (const wait of this.acks) wait.pending.delete(link);
    this.checkAcks();
    for (const [seq, drain] of this.drains) {
      if (drain.waiting.delete(link.worker.id)) this.finishDrain(seq, drain);
    }
    for (const wait of this.reportWaits.values()) {
      if (wait.waiting.delete(link.worker.id) && wait.waiting.size === 0) wait.resolve();
    }
    if (this.closing || !this.running) return;
    this.options.logger.warn({ worker: link.worker.id, pid: link.worker.process.pid, code, signal }, "proxy worker exited; starting another");
    void this.replace(this.options.clock.now() - link.forkedAt);
  }

  /** Starts a worker in place of one that died, after a pause that grows while they keep dying young. */
  private async replace(livedMs: number): Promise<void> {
    this.restartDelayMs = livedMs < STABLE_AFTER_MS ? Math.min(Math.max(this.restartDelayMs * 2, 100), MAX_RESTART_DELAY_MS) : 0;
    try {
      if (this.restartDelayMs > 0) await this.options.clock.sleep(this.restartDelayMs, this.stopRestarts.signal);
    } catch {
      return; // closing
    }
    if (this.closing) return;
    const link = this.fork();
    try {
      await link.started;
      this.options.logger.info({ worker: link.worker.id, pid: link.worker.process.pid }, "proxy worker replaced");
    } catch (error) {
      this.options.logger.error({ err: error, worker: link.worker.id }, "a replacement proxy worker did not start");
    }
  }

  /** Sends a change to every worker that has its state, and waits until each has applied it. */
  private broadcast(message: Extract<PrimaryMessage, { seq: number }>, what: string): Promise<void> {
    const recipients = this.initializedLinks();
    for (const link of recipients) link.send(message);
    const pending = new Set(recipients.filter((link) => link.ackedSeq < message.seq));
    if (pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const wait: AckWait = { seq: message.seq, what, pending, resolve, reject, stopTimer: new AbortController() };
      this.acks.add(wait);
      const timeoutMs = this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
      this.options.clock.sleep(timeoutMs, wait.stopTimer.signal).then(
        () => {
          const late = [...wait.pending].map((link) => link.name).join(", ");
          this.settleAck(wait, new RouterError(`${late} did not confirm ${what} within ${timeoutMs} ms.`, "The worker may be stuck or overloaded; it applies the change when it gets to it. Look at its log lines, or restart flip serve."));
        },
        () => undefined,
      );
    });
  }

  private checkAcks(): void {
    for (const wait of this.acks) {
      for (const link of wait.pending) if (link.ackedSeq >= wait.seq) wait.pending.delete(link);
      if (wait.pending.size === 0) this.settleAck(wait, undefined);
    }
  }

  private settleAck(wait: AckWait, error: Error | undefined): void {
    if (!this.acks.delete(wait)) return;
    wait.stopTimer.abort();
    if (error === undefined) wait.resolve();
    else wait.reject(error);
  }
}
