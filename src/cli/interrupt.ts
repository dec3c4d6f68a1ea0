// What Ctrl-C means while a deployment is being watched on a terminal: a person is asked whether to
// abort the deployment, keep watching, or stop watching and leave it running. The line is read
// with node:readline from the injected stdin, in the terminal's own line mode, so a second Ctrl-C
// arrives as a signal (the watcher then detaches) and a test can type the answer.
import { createInterface } from "node:readline";
import type { Interface } from "node:readline";
import { isBeforeSwitch } from "../core/phases.js";
import type { Phase } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import type { CliIo } from "./io.js";

export type InterruptAnswer = "abort" | "watch" | "detach";

/** "a", "abort", "w", "" (Enter), "d", ... → the answer; undefined for anything else. */
export function parseAnswer(line: string): InterruptAnswer | undefined {
  const word = line.trim().toLowerCase();
  if (word === "" || word === "w" || word === "watch") return "watch";
  if (word === "a" || word === "abort") return "abort";
  if (word === "d" || word === "detach") return "detach";
  return undefined;
}

/** The question, saying what an abort would do to traffic now. */
export function interruptQuestion(deployment: DeploymentSummary, phase: Phase | undefined): string {
  const now = phase ?? deployment.phase;
  const effect = isBeforeSwitch(now)
    ? "traffic has not moved; an abort leaves it where it is"
    : `an abort flips traffic back${deployment.fromSlot ? ` to ${deployment.fromSlot}` : ""}`;
  return `Abort deployment ${deployment.id} (${now}; ${effect})? [a]bort / [w]atch / [d]etach: `;
}

export class InterruptPrompt {
  private open: { readline: Interface; settle: (answer: InterruptAnswer | undefined) => void } | undefined;
  /** stdin ended (Ctrl-D, a closed pipe): nobody can answer any more. */
  private inputEnded = false;

  constructor(private readonly io: CliIo) {}

  /** Whether a person could answer: stdin and stderr (where the question goes) are a terminal. */
  get canAsk(): boolean {
    return this.io.stdin.isTTY === true && this.io.stderr.isTTY === true && !this.inputEnded;
  }

  get isOpen(): boolean {
    return this.open !== undefined;
  }

  /**
   * Asks `question` until a valid answer comes. Resolves "detach" after interrupt() (a second
   * Ctrl-C), "watch" when stdin ends, and undefined after cancel() (the deployment ended first).
   */
  ask(question: string): Promise<InterruptAnswer | undefined> {
    return new Promise((resolve) => {
      const readline = createInterface({ input: this.io.stdin, terminal: false });
      const settle = (answer: InterruptAnswer | undefined) => {
        if (this.open?.readline !== readline) return;
        this.open = undefined;
        readline.close();
        resolve(answer);
      };
      this.open = { readline, settle };
      readline.on("line", (line) => {
        const answer = parseAnswer(line);
        if (answer) settle(answer);
        else this.io.stderr.write("Answer a (abort), w (keep watching, also Enter) or d (detach): ");
      });
      readline.on("close", () => {
        if (this.open?.readline !== readline) return;
        this.inputEnded = true;
        this.io.stderr.write("\n");
        settle("watch");
      });
      this.io.stderr.write(`\n${question}`);
    });
  }

  /** A second Ctrl-C while asking: stop watching. */
  interrupt(): void {
    if (!this.open) return;
    this.io.stderr.write("\n");
    this.open.settle("detach");
  }

  /** The deployment ended while asking: the question no longer applies. */
  cancel(): void {
    if (!this.open) return;
    this.io.stderr.write("\n");
    this.open.settle(undefined);
  }
}
