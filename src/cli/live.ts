// The progress of a deployment on a terminal: the phase under way is one line at the bottom with a
// spinner and its elapsed time, rewritten in place (\r + erase line) as time passes; when the phase
// ends it becomes a plain line with how long it took. Check results, monitor values and the outcome
// print above it as they come. Ticks come from the injected clock, so a test can move time.
import type { Clock } from "../core/clock.js";
import { formatDuration } from "../core/duration.js";
import { isTerminal } from "../core/phases.js";
import type { Phase } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import type { StreamEvent } from "../api/sse.js";
import type { ProgressDisplay } from "./display.js";
import type { OutputStream } from "./io.js";
import type { Colors } from "./output.js";
import { HeldOutput, truncate, visibleWidth } from "./output.js";
import { describeStart, ProgressView } from "./progress.js";

/** Back to the start of the line and erase it: how the live line is rewritten. */
export const CLEAR_LINE = "\r\u001b[2K";
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** How often the spinner turns (the elapsed time shows whole seconds). */
export const TICK_MS = 100;

interface OpenPhase {
  phase: Phase;
  detail: string | undefined;
  /** When it began, by the server's clock (for the settled line's duration). */
  startedAt: number;
  /** When it began, by this clock (for the ticking elapsed time). */
  localStart: number;
}

export class LiveDisplay implements ProgressDisplay {
  private readonly out: HeldOutput;
  private readonly view: ProgressView;
  private open: OpenPhase | undefined;
  /** When the terminal phase began, if the stream sent it (a replay does). */
  private endedAt: number | undefined;
  private frame = 0;
  private readonly ticking = new AbortController();

  constructor(
    private readonly stream: OutputStream,
    private readonly colors: Colors,
    private readonly clock: Clock,
  ) {
    this.out = new HeldOutput(stream);
    this.view = new ProgressView(colors);
    void this.tick();
  }

  get currentPhase(): Phase | undefined {
    return this.open?.phase;
  }

  start(summary: DeploymentSummary): void {
    this.printAbove(describeStart(summary, this.colors));
  }

  event(event: StreamEvent): void {
    if (event.type === "phase") {
      this.view.lines(event); // keeps the view's timing for the outcome line; its text is not used here
      if (isTerminal(event.phase)) {
        this.endedAt = event.at;
        return;
      }
      this.settle(event.at);
      // A replayed phase began before this stream opened: count from then (same machine's clock, or near it).
      const now = this.clock.now();
      this.open = { phase: event.phase, detail: event.detail, startedAt: event.at, localStart: event.replayed ? Math.min(now, event.at) : now };
      this.redraw();
      return;
    }
    if (event.type === "finished") {
      const finishedAt = this.endedAt ?? (event.deployment.finishedAt ? Date.parse(event.deployment.finishedAt) : undefined);
      this.settle(finishedAt);
      for (const line of this.view.lines(event)) this.printAbove(line);
      this.ticking.abort();
      return;
    }
    for (const line of this.view.lines(event)) this.printAbove(line);
  }

  note(text: string): void {
    this.printAbove(this.colors.dim(text));
  }

  hold(): void {
    if (this.out.isHeld) return;
    // Leave the prompt a clean line: the live line goes, and comes back on release().
    if (this.open) this.stream.write(CLEAR_LINE);
    this.out.hold();
  }

  release(): void {
    this.out.release();
    this.redraw();
  }

  close(): void {
    this.ticking.abort();
    this.out.release();
    // Watching stops while a phase is under way: it stays on screen, on a line of its own.
    const open = this.open;
    if (open) this.stream.write(`${CLEAR_LINE}${this.phaseLine(open, `${formatTicking(this.clock.now() - open.localStart)} so far`)}\n`);
    this.open = undefined;
  }

  /** Ends the live phase: its line becomes permanent, with how long it took. */
  private settle(endedAt: number | undefined): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    const tookMs = endedAt === undefined ? this.clock.now() - open.localStart : endedAt - open.startedAt;
    this.out.write(`${CLEAR_LINE}${this.phaseLine(open, `took ${formatDuration(Math.max(0, tookMs))}`)}\n`);
  }

  /** "▸ checking  1 check against green  (took 2.1s)" */
  private phaseLine(open: OpenPhase, timing: string): string {
    const detail = open.detail ? `  ${open.detail}` : "";
    return `${this.colors.cyan("▸")} ${this.colors.bold(open.phase)}${detail}  ${this.colors.dim(`(${timing})`)}`;
  }

  /** A permanent line above the live one, in one write so the terminal does not flicker. */
  private printAbove(line: string): void {
    // While held, the live line is redrawn on release(), with the time then.
    const live = this.open && !this.out.isHeld ? this.liveText() : "";
    this.out.write(`${CLEAR_LINE}${line}\n${live}`);
  }

  private redraw(): void {
    if (this.open && !this.out.isHeld) this.stream.write(`${CLEAR_LINE}${this.liveText()}`);
  }

  /** "⠹ checking  12s  1 check against green", cut to the terminal's width so it never wraps. */
  private liveText(): string {
    const open = this.open as OpenPhase;
    const spinner = SPINNER[this.frame % SPINNER.length] as string;
    const elapsed = formatTicking(this.clock.now() - open.localStart);
    const head = `${this.colors.cyan(spinner)} ${this.colors.bold(open.phase)}  ${this.colors.dim(elapsed)}`;
    if (!open.detail) return head;
    // A terminal that does not know its size says 0 columns.
    const room = (this.stream.columns || 80) - 1 - visibleWidth(head) - 2;
    return room > 1 ? `${head}  ${truncate(open.detail, room)}` : head;
  }

  private async tick(): Promise<void> {
    const signal = this.ticking.signal;
    while (!signal.aborted) {
      await this.clock.sleep(TICK_MS, signal).catch(() => undefined);
      if (signal.aborted) return;
      this.frame += 1;
      this.redraw();
    }
  }
}

/** Elapsed time as it ticks: whole seconds ("0s", "59s", "1m05s", "1h02m"). */
export function formatTicking(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
