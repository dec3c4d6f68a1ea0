// Follows one deployment to its end and turns the outcome into the exit code. The server replays
// the whole deployment on every connection, so a dropped stream is simply opened again and what
// was already printed is skipped. Ctrl-C stops watching, never the deployment.
import { EventDeduplicator } from "../api/sse.js";
import { systemClock } from "../core/clock.js";
import type { Clock } from "../core/clock.js";
import { ServerUnreachableError } from "../core/errors.js";
import { exitCodeFor } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import { ApiError, describeConnectionError } from "./client.js";
import type { ApiClient } from "./client.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import { describeStart, ProgressView } from "./progress.js";
import { reportError } from "./report.js";

/** Exit code after Ctrl-C, as shells report a SIGINT: 128 + 2. */
export const EXIT_INTERRUPTED = 130;

export interface WatchOptions {
  /** Reconnects in a row without anything new before giving up. */
  maxReconnects?: number;
  reconnectDelayMs?: number;
  clock?: Clock;
}

/** Prints the start line, then the progress, and returns the exit code of the outcome. */
export async function watchDeployment(client: ApiClient, started: DeploymentSummary, io: CliIo, options: WatchOptions = {}): Promise<number> {
  const colors = colorsFor(io);
  println(io.stdout, describeStart(started, colors));
  const view = new ProgressView(colors);
  const seen = new EventDeduplicator();
  const stopWatching = new AbortController();
  const removeHandler = io.onSignal("SIGINT", () => stopWatching.abort());
  const maxReconnects = options.maxReconnects ?? 5;
  const clock = options.clock ?? systemClock;
  try {
    let failuresInARow = 0;
    for (;;) {
      seen.startStream();
      let problem = "the server ended the event stream";
      try {
        for await (const event of client.events(started.id, stopWatching.signal)) {
          if (!seen.accept(event)) continue;
          failuresInARow = 0;
          for (const line of view.lines(event)) println(io.stdout, line);
          if (event.type === "finished") return exitCodeFor(event.outcome);
        }
      } catch (error) {
        if (stopWatching.signal.aborted) break;
        if (error instanceof ApiError) throw error; // the server answered: reconnecting will not help
        problem = describeConnectionError(error instanceof ServerUnreachableError && error.cause !== undefined ? error.cause : error);
      }
      if (stopWatching.signal.aborted) break;
      failuresInARow += 1;
      if (failuresInARow > maxReconnects) {
        return reportError(
          new ServerUnreachableError(
            client.baseUrl,
            `lost the progress of deployment ${started.id} after ${maxReconnects} reconnects: ${problem}`,
            `The deployment keeps running on the server. Check it with \`flip status\`, and its outcome later with \`flip history\`.`,
          ),
          io,
        );
      }
      println(io.stdout, colors.dim(`  (lost the event stream: ${problem}; reconnecting, ${failuresInARow}/${maxReconnects})`));
      await clock.sleep((options.reconnectDelayMs ?? 1000) * failuresInARow, stopWatching.signal).catch(() => undefined);
      if (stopWatching.signal.aborted) break;
    }
    println(io.stderr, `stopped watching; deployment ${started.id} keeps running — \`flip abort\` stops it`);
    return EXIT_INTERRUPTED;
  } finally {
    removeHandler();
  }
}
