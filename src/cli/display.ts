// How `flip deploy`, `switch` and `rollback` show a deployment while it runs: a live line that
// ticks on a terminal (live.ts), plain lines when stdout is not one, or with --json one JSON
// object per line (each event, then a summary) for scripts. The watcher picks one and feeds it.
import type { Clock } from "../core/clock.js";
import { exitCodeFor, isTerminal } from "../core/phases.js";
import type { Phase } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import type { StreamEvent } from "../api/sse.js";
import type { CliIo, OutputStream } from "./io.js";
import { colorsFor } from "./io.js";
import { LiveDisplay } from "./live.js";
import type { Colors } from "./output.js";
import { HeldOutput, jsonWithNulls } from "./output.js";
import { describeStart, ProgressView } from "./progress.js";

export interface ProgressDisplay {
  start(summary: DeploymentSummary): void;
  event(event: StreamEvent): void;
  /** A line about the watching itself: a lost stream, an abort requested. */
  note(text: string): void;
  /** Holds output while a prompt is open, so the two do not interleave; release() prints what came meanwhile. */
  hold(): void;
  release(): void;
  /** The phase under way, if one is (for the Ctrl-C prompt). */
  readonly currentPhase: Phase | undefined;
  /** Stops ticking and leaves the terminal on a fresh line. */
  close(): void;
}

export function createDisplay(io: CliIo, options: { json?: boolean | undefined; clock: Clock }): ProgressDisplay {
  if (options.json) return new JsonDisplay(io);
  const colors = colorsFor(io);
  if (io.stdout.isTTY === true && io.env.TERM !== "dumb") return new LiveDisplay(io.stdout, colors, options.clock);
  return new PlainDisplay(io.stdout, colors);
}

/** Tracks the phase under way from phase events (terminal phases end it). */
function nextPhase(current: Phase | undefined, event: StreamEvent): Phase | undefined {
  if (event.type === "finished") return undefined;
  if (event.type !== "phase") return current;
  return isTerminal(event.phase) ? undefined : event.phase;
}

/** One line per phase, check, sample and outcome, as they come: for logs and pipes. */
export class PlainDisplay implements ProgressDisplay {
  private readonly out: HeldOutput;
  private readonly view: ProgressView;
  currentPhase: Phase | undefined;

  constructor(
    stream: OutputStream,
    private readonly colors: Colors,
  ) {
    this.out = new HeldOutput(stream);
    this.view = new ProgressView(colors);
  }

  start(summary: DeploymentSummary): void {
    this.out.write(`${describeStart(summary, this.colors)}\n`);
  }

  event(event: StreamEvent): void {
    this.currentPhase = nextPhase(this.currentPhase, event);
    for (const line of this.view.lines(event)) this.out.write(`${line}\n`);
  }

  note(text: string): void {
    this.out.write(`${this.colors.dim(text)}\n`);
  }

  hold(): void {
    this.out.hold();
  }

  release(): void {
    this.out.release();
  }

  close(): void {
    this.out.release();
  }
}

/**
 * --json: `{"type":"started","deployment":…}`, then each event as the API sends it, then
 * `{"type":"summary","exitCode":N,"deployment":…}`. Notes go to stderr, so stdout stays JSON.
 */
export class JsonDisplay implements ProgressDisplay {
  private readonly out: HeldOutput;
  currentPhase: Phase | undefined;

  constructor(private readonly io: CliIo) {
    this.out = new HeldOutput(io.stdout);
  }

  start(summary: DeploymentSummary): void {
    this.line({ type: "started", deployment: summaryJson(summary) });
  }

  event(event: StreamEvent): void {
    this.currentPhase = nextPhase(this.currentPhase, event);
    this.line(event);
    if (event.type === "finished") this.line({ type: "summary", exitCode: exitCodeFor(event.outcome), deployment: summaryJson(event.deployment) });
  }

  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  hold(): void {
    this.out.hold();
  }

  release(): void {
    this.out.release();
  }

  close(): void {
    this.out.release();
  }

  private line(value: unknown): void {
    this.out.write(`${JSON.stringify(value)}\n`);
  }
}

function summaryJson(summary: DeploymentSummary): DeploymentSummary {
  return jsonWithNulls(summary, ["fromSlot", "reason", "finishedAt", "durationMs"]);
}
