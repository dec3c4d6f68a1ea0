// `platform: { kind: command }`: the team's own scripts put versions in slots. Flip runs
// `deploy`, `ready`, `scale` and `stop` through /bin/sh with the slot and version filled in, streams
// their output into the deployment log, and remembers what each slot runs (in the driver state) so
// `flip status` and a restarted `flip serve` know it. Where a slot is reached is configured, not found.
import path from "node:path";
import { formatDuration } from "../../core/duration.js";
import { PlatformError, TimeoutError, UnsupportedError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import { SLOTS } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";
import type { Platform, PlatformContext, PlatformEvent, SlotRuntime } from "../platform.js";
import { endpointFromUrl, waitForHttpAnswer } from "../url-slots.js";
import type { CommandPlatformConfig } from "./config.js";
import { quoteTail, runShell, shellQuote } from "./shell.js";
import type { ShellOutcome } from "./shell.js";
import { SlotQueue, emitPlatformEvent } from "../slot-queue.js";

type CommandName = "deploy" | "ready" | "scale" | "stop";

/** What Flip knows of one slot, persisted under `slot:<slot>`. */
export interface CommandSlotRecord {
  version: string;
  /** deploying: the deploy command was started and has not finished (yet, or ever: a crash). */
  status: "deploying" | "deployed" | "failed" | "stopped";
  /** The last count given to the scale command; absent = whatever the deploy script runs. */
  replicas?: number;
}

const recordKey = (slot: Slot): string => `slot:${slot}`;

export class CommandPlatform implements Platform {
  readonly kind = "command";
  private readonly slotQueue = new SlotQueue();
  /** Aborted by close(): commands still running are stopped with their process group. */
  private readonly closing = new AbortController();

  constructor(
    private readonly config: CommandPlatformConfig,
    private readonly context: PlatformContext,
  ) {}

  async recover(): Promise<void> {
    for (const slot of SLOTS) {
      const record = this.record(slot);
      if (record?.status !== "deploying") continue;
      // The controller died while the deploy command ran: what it left behind is unknown.
      this.save(slot, { ...record, status: "failed" });
      this.emit({ type: "log", slot, message: `the deploy of ${record.version} to ${slot} was interrupted by a restart of flip serve; ${slot} is marked failed` });
    }
  }

  async planDeploy(slot: Slot, version: string): Promise<string[]> {
    const vars = this.vars(slot, version);
    const run = (name: CommandName, text: string) =>
      `run \`${renderTemplate(text, quoted(vars))}\` in ${this.cwd(vars)} (${name} timeout ${formatDuration(this.config.timeouts[name])})`;
    const changes = [run("deploy", this.config.deploy)];
    changes.push(this.config.ready ? `${run("ready", this.config.ready)}, again every ${formatDuration(this.config.readyInterval)} until it exits 0` : `wait until GET ${this.urlOf(slot)} answers`);
    return changes;
  }

  async deploy(slot: Slot, version: string, signal: AbortSignal): Promise<void> {
    await this.slotQueue.run(slot, async () => {
      const vars = this.vars(slot, version);
      // Persist before acting: a crash while the script runs leaves a record saying so.
      this.save(slot, { version, status: "deploying" });
      try {
        await this.runOrFail("deploy", slot, vars, signal);
      } catch (error) {
        this.save(slot, { version, status: "failed" });
        throw error;
      }
      this.save(slot, { version, status: "deployed" });
    });
  }

  async waitReady(slot: Slot, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const record = this.record(slot);
    if (record?.status !== "deployed") {
      throw new PlatformError(`Nothing is deployed in ${slot}${record ? ` (${record.version} is ${record.status})` : ""}, so it cannot become ready.`, `Deploy a version to ${slot} first.`);
    }
    const slotName = `${slot} (${record.version})`;
    if (this.config.ready === undefined) {
      const { clock } = this.context;
      await waitForHttpAnswer({ url: this.urlOf(slot), slotName, timeoutMs, intervalMs: this.config.readyInterval, clock, signal });
      return;
    }
    await this.pollReadyCommand(slot, this.vars(slot, record.version), slotName, timeoutMs, signal);
  }

  async scale(slot: Slot, replicas: number): Promise<void> {
    if (this.config.scale === undefined) throw new UnsupportedError("scaling a slot (no `platform.scale` command is configured)", "The command platform");
    if (!Number.isInteger(replicas) || replicas < 0) throw new PlatformError(`Cannot scale ${slot} to ${replicas} replicas.`, "Give a whole number, 0 or more.");
    await this.slotQueue.run(slot, async () => {
      const record = this.record(slot);
      if (!record) throw new PlatformError(`Cannot scale ${slot}: nothing was deployed there.`, `Deploy a version to ${slot} first.`);
      await this.runOrFail("scale", slot, { ...this.vars(slot, record.version), replicas }, this.closing.signal);
      this.save(slot, { ...record, replicas });
    });
  }

  async stop(slot: Slot): Promise<void> {
    await this.slotQueue.run(slot, async () => {
      const record = this.record(slot);
      if (this.config.stop === undefined) {
        this.emit({ type: "log", slot, message: `no stop command configured; leaving ${slot} running` });
        return;
      }
      if (!record || record.status === "stopped") return;
      await this.runOrFail("stop", slot, this.vars(slot, record.version), this.closing.signal);
      this.save(slot, { ...record, status: "stopped" });
    });
  }

  async endpoints(slot: Slot): Promise<Endpoint[]> {
    // Only a slot whose deploy succeeded is a place to send checks or traffic.
    return this.record(slot)?.status === "deployed" ? [endpointFromUrl(slot, this.urlOf(slot))] : [];
  }

  async describe(slot: Slot): Promise<SlotRuntime> {
    const record = this.record(slot);
    // Flip cannot see inside the scripts' platform: it reports what the scripts were asked to do.
    const replicas = record?.status === "deployed" ? (record.replicas ?? 1) : 0;
    return { version: record?.version, replicas, runningReplicas: replicas };
  }

  async close(): Promise<void> {
    this.closing.abort(new PlatformError("flip serve is shutting down"));
    await this.slotQueue.idle();
  }

  /** Runs `ready` until it exits 0; each run is bounded by its own timeout and by the time left. */
  private async pollReadyCommand(slot: Slot, vars: Vars, slotName: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const { clock } = this.context;
    const deadline = clock.now() + timeoutMs;
    const stop = AbortSignal.any([signal, this.closing.signal]);
    for (;;) {
      const runTimeoutMs = Math.max(1, Math.min(this.config.timeouts.ready, deadline - clock.now()));
      const outcome = await this.run("ready", slot, vars, stop, runTimeoutMs);
      if (outcome.kind === "exited" && outcome.code === 0) return;
      if (outcome.kind === "cancelled") throw new PlatformError(`Stopped waiting for ${slotName} to be ready: cancelled.`, undefined, { cause: signal.reason });
      const notReady = (): TimeoutError =>
        new TimeoutError(
          `${slotName} was not ready after ${formatDuration(timeoutMs)}: the last run of the ready command ${describeOutcome(outcome, runTimeoutMs)}; its last lines:\n${quoteTail(outcome.tail)}`,
          "Run `platform.ready` by hand to see why it fails, or raise `readyTimeout` in flip.yaml if the slot is just slow to start.",
        );
      if (clock.now() >= deadline) throw notReady();
      await clock.sleep(Math.min(this.config.readyInterval, deadline - clock.now()), stop).catch(() => undefined);
      // A run started with no time left could only time out: the last real answer says more.
      if (clock.now() >= deadline && !stop.aborted) throw notReady();
    }
  }

  /** Runs a command; anything but exit 0 becomes a PlatformError (TimeoutError past its timeout). */
  private async runOrFail(name: CommandName, slot: Slot, vars: Vars, signal: AbortSignal): Promise<void> {
    const timeoutMs = this.config.timeouts[name];
    const outcome = await this.run(name, slot, vars, AbortSignal.any([signal, this.closing.signal]), timeoutMs);
    if (outcome.kind === "exited" && outcome.code === 0) return;
    const what = `The ${name} command for ${slot} (${vars.version})`;
    const lastLines = `; its last lines:\n${quoteTail(outcome.tail)}`;
    if (outcome.kind === "timed-out") {
      throw new TimeoutError(
        `${what} did not finish within ${formatDuration(timeoutMs)} and was stopped (SIGTERM, then SIGKILL to its process group)${lastLines}`,
        `If it is just slow, raise \`platform.timeouts.${name}\` in flip.yaml; otherwise run it by hand to see where it hangs.`,
      );
    }
    if (outcome.kind === "cancelled") throw new PlatformError(`${what} was cancelled${lastLines}`, undefined, { cause: signal.reason });
    throw new PlatformError(`${what} ${describeOutcome(outcome, timeoutMs)}${lastLines}`, hintFor(name, outcome, this.cwd(vars)));
  }

  private async run(name: CommandName, slot: Slot, vars: Vars, signal: AbortSignal, timeoutMs: number): Promise<ShellOutcome> {
    const text = this.config[name] as string;
    const command = renderTemplate(text, quoted(vars));
    this.emit({ type: "log", slot, message: `${name} ${slot}: $ ${command}` });
    return runShell({
      command,
      cwd: this.cwd(vars),
      env: this.env(vars),
      timeoutMs,
      killGraceMs: this.config.killGrace,
      clock: this.context.clock,
      signal,
      onLine: (line) => this.emit({ type: "log", slot, message: `${name} ${slot} | ${line}` }),
    });
  }

  private vars(slot: Slot, version: string): Vars {
    // "" rather than a literal "{previousVersion}" in the command on a slot's first deploy.
    return { slot, version, url: this.urlOf(slot), app: this.context.app, previousVersion: this.record(slot)?.version ?? "" };
  }

  private cwd(vars: Vars): string {
    return path.resolve(this.context.configDir, renderTemplate(this.config.cwd ?? ".", vars));
  }

  private env(vars: Vars): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(this.config.env)) env[name] = renderTemplate(value, vars);
    Object.assign(env, { FLIP_APP: vars.app, FLIP_SLOT: vars.slot, FLIP_VERSION: vars.version, FLIP_URL: vars.url });
    if (vars.previousVersion !== "") env.FLIP_PREVIOUS_VERSION = vars.previousVersion;
    if (vars.replicas !== undefined) env.FLIP_REPLICAS = String(vars.replicas);
    return env;
  }

  private urlOf(slot: Slot): string {
    const url = this.config.urls ? this.config.urls[slot] : renderTemplate(this.config.endpoint ?? "", { slot });
    return url.replace(/\/+$/, "");
  }

  private record(slot: Slot): CommandSlotRecord | undefined {
    return this.context.state.get<CommandSlotRecord>(recordKey(slot));
  }

  private save(slot: Slot, record: CommandSlotRecord): void {
    this.context.state.set(recordKey(slot), record);
  }

  private emit(event: PlatformEvent): void {
    emitPlatformEvent(this.context, event);
  }

}

/** A type, not an interface: renderTemplate takes it as a plain record. */
type Vars = {
  slot: Slot;
  version: string;
  url: string;
  app: string;
  /** What the slot ran before this command's version ("" when nothing). */
  previousVersion: string;
  /** Only for `scale`. */
  replicas?: number;
};

/** Template values pasted into a shell command are quoted when they need it: a version is any string. */
function quoted(vars: Vars): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, shellQuote(String(value))]));
}

function describeOutcome(outcome: ShellOutcome, timeoutMs: number): string {
  switch (outcome.kind) {
    case "exited":
      return `exited with code ${outcome.code}`;
    case "killed":
      return `was killed by ${outcome.signal}`;
    case "timed-out":
      return `did not finish within ${formatDuration(timeoutMs)}`;
    case "cancelled":
      return "was cancelled";
    case "spawn-failed":
      return `could not start: ${outcome.message}`;
  }
}

function hintFor(name: CommandName, outcome: ShellOutcome, cwd: string): string {
  if (outcome.kind === "exited" && outcome.code === 127) {
    return `The shell could not find the program in \`platform.${name}\`. Check its spelling, PATH, and \`platform.cwd\` (${cwd}).`;
  }
  if (outcome.kind === "spawn-failed") return `Check that \`platform.cwd\` (${cwd}) exists.`;
  return `Run \`platform.${name}\` by hand in ${cwd} to reproduce; the whole output is in the deployment log.`;
}
