// Follows one deployment to its end and turns the outcome into the exit code. The server replays
// the whole deployment on every connection, so a dropped stream is simply opened again and what
// was already printed is skipped. Ctrl-C on a terminal asks whether to abort the deployment, keep
// watching or detach (interrupt.ts); elsewhere it detaches. Detaching never stops the deployment.
import { EventDeduplicator } from "../api/sse.js";
import { systemClock } from "../core/clock.js";
import type { Clock } from "../core/clock.js";
import { describeError, ServerUnreachableError } from "../core/errors.js";
import { exitCodeFor } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import { describeAbort } from "./abort.js";
import { ApiError, describeConnectionError } from "./client.js";
import type { ApiClient } from "./client.js";
import { createDisplay } from "./display.js";
import type { ProgressDisplay } from "./display.js";
import { interruptQuestion, InterruptPrompt } from "./interrupt.js";
import type { CliIo } from "./io.js";
import { println } from "./io.js";
import { noColors } from "./output.js";
import { reportError } from "./report.js";

/** Exit code after Ctrl-C, as shells report a SIGINT: 128 + 2. */
export const EXIT_INTERRUPTED = 130;

export interface WatchOptions {
  /** Reconnects in a row without anything new before giving up. */
  maxReconnects?: number;
  reconnectDelayMs?: number;
  clock?: Clock;
  /** One JSON object per line instead of text (--json). */
  json?: boolean | undefined;
}

/** Prints the start line, then the progress, and returns the exit code of the outcome. */
export async function watchDeployment(client: ApiClient, started: DeploymentSummary, io: CliIo, options: WatchOptions = {}): Promise<number> {
  const clock = options.clock ?? systemClock;
  const display = createDisplay(io, { json: options.json, clock });
  display.start(started);
  const stopWatching = new AbortController();
  const interrupts = new Interrupts(client, started, io, display, () => stopWatching.abort());
  const removeHandler = io.onSignal("SIGINT", () => interrupts.onCtrlC());
  try {
    const code = await followEvents(client, started, io, display, stopWatching.signal, { ...options, clock });
    if (code !== undefined) return code;
    display.close();
    println(io.stderr, `stopped watching; deployment ${started.id} keeps running — \`flip abort\` stops it`);
    return EXIT_INTERRUPTED;
  } finally {
    removeHandler();
    await interrupts.settle();
    display.close();
  }
}

/** The exit code of the outcome, or undefined when watching was stopped first. */
async function followEvents(
  client: ApiClient,
  started: DeploymentSummary,
  io: CliIo,
  display: ProgressDisplay,
  stopped: AbortSignal,
  options: WatchOptions & { clock: Clock },
): Promise<number | undefined> {
  const seen = new EventDeduplicator();
  const maxReconnects = options.maxReconnects ?? 5;
  let failuresInARow = 0;
  for (;;) {
    seen.startStream();
    let problem = "the server ended the event stream";
    try {
      for await (const event of client.events(started.id, stopped)) {
        if (!seen.accept(event)) continue;
        failuresInARow = 0;
        display.event(event);
        if (event.type === "finished") return exitCodeFor(event.outcome);
      }
    } catch (error) {
      if (stopped.aborted) return undefined;
      if (error instanceof ApiError) throw error; // the server answered: reconnecting will not help
      problem = describeConnectionError(error instanceof ServerUnreachableError && error.cause !== undefined ? error.cause : error);
    }
    if (stopped.aborted) return undefined;
    failuresInARow += 1;
    if (failuresInARow > maxReconnects) {
      display.close();
      return reportError(
        new ServerUnreachableError(
          client.baseUrl,
          `lost the progress of deployment ${started.id} after ${maxReconnects} reconnects: ${problem}`,
          `The deployment keeps running on the server. Check it with \`flip status\`, and its outcome later with \`flip history\`.`,
        ),
        io,
      );
    }
    display.note(`  (lost the event stream: ${problem}; reconnecting, ${failuresInARow}/${maxReconnects})`);
    await options.clock.sleep((options.reconnectDelayMs ?? 1000) * failuresInARow, stopped).catch(() => undefined);
    if (stopped.aborted) return undefined;
  }
}

/** Ctrl-C while watching: ask on a terminal, otherwise (or when asked twice) detach. */
class Interrupts {
  private readonly prompt: InterruptPrompt;
  private asking: Promise<void> | undefined;
  private over = false;

  constructor(
    private readonly client: ApiClient,
    private readonly started: DeploymentSummary,
    private readonly io: CliIo,
    private readonly display: ProgressDisplay,
    private readonly detach: () => void,
  ) {
    this.prompt = new InterruptPrompt(io);
  }

  onCtrlC(): void {
    if (this.prompt.isOpen) return this.prompt.interrupt();
    if (this.over) return;
    if (this.asking) return this.detach(); // Ctrl-C again while the abort is being sent
    if (!this.prompt.canAsk) return this.detach();
    this.asking = this.ask().finally(() => {
      this.asking = undefined;
    });
  }

  /** Closes an open question (the deployment ended) and waits for a request already sent. */
  async settle(): Promise<void> {
    this.over = true;
    this.prompt.cancel();
    await this.asking;
  }

  private async ask(): Promise<void> {
    this.display.hold();
    const answer = await this.prompt.ask(interruptQuestion(this.started, this.display.currentPhase));
    if (answer === undefined) return this.display.release();
    if (answer === "detach") {
      this.display.release();
      return this.detach();
    }
    this.display.release();
    if (answer === "watch") return;
    try {
      const deployment = await this.client.abort();
      for (const line of describeAbort(deployment, noColors)) this.display.note(line);
    } catch (error) {
      // e.g. it finished meanwhile (nothing running): its end is on its way through the stream.
      this.display.note(`could not abort: ${describeError(error)}`);
    }
  }
}
