// The active health check of one replica: a GET of the configured path every interval, on a
// connection of its own (never one of the replica's pool, where a probe would queue behind real
// requests under load and fail for the wrong reason). The pause between probes goes through the
// injected Clock; the probe itself is real I/O, bounded by its own timeout.
import { Client } from "undici";
import type { Clock } from "../core/clock.js";
import { describeError } from "../core/errors.js";
import type { Logger } from "../logging.js";
import type { ActiveCheckOptions, ReplicaHealth } from "./replica-health.js";

export class HealthCheck {
  private readonly stopped = new AbortController();
  private readonly client: Client;
  private running: Promise<void> | undefined;

  constructor(
    origin: string,
    private readonly options: ActiveCheckOptions,
    private readonly health: ReplicaHealth,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    // undici only honours an abort signal once connected, so the connect phase needs its own limit.
    this.client = new Client(origin, { connectTimeout: options.timeoutMs, pipelining: 1 });
  }

  start(): void {
    this.running ??= this.loop().catch((error: unknown) => this.logger.error({ err: error }, "the health check loop failed"));
  }

  /** Stops probing now (a probe in flight is cut); resolves once nothing is left running. */
  async stop(): Promise<void> {
    this.stopped.abort(new Error("the health check stopped"));
    await this.client.destroy().catch(() => undefined);
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stopped.signal;
    while (!signal.aborted) {
      try {
        await this.clock.sleep(this.options.intervalMs, signal);
      } catch {
        return; // stopped while waiting
      }
      const failure = await this.probe();
      if (signal.aborted) return; // a probe cut by stop() says nothing about the replica
      if (failure === undefined) this.health.probePassed();
      else this.health.probeFailed(failure);
    }
  }

  /** undefined when the replica is healthy, else why it is not. */
  private async probe(): Promise<string | undefined> {
    const { path, timeoutMs, isHealthyStatus } = this.options;
    try {
      const response = await this.client.request({
        method: "GET",
        path,
        headers: { "user-agent": "flip-health-check" },
        reset: true, // one connection per probe: a probe proves the replica still accepts new ones
        signal: AbortSignal.any([this.stopped.signal, AbortSignal.timeout(timeoutMs)]),
      });
      await response.body.dump();
      return isHealthyStatus(response.statusCode) ? undefined : `GET ${path} answered ${response.statusCode}`;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const why = (error as { name?: unknown }).name === "TimeoutError" ? `no answer within ${timeoutMs}ms` : describeError(error);
      this.logger.debug({ path, err: error }, "health check probe failed");
      return `GET ${path} failed: ${typeof code === "string" ? `${code}, ` : ""}${why}`;
    }
  }
}
