// The two server-sent-event endpoints: one deployment (replay, then live, until `finished`) and
// every deployment (live only, for the dashboard). A comment line every 15 s keeps proxies and
// idle timeouts from closing a quiet stream.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { SSEStreamingApi } from "hono/streaming";
import type { DeploymentDetail, EngineApi, FlowEvent } from "../engine/views.js";
import type { Logger } from "../logging.js";
import { AsyncQueue, eventKey, finishedEventOf, formatSseMessage, replayEvents } from "./sse.js";
import type { StreamEvent } from "./sse.js";

export const HEARTBEAT_MS = 15_000;

/** The streams a server has open, so closing the server can end them instead of waiting forever. */
export class OpenStreams {
  private readonly closers = new Set<() => void>();
  private closedForGood = false;

  /** True once closeAll ran: the server is shutting down, a new stream ends at once. */
  get closed(): boolean {
    return this.closedForGood;
  }

  add(close: () => void): () => void {
    if (this.closedForGood) {
      close();
      return () => undefined;
    }
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  closeAll(): void {
    this.closedForGood = true;
    for (const close of [...this.closers]) close();
    this.closers.clear();
  }

  get size(): number {
    return this.closers.size;
  }
}

export interface StreamOptions {
  engine: EngineApi;
  logger: Logger;
  streams: OpenStreams;
  heartbeatMs: number;
}

/**
 * GET /api/deployments/:id/events. Subscribes before reading the stored history, so an event
 * emitted in between is in the queue; keys drop the ones the replay already sent.
 */
export function deploymentEvents(c: Context, id: string, options: StreamOptions): Response {
  const live = new AsyncQueue<FlowEvent>();
  const unsubscribe = options.engine.subscribe(id, (event) => live.push(event));
  let detail: DeploymentDetail;
  try {
    detail = options.engine.deployment(id);
  } catch (error) {
    unsubscribe();
    throw error; // answered as JSON (404) by the app's error handler: no stream was started
  }
  return openStream(c, options, live, unsubscribe, async (send) => {
    const sent = new Set<string>();
    const sendOnce = async (event: StreamEvent): Promise<void> => {
      sent.add(eventKey(event));
      await send(event);
    };
    for (const event of replayEvents(detail)) await sendOnce(event);
    if (detail.outcome !== "running") {
      await sendOnce(finishedEventOf(detail));
      return;
    }
    for (let event = await live.next(); event !== undefined; event = await live.next()) {
      if (sent.has(eventKey(event))) continue;
      await sendOnce(event);
      if (event.type === "finished") return;
    }
  });
}

/** GET /api/events: every deployment's events as they happen; no replay, no end. */
export function allEvents(c: Context, options: StreamOptions): Response {
  const live = new AsyncQueue<FlowEvent>();
  const unsubscribe = options.engine.subscribeAll((event) => live.push(event));
  return openStream(c, options, live, unsubscribe, async (send) => {
    for (let event = await live.next(); event !== undefined; event = await live.next()) await send(event);
  });
}

/** Runs `body` inside an SSE response and cleans up however it ends: done, client gone, server closing. */
function openStream(
  c: Context,
  options: StreamOptions,
  live: AsyncQueue<FlowEvent>,
  unsubscribe: () => void,
  body: (send: (event: StreamEvent) => Promise<void>) => Promise<void>,
): Response {
  return streamSSE(
    c,
    async (stream: SSEStreamingApi) => {
      const untrack = options.streams.add(() => live.close());
      stream.onAbort(() => live.close());
      if (stream.aborted) live.close();
      // StreamingApi.write never rejects (a gone client is reported through onAbort instead).
      const heartbeat = setInterval(() => void stream.write(": heartbeat\n\n"), options.heartbeatMs);
      try {
        await body((event) => stream.write(formatSseMessage(event)).then(() => undefined));
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
        untrack();
      }
    },
    async (error) => {
      options.logger.error({ err: error, path: c.req.path }, "event stream failed");
    },
  );
}
