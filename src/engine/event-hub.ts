// Where a deployment's events go: listeners of one deployment (a CLI following it), listeners of
// all (the dashboard, notifications), and the recent log lines a late watcher replays. A listener
// that throws is logged and skipped; it never breaks the flow that emitted.
import { describeError } from "../core/errors.js";
import type { Logger } from "../logging.js";
import { RecentLogs, type LogLine } from "./recent-logs.js";
import type { FlowEvent } from "./views.js";

type Listener = (event: FlowEvent) => void;

export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly allListeners = new Set<Listener>();
  private readonly recentLogs = new RecentLogs();

  constructor(private readonly logger: Logger) {}

  subscribe(deploymentId: string, listener: Listener): () => void {
    let set = this.listeners.get(deploymentId);
    if (!set) this.listeners.set(deploymentId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(deploymentId);
    };
  }

  subscribeAll(listener: Listener): () => void {
    this.allListeners.add(listener);
    return () => this.allListeners.delete(listener);
  }

  readonly emit = (event: FlowEvent): void => {
    if (event.type === "log") this.recentLogs.add(event.deploymentId, { at: event.at, message: event.message });
    for (const listener of [...(this.listeners.get(event.deploymentId) ?? []), ...this.allListeners]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn({ error: describeError(error) }, "an event listener failed");
      }
    }
  };

  /** The log lines of `deploymentId` still held in memory (see recent-logs.ts). */
  logsOf(deploymentId: string): LogLine[] {
    return this.recentLogs.of(deploymentId);
  }
}
