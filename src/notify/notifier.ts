// Posts notifications to the `notify:` webhooks. It listens to the engine's event stream (the
// controller subscribes it; the steps know nothing of it) and never blocks the flow: onFlowEvent
// only queues. Each target has its own queue, so a slow or dead receiver delays only its own
// messages, which arrive in order. Failed posts are retried with backoff on the injected clock,
// then dropped and logged; a webhook is not a reason to stop a deployment.
import { Agent, request } from "undici";
import type { Clock } from "../core/clock.js";
import { describeError } from "../core/errors.js";
import type { DeploymentDetail, EngineApi, FlowEvent } from "../engine/views.js";
import type { Logger } from "../logging.js";
import type { NotifyTarget } from "./config.js";
import { bodyFor, notificationFor, type Notification } from "./message.js";

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A receiver that fell this far behind loses its oldest messages rather than Flip's memory. */
const MAX_QUEUED = 100;

export interface NotifierOptions {
  app: string;
  clock: Clock;
  logger: Logger;
  /** The deployment as stored, for what an event alone does not say (the failed check, the broken rule). */
  deployment: (id: string) => DeploymentDetail;
}

interface TargetQueue {
  target: NotifyTarget;
  pending: Notification[];
  running: Promise<void> | undefined;
}

export class Notifier {
  private readonly queues: TargetQueue[];
  private readonly closing = new AbortController();
  private readonly agent = new Agent({ keepAliveTimeout: 1_000 });
  private closed: Promise<void> | undefined;

  constructor(
    targets: readonly NotifyTarget[],
    private readonly options: NotifierOptions,
  ) {
    this.queues = targets.map((target) => ({ target, pending: [], running: undefined }));
  }

  /** Synchronous and never throws: the engine calls it while a step is running. */
  onFlowEvent(event: FlowEvent): void {
    if (this.closing.signal.aborted || this.queues.length === 0) return;
    let notification: Notification | undefined;
    try {
      notification = notificationFor(event, this.options.app, () => this.options.deployment(event.deploymentId), this.options.clock.now());
    } catch (error) {
      this.options.logger.warn({ deployment: event.deploymentId, error: describeError(error) }, "could not build a notification");
      return;
    }
    if (!notification) return;
    for (const queue of this.queues) {
      if (!queue.target.events.includes(notification.event)) continue;
      if (queue.pending.length >= MAX_QUEUED) {
        const dropped = queue.pending.shift();
        this.options.logger.warn({ target: redact(queue.target.url), dropped: dropped?.event }, "notify: receiver too far behind; dropped the oldest message");
      }
      queue.pending.push(notification);
      queue.running ??= this.drain(queue);
    }
  }

  /** Resolves once every queued message was delivered or given up on (for tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.queues.flatMap((queue) => (queue.running ? [queue.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Stops retrying and abandons posts in flight. Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort(new Error("flip serve is shutting down"));
      await this.idle();
      await this.agent.close();
    })();
    return this.closed;
  }

  private async drain(queue: TargetQueue): Promise<void> {
    try {
      for (let next = queue.pending.shift(); next; next = queue.pending.shift()) await this.deliver(queue.target, next);
    } finally {
      queue.running = undefined;
    }
  }

  private async deliver(target: NotifyTarget, notification: Notification): Promise<void> {
    const { logger, clock } = this.options;
    const where = redact(target.url);
    for (let attempt = 0; ; attempt++) {
      if (this.closing.signal.aborted) return;
      const failure = await this.post(target, notification);
      if (failure === undefined) {
        logger.info({ target: where, event: notification.event, deployment: notification.deployment.id, attempts: attempt + 1 }, "notify: delivered");
        return;
      }
      const last = attempt >= target.retries || !failure.retry;
      logger.warn({ target: where, event: notification.event, deployment: notification.deployment.id, attempt: attempt + 1, error: failure.message }, last ? "notify: gave up" : "notify: failed, will retry");
      if (last) return;
      try {
        await clock.sleep(Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt), this.closing.signal);
      } catch {
        return; // shutting down
      }
    }
  }

  /** undefined when delivered; else why, and whether trying again could help. */
  private async post(target: NotifyTarget, notification: Notification): Promise<{ message: string; retry: boolean } | undefined> {
    try {
      const response = await request(target.url, {
        method: "POST",
        dispatcher: this.agent,
        headers: { "content-type": "application/json", "user-agent": "flip-notify", ...target.headers },
        body: JSON.stringify(bodyFor(notification, target.format)),
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(target.timeout)]),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return undefined;
      // A request the receiver refuses as such (400, 401, 404) will be refused again.
      const retry = response.statusCode >= 500 || response.statusCode === 408 || response.statusCode === 429;
      return { message: `HTTP ${response.statusCode}`, retry };
    } catch (error) {
      return { message: describeError(error), retry: true };
    }
  }
}

/** Subscribes a notifier to every deployment's events; returns what the controller closes. */
export function attachNotifier(engine: EngineApi, targets: readonly NotifyTarget[], options: Omit<NotifierOptions, "deployment">): { close(): Promise<void> } {
  const notifier = new Notifier(targets, { ...options, deployment: (id) => engine.deployment(id) });
  const unsubscribe = targets.length > 0 ? engine.subscribeAll((event) => notifier.onFlowEvent(event)) : () => {};
  return {
    async close() {
      unsubscribe();
      await notifier.close();
    },
  };
}

/** Webhook URLs carry their secret in the path (Slack's do): log the origin only. */
export function redact(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return "(invalid url)";
  }
}
