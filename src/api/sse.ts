// Server-sent events of a deployment: the replay of what the store already holds, the keys that
// let a replay and a live stream be stitched without repeats, and a small queue that carries live
// events from the engine's synchronous listener to the stream writer. Pure except the queue.
import type { DeploymentDetail, DeploymentSummary, FlowEvent } from "../engine/views.js";

type SampleEvent = Extract<FlowEvent, { type: "sample" }>;

/**
 * What one SSE message's `data` holds: a FlowEvent as the engine emitted it, or rebuilt from the
 * store (then `replayed: true`, and a sample has no `remainingMs` because the store keeps none).
 */
export type StreamEvent = (Exclude<FlowEvent, SampleEvent> | (Omit<SampleEvent, "remainingMs"> & { remainingMs?: number })) & {
  replayed?: boolean;
};

/** Turns the stored history of a deployment into events, in the order they happened. */
export function replayEvents(detail: DeploymentDetail): StreamEvent[] {
  const deploymentId = detail.id;
  // Sort key: time, then phase before check before sample, so a check stamped in the same
  // millisecond as its phase began still prints under that phase.
  const timed: { at: number; rank: number; event: StreamEvent }[] = [];
  for (const phase of detail.phases) {
    const event: StreamEvent = { type: "phase", deploymentId, phase: phase.phase, at: phase.startedAt, replayed: true };
    if (phase.detail !== undefined) event.detail = phase.detail;
    timed.push({ at: phase.startedAt, rank: 0, event });
  }
  for (const result of detail.checks) {
    timed.push({ at: result.at, rank: 1, event: { type: "check", deploymentId, result, replayed: true } });
  }
  for (const sample of detail.samples) {
    timed.push({ at: sample.at, rank: 2, event: { type: "sample", deploymentId, sample, replayed: true } });
  }
  for (const line of detail.logs ?? []) {
    timed.push({ at: line.at, rank: 3, event: { type: "log", deploymentId, at: line.at, message: line.message, replayed: true } });
  }
  // Array.prototype.sort is stable, so equal keys keep the store's order.
  timed.sort((a, b) => a.at - b.at || a.rank - b.rank);
  return timed.map((entry) => entry.event);
}

/** The `finished` event for a deployment that ended before anyone watched it end. */
export function finishedEventOf(detail: DeploymentDetail): StreamEvent {
  const { phases: _phases, checks: _checks, samples: _samples, logs: _logs, ...summary } = detail;
  const deployment: DeploymentSummary = summary;
  return { type: "finished", deploymentId: detail.id, outcome: detail.outcome, reason: detail.reason, deployment, replayed: true };
}

/**
 * A key naming one event, equal for the live event and its stored copy. Phases are keyed by
 * name and time: the engine stamps a phase event in the same tick it stores the phase.
 */
export function eventKey(event: StreamEvent): string {
  switch (event.type) {
    case "phase":
      return `phase:${event.phase}:${event.at}`;
    case "check":
      return `check:${event.result.name}:${event.result.replica ?? "-"}:${event.result.at}`;
    case "sample":
      return `sample:${event.sample.at}`;
    case "log":
      return `log:${event.at}:${event.message}`;
    case "finished":
      return "finished";
  }
}

/**
 * Remembers what a watcher has already shown across reconnects. A reconnect replays the whole
 * deployment again; phases are matched by their position among phases of the same name in the
 * stream (the store's clock and the event's clock may differ by a millisecond), everything else
 * by `eventKey`.
 */
export class EventDeduplicator {
  private readonly seen = new Set<string>();
  private phaseCounts = new Map<string, number>();

  /** Call when a new stream starts (the first and every reconnect). */
  startStream(): void {
    this.phaseCounts = new Map();
  }

  /** True the first time an event is offered, false for its repeats. */
  accept(event: StreamEvent): boolean {
    let key: string;
    if (event.type === "phase") {
      const occurrence = (this.phaseCounts.get(event.phase) ?? 0) + 1;
      this.phaseCounts.set(event.phase, occurrence);
      key = `phase:${event.phase}#${occurrence}`;
    } else {
      key = eventKey(event);
    }
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

/** One SSE message: `event: <type>` and `data: <json>` (JSON has no raw newlines, so one data line). */
export function formatSseMessage(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Items pushed synchronously, taken asynchronously, in order; `close` ends the taking. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T | undefined) => void) | undefined;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake(item);
    } else {
      this.items.push(item);
    }
  }

  close(): void {
    this.closed = true;
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.(undefined);
  }

  /** The next item, or undefined once the queue is closed and empty. */
  next(): Promise<T | undefined> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

/** The SSE parser state for a client: feed it text chunks, get whole messages back. */
export class SseParser {
  private buffer = "";
  private eventType = "";
  private dataLines: string[] = [];

  /** Returns the messages completed by this chunk. Comments (heartbeats) are dropped. */
  feed(chunk: string): { event: string; data: string }[] {
    this.buffer += chunk;
    const messages: { event: string; data: string }[] = [];
    let newline = this.buffer.search(/\r\n|\r|\n/);
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (width === 1 && this.buffer[newline] === "\r" && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + width);
      this.takeLine(line, messages);
      newline = this.buffer.search(/\r\n|\r|\n/);
    }
    return messages;
  }

  private takeLine(line: string, messages: { event: string; data: string }[]): void {
    if (line === "") {
      if (this.dataLines.length > 0) messages.push({ event: this.eventType || "message", data: this.dataLines.join("\n") });
      this.eventType = "";
      this.dataLines = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") this.dataLines.push(value);
  }
}
