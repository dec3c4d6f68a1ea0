// One replica: the process group that runs one copy of a version on one port, started again with
// backoff when it crashes while its slot is in service. It is either our child (its exit is an
// event) or was adopted after a controller restart (only a parent hears a child exit, so its
// liveness is polled).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { setTimeout as sleepReal } from "node:timers/promises";
import type { Clock } from "../../core/clock.js";
import { PlatformError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import type { Logger } from "../../logging.js";
import type { PlatformEvent } from "../platform.js";
import { closeQuietly, openReplicaLog } from "./log-file.js";
import { LOOPBACK } from "./ports.js";
import { isProcessAlive, processStartTime, terminateGroup } from "./process-group.js";
import { consecutiveCrashes, describeExit, restartDelayMs } from "./restart-policy.js";

/** Everything needed to run this replica, already templated. */
export interface ReplicaSpec {
  slot: Slot;
  index: number;
  version: string;
  port: number;
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
}

/** What the replica needs from its platform. */
export interface ReplicaSurroundings {
  clock: Clock;
  logger: Logger;
  maxBackoffMs: number;
  stopGraceMs: number;
  emit(event: PlatformEvent): void;
  /** A new process runs (started or adopted): the platform persists its pid. */
  recordProcess(replica: Replica): void;
}

export interface ReplicaExit {
  pid: number;
  code: number | null;
  signal: string | null;
  /** The process ended before a readiness probe ever succeeded against it. */
  beforeReady: boolean;
}

/** What an adopted replica is recognised by (from the persisted state). */
export interface AdoptedProcess {
  pid: number;
  startedAt: number;
  processStart: string | undefined;
}

// An adopted process is not our child, so nothing tells us when it dies: look this often.
const ADOPTED_POLL_MS = 500;
// Once its group is dead the leader's exit event follows at once; this only bounds a surprise.
const EXIT_EVENT_WAIT_MS = 1_000;

export class Replica {
  readonly spec: ReplicaSpec;
  pid: number | undefined;
  /** When the current process started, by the injected clock. */
  startedAt: number | undefined;
  /** The OS's start time of the current process (Linux), to tell it from a reused pid. */
  processStart: string | undefined;
  lastExit: ReplicaExit | undefined;

  private readonly around: ReplicaSurroundings;
  private child: ChildProcess | undefined;
  private alive = false;
  private ready = false;
  private inService = false;
  private detached = false;
  private crashes = 0;
  private starting: Promise<void> | undefined;
  private restarting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Aborted by stop() and detach(): ends backoff sleeps and the adopted-process watch. */
  private readonly lifecycle = new AbortController();
  private readonly exitListeners = new Set<(exit: ReplicaExit) => void>();

  constructor(spec: ReplicaSpec, around: ReplicaSurroundings) {
    this.spec = spec;
    this.around = around;
  }

  get isRunning(): boolean {
    return this.alive;
  }

  /** Running, and its current process has answered a readiness probe. */
  get isReady(): boolean {
    return this.alive && this.ready;
  }

  get endpoint(): Endpoint {
    const { slot, index, port } = this.spec;
    return { slot, replica: index, host: LOOPBACK, port, url: `http://${LOOPBACK}:${port}` };
  }

  get name(): string {
    return `replica ${this.spec.index} of ${this.spec.slot} (${this.spec.version})`;
  }

  markReady(): void {
    if (this.alive) this.ready = true;
  }

  /** Calls `listener` at every exit of a process of this replica; returns the unsubscribe. */
  onExit(listener: (exit: ReplicaExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Puts the replica in service and starts its first process; rejects when it cannot be spawned. */
  async start(): Promise<void> {
    this.inService = true;
    this.starting = this.spawnProcess();
    await this.starting;
    this.emitStarted();
  }

  /** Puts the replica in service around a process that survived a controller restart. */
  adopt(found: AdoptedProcess): void {
    this.inService = true;
    this.pid = found.pid;
    this.startedAt = found.startedAt;
    this.processStart = found.processStart ?? processStartTime(found.pid);
    this.alive = true;
    this.ready = true; // its port answered before we adopted it
    this.around.recordProcess(this);
    this.around.emit({ type: "replica-adopted", slot: this.spec.slot, replica: this.spec.index, pid: found.pid, port: this.spec.port });
    void this.watchAdopted(found.pid);
  }

  /** Out of service for good: no more restarts; SIGTERM to the group, SIGKILL after the grace. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  /** The controller goes away but the process stays (what a crash looks like). */
  detach(): void {
    this.detached = true;
    this.lifecycle.abort();
    this.child?.unref();
  }

  private async stopNow(): Promise<void> {
    this.inService = false;
    this.lifecycle.abort();
    // A spawn in flight finishes first, so its process is stopped too.
    await this.starting?.catch(() => undefined);
    await this.restarting;
    const pid = this.pid;
    if (pid === undefined) return;
    const child = this.child;
    const exitEvent = child ? new Promise<void>((resolve) => child.once("exit", () => resolve())) : undefined;
    const outcome = await terminateGroup(pid, this.around.stopGraceMs, this.around.clock);
    if (outcome === "stuck") {
      this.around.logger.error({ pid, slot: this.spec.slot, replica: this.spec.index }, "replica survived SIGKILL");
    } else if (exitEvent && this.alive) {
      await Promise.race([exitEvent, sleepReal(EXIT_EVENT_WAIT_MS, undefined, { ref: false })]);
    }
    this.handleExit(pid, null, null); // no-op when the exit event already told us
  }

  private async spawnProcess(): Promise<void> {
    const { slot, index, version, port, command, cwd, env, logPath } = this.spec;
    const logFd = openReplicaLog(logPath, `starting replica ${index} of ${slot} (${version}) on port ${port}: ${command}`);
    let child: ChildProcess;
    try {
      // detached: the replica leads its own process group, so stop() can signal all of it.
      child = spawn("/bin/sh", ["-c", command], { cwd, env, detached: true, stdio: ["ignore", logFd, logFd] });
    } finally {
      closeQuietly(logFd); // the child holds its own copy
    }
    const pid = child.pid;
    child.on("error", (error) => this.around.logger.warn({ err: error, slot, replica: index }, "replica process error"));
    if (pid !== undefined) child.once("exit", (code, signal) => this.handleExit(pid, code, signal));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    }).catch((error: NodeJS.ErrnoException) => {
      const hint = existsSync(cwd)
        ? "Check that /bin/sh exists and that Flip may run programs here."
        : `The working folder ${cwd} does not exist: fix \`platform.cwd\` in flip.yaml.`;
      throw new PlatformError(`Could not start ${this.name}: ${error.message}.`, hint, { cause: error });
    });
    this.child = child;
    this.pid = pid;
    this.startedAt = this.around.clock.now();
    this.processStart = pid === undefined ? undefined : processStartTime(pid);
    this.alive = true;
    this.ready = false;
    this.around.recordProcess(this);
  }

  private emitStarted(): void {
    this.around.emit({ type: "replica-started", slot: this.spec.slot, replica: this.spec.index, pid: this.pid, port: this.spec.port });
  }

  private handleExit(pid: number, code: number | null, signal: string | null): void {
    if (pid !== this.pid || !this.alive) return; // an older process, or already handled
    this.alive = false;
    this.child = undefined;
    const exit: ReplicaExit = { pid, code, signal, beforeReady: !this.ready };
    this.lastExit = exit;
    for (const listener of this.exitListeners) listener(exit);
    if (this.detached) return;
    const { slot, index } = this.spec;
    if (!this.inService) {
      this.around.emit({ type: "replica-exited", slot, replica: index, code, signal });
      return;
    }
    const runMs = this.around.clock.now() - (this.startedAt ?? this.around.clock.now());
    this.crashes = consecutiveCrashes(this.crashes, runMs);
    const delayMs = restartDelayMs(this.crashes, this.around.maxBackoffMs);
    this.around.logger.warn({ slot, replica: index, pid, code, signal, restartInMs: delayMs }, `${this.name} ${describeExit(code, signal)}`);
    this.around.emit({ type: "replica-exited", slot, replica: index, code, signal, restartInMs: delayMs });
    this.restarting = this.restartAfter(delayMs, pid);
  }

  /** Waits out the backoff, then starts a new process; a failed spawn counts as another crash. */
  private async restartAfter(firstDelayMs: number, previousPid: number): Promise<void> {
    const { clock, stopGraceMs, maxBackoffMs } = this.around;
    let delayMs = firstDelayMs;
    // Whatever the old leader left in its group (a wrapper's child) would still hold the port.
    let leftoverGroup: number | undefined = previousPid;
    for (;;) {
      try {
        if (leftoverGroup !== undefined) await terminateGroup(leftoverGroup, stopGraceMs, clock);
        await clock.sleep(delayMs, this.lifecycle.signal);
      } catch {
        return; // stopped or detached while waiting
      }
      if (!this.inService || this.detached) return;
      try {
        await this.spawnProcess();
        this.emitStarted();
        return;
      } catch (error) {
        this.crashes += 1;
        delayMs = restartDelayMs(this.crashes, maxBackoffMs);
        leftoverGroup = undefined;
        this.around.logger.error({ err: error, slot: this.spec.slot, replica: this.spec.index, restartInMs: delayMs }, "restart failed");
        this.around.emit({ type: "replica-exited", slot: this.spec.slot, replica: this.spec.index, code: null, signal: null, restartInMs: delayMs });
      }
    }
  }

  private async watchAdopted(pid: number): Promise<void> {
    while (this.pid === pid && this.alive) {
      try {
        await this.around.clock.sleep(ADOPTED_POLL_MS, this.lifecycle.signal);
      } catch {
        return;
      }
      if (!this.ownsLiveProcess(pid)) this.handleExit(pid, null, null);
    }
  }

  private ownsLiveProcess(pid: number): boolean {
    if (!isProcessAlive(pid)) return false;
    const now = processStartTime(pid);
    return this.processStart === undefined || now === undefined || now === this.processStart;
  }
}
