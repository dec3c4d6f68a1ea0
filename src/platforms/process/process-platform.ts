// `platform: { kind: process }`: each slot runs its version as local processes, one process group
// per replica, on loopback ports. Replicas that crash are restarted with backoff while their slot
// is in service; what runs is persisted so a restarted controller adopts it instead of starting over.
import path from "node:path";
import { PlatformError } from "../../core/errors.js";
import { SLOTS } from "../../core/slots.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";
import { describeProcessDeploy } from "./plan.js";
import type { Platform, PlatformContext, PlatformEvent, SlotRuntime } from "../platform.js";
import type { ProcessPlatformConfig } from "./config.js";
import { replicaLogPath } from "./log-file.js";
import { LOOPBACK, pickFreePort, portBindProblem } from "./ports.js";
import { terminateGroup } from "./process-group.js";
import { waitUntilReady } from "./readiness.js";
import { decideRecovery, gatherFacts } from "./recovery.js";
import { Replica } from "./replica.js";
import { clearSlotRecord, readSlotRecord, writeSlotRecord } from "./slot-record.js";
import type { ReplicaRecord, SlotRecord } from "./slot-record.js";
import { SlotQueue, emitPlatformEvent } from "../slot-queue.js";

export interface ProcessPlatformOptions {
  /** Readiness path when the config names none: the caller passes the first http check's path. */
  /** The first http check's path: used when `readiness.path` is not set, and then any HTTP answer means ready. */
  readinessPath?: string;
}

/** What runs in one slot: its version and its replicas, ordered by replica number. */
interface SlotRun {
  version: string;
  replicas: Replica[];
}

const DEFAULT_READINESS_INTERVAL_MS = 200;

export class ProcessPlatform implements Platform {
  readonly kind = "process";
  private readonly config: ProcessPlatformConfig;
  private readonly context: PlatformContext;
  /** HTTP path probed for readiness; a TCP connect when undefined. */
  readonly readinessPath: string | undefined;
  private readonly readinessAnyStatus: boolean;
  private readonly slots = new Map<Slot, SlotRun>();
  private readonly slotQueue = new SlotQueue();
  private closed = false;

  constructor(config: ProcessPlatformConfig, context: PlatformContext, options: ProcessPlatformOptions = {}) {
    this.config = config;
    this.context = context;
    this.readinessPath = config.readiness?.path ?? options.readinessPath;
    this.readinessAnyStatus = config.readiness?.path === undefined && options.readinessPath !== undefined;
  }

  async deploy(slot: Slot, version: string, signal: AbortSignal): Promise<void> {
    this.assertOpen(`deploy ${version} to ${slot}`);
    await this.slotQueue.run(slot, async () => {
      throwIfCancelled(signal, `Deploying ${version} to ${slot}`);
      await this.stopSlot(slot);
      const run: SlotRun = { version, replicas: [] };
      this.slots.set(slot, run);
      try {
        await this.addReplicas(slot, run, this.config.replicas, signal);
      } catch (error) {
        await this.stopSlot(slot); // all or nothing: never leave half a version in a slot
        throw error;
      }
    });
  }

  async planDeploy(slot: Slot, version: string): Promise<string[]> {
    const run = this.slots.get(slot);
    const pids = run?.replicas.flatMap((replica) => (replica.isRunning && replica.pid !== undefined ? [replica.pid] : [])) ?? [];
    return describeProcessDeploy(this.config, this.context.configDir, slot, version, { version: run?.version, pids });
  }

  async waitReady(slot: Slot, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const run = this.slots.get(slot);
    if (!run || run.replicas.length === 0) {
      throw new PlatformError(`Nothing runs in ${slot}, so it cannot become ready.`, `Deploy a version to ${slot} (or scale it up) first.`);
    }
    await waitUntilReady({
      replicas: [...run.replicas],
      slotName: `${slot} (${run.version})`,
      readinessPath: this.readinessPath,
      readinessAnyStatus: this.readinessAnyStatus,
      timeoutMs,
      intervalMs: this.config.readiness?.interval ?? DEFAULT_READINESS_INTERVAL_MS,
      clock: this.context.clock,
      configDir: this.context.configDir,
      signal,
    });
  }

  async scale(slot: Slot, replicas: number): Promise<void> {
    this.assertOpen(`scale ${slot}`);
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new PlatformError(`Cannot scale ${slot} to ${replicas} replicas.`, "Give a whole number, 0 or more.");
    }
    await this.slotQueue.run(slot, async () => {
      const run = this.slots.get(slot);
      if (!run) throw new PlatformError(`Cannot scale ${slot}: nothing is deployed there.`, `Deploy a version to ${slot} first.`);
      if (replicas > run.replicas.length) {
        await this.addReplicas(slot, run, replicas, new AbortController().signal);
        return;
      }
      const surplus = run.replicas.slice(replicas);
      // Stopped before they leave the record: a crash meanwhile leaves them adoptable, not orphaned.
      await Promise.all(surplus.map((replica) => replica.stop()));
      run.replicas = run.replicas.slice(0, replicas);
      this.persist(slot);
    });
  }

  async stop(slot: Slot): Promise<void> {
    await this.slotQueue.run(slot, () => this.stopSlot(slot));
  }

  async endpoints(slot: Slot): Promise<Endpoint[]> {
    const run = this.slots.get(slot);
    return run ? run.replicas.filter((replica) => replica.isRunning).map((replica) => replica.endpoint) : [];
  }

  async describe(slot: Slot): Promise<SlotRuntime> {
    const run = this.slots.get(slot);
    return {
      version: run?.version,
      replicas: run?.replicas.length ?? 0,
      runningReplicas: run?.replicas.filter((replica) => replica.isRunning).length ?? 0,
    };
  }

  async recover(signal: AbortSignal): Promise<void> {
    this.assertOpen("recover");
    const problems: string[] = [];
    for (const slot of SLOTS) {
      throwIfCancelled(signal, "Recovering the process platform");
      if (this.slots.has(slot)) continue; // already running here: nothing to find again
      await this.slotQueue.run(slot, () => this.recoverSlot(slot, signal, problems));
    }
    if (problems.length > 0) {
      throw new PlatformError(
        `Could not bring back every replica after the restart:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`,
        "The other replicas run. Fix the cause above, then deploy again (`flip deploy <version>`).",
      );
    }
  }

  async close(options: { stopReplicas: boolean }): Promise<void> {
    this.closed = true;
    await this.slotQueue.idle(); // let a deploy or stop in flight finish first
    const runs = [...this.slots.values()];
    this.slots.clear();
    // The records stay either way: on the next start, recover() adopts what still runs and starts
    // again what was stopped, so stopping the controller does not take the app down for good.
    if (options.stopReplicas) {
      await Promise.all(runs.flatMap((run) => run.replicas.map((replica) => replica.stop())));
    } else {
      for (const replica of runs.flatMap((run) => run.replicas)) replica.detach();
    }
  }

  private async recoverSlot(slot: Slot, signal: AbortSignal, problems: string[]): Promise<void> {
    const { state, logger } = this.context;
    const { record, problem } = readSlotRecord(state, slot);
    if (problem) {
      problems.push(`${problem}; it was discarded`);
      clearSlotRecord(state, slot);
      return;
    }
    if (!record) return;
    if (record.stopping) {
      // The controller died while stopping this slot: finish the stop.
      await this.stopRecorded(record);
      clearSlotRecord(state, slot);
      return;
    }
    const run: SlotRun = { version: record.version, replicas: [] };
    this.slots.set(slot, run);
    const recorded = [...record.replicas].sort((a, b) => a.replica - b.replica);
    for (const replicaRecord of recorded) {
      throwIfCancelled(signal, `Recovering ${slot}`);
      const verdict = decideRecovery(await gatherFacts(replicaRecord, signal));
      const name = `replica ${replicaRecord.replica} of ${slot} (${record.version})`;
      if (verdict === "adopt" && replicaRecord.pid !== undefined) {
        const replica = this.newReplica(slot, record.version, replicaRecord.replica, replicaRecord.port);
        run.replicas.push(replica);
        replica.adopt({ pid: replicaRecord.pid, startedAt: replicaRecord.startedAt ?? this.context.clock.now(), processStart: replicaRecord.processStart });
        continue;
      }
      if (verdict === "clean-up-and-start" && replicaRecord.pid !== undefined) {
        await terminateGroup(replicaRecord.pid, this.config.stopGrace, this.context.clock);
      } else if (verdict === "leave-foreign-and-start") {
        const message = `${name}: pid ${replicaRecord.pid} is alive but not provably ours (pid reused?); left alone, starting a new process`;
        logger.warn({ slot, replica: replicaRecord.replica, pid: replicaRecord.pid }, message);
        this.emit({ type: "log", slot, message });
      }
      const started = await this.restartRecorded(slot, run, replicaRecord);
      if (started !== true) problems.push(`${name}: ${started}`);
    }
    this.persist(slot);
  }

  /** Starts a recorded replica again, on its old port when that is free; returns true or why not. */
  private async restartRecorded(slot: Slot, run: SlotRun, replicaRecord: ReplicaRecord): Promise<true | string> {
    const index = replicaRecord.replica;
    let port: number;
    try {
      port = this.config.ports ? await this.fixedPort(slot, index) : await this.reusablePort(replicaRecord.port, run);
    } catch (error) {
      return (error as Error).message;
    }
    const replica = this.newReplica(slot, run.version, index, port);
    run.replicas.push(replica);
    this.persist(slot);
    try {
      await replica.start();
      return true;
    } catch (error) {
      run.replicas = run.replicas.filter((other) => other !== replica);
      await replica.stop();
      return (error as Error).message;
    }
  }

  /** Adds replicas (same version) until the slot has `targetCount`; on failure adds none. */
  private async addReplicas(slot: Slot, run: SlotRun, targetCount: number, signal: AbortSignal): Promise<void> {
    const indexes = freeIndexes(run, targetCount - run.replicas.length);
    const fresh: Replica[] = [];
    // Every port is settled (fixed ones checked) before anything is spawned.
    for (const index of indexes) {
      const port = this.config.ports ? await this.fixedPort(slot, index) : await this.freshPort([...run.replicas, ...fresh]);
      fresh.push(this.newReplica(slot, run.version, index, port));
    }
    run.replicas = [...run.replicas, ...fresh].sort((a, b) => a.spec.index - b.spec.index);
    this.persist(slot); // ports on record before the processes exist
    try {
      for (const replica of fresh) {
        throwIfCancelled(signal, `Starting ${run.version} in ${slot}`);
        await replica.start();
      }
    } catch (error) {
      run.replicas = run.replicas.filter((replica) => !fresh.includes(replica));
      await Promise.all(fresh.map((replica) => replica.stop()));
      this.persist(slot);
      throw error;
    }
  }

  /** Stops the slot's replicas (or, before recovery, the recorded processes) and forgets the slot. */
  private async stopSlot(slot: Slot): Promise<void> {
    const { state } = this.context;
    const run = this.slots.get(slot);
    const { record } = readSlotRecord(state, slot);
    if (!run && !record) return;
    if (record) writeSlotRecord(state, slot, { ...record, stopping: true });
    if (run) await Promise.all(run.replicas.map((replica) => replica.stop()));
    else if (record) await this.stopRecorded(record);
    this.slots.delete(slot);
    clearSlotRecord(state, slot);
  }

  /** Stops processes known only from the record, touching only those provably ours. */
  private async stopRecorded(record: SlotRecord): Promise<void> {
    await Promise.all(
      record.replicas.map(async (replicaRecord) => {
        if (replicaRecord.pid === undefined) return;
        const verdict = decideRecovery(await gatherFacts(replicaRecord));
        if (verdict === "adopt" || verdict === "clean-up-and-start") {
          await terminateGroup(replicaRecord.pid, this.config.stopGrace, this.context.clock);
        }
      }),
    );
  }

  private newReplica(slot: Slot, version: string, index: number, port: number): Replica {
    const { config, context } = this;
    const url = `http://${LOOPBACK}:${port}`;
    const vars = { version, slot, port, replica: index, url };
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(config.env)) env[name] = renderTemplate(value, vars);
    Object.assign(env, { FLIP_SLOT: slot, FLIP_VERSION: version, FLIP_REPLICA: String(index), FLIP_PORT: String(port) });
    const spec = {
      slot,
      index,
      version,
      port,
      command: renderTemplate(config.command, vars),
      cwd: path.resolve(context.configDir, renderTemplate(config.cwd ?? ".", vars)),
      env,
      logPath: replicaLogPath(path.resolve(context.configDir, context.logDir), slot, index),
    };
    return new Replica(spec, {
      clock: context.clock,
      logger: context.logger,
      maxBackoffMs: config.restart.maxBackoff,
      stopGraceMs: config.stopGrace,
      emit: (event) => this.emit(event),
      recordProcess: (replica) => {
        if (this.slots.get(slot)?.replicas.includes(replica)) this.persist(slot);
      },
    });
  }

  /** Base port + replica number, refused up front when something already listens there. */
  private async fixedPort(slot: Slot, index: number): Promise<number> {
    const base = this.config.ports?.[slot] as number;
    const port = base + index;
    const problem = port > 65535 ? "above 65535" : await portBindProblem(port);
    if (problem === undefined) return port;
    const inUse = problem === "EADDRINUSE";
    throw new PlatformError(
      inUse
        ? `port ${port} for ${slot} replica ${index} is already in use: something else listens on ${LOOPBACK}:${port}.`
        : `port ${port} for ${slot} replica ${index} cannot be used: ${problem}.`,
      inUse
        ? `Stop whatever listens there (\`ss -ltnp 'sport = :${port}'\` shows it), change \`platform.ports.${slot}\` in flip.yaml (replica n listens on base + n), or remove \`platform.ports\` to let Flip pick free ports.`
        : `Change \`platform.ports.${slot}\` in flip.yaml, or remove \`platform.ports\` to let Flip pick free ports.`,
    );
  }

  /** A free port not handed to any replica of this platform (the OS may offer one twice). */
  private async freshPort(alsoTaken: Replica[]): Promise<number> {
    const taken = new Set([...this.allReplicas(), ...alsoTaken].map((replica) => replica.spec.port));
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await pickFreePort(LOOPBACK);
      if (!taken.has(port)) return port;
    }
    throw new PlatformError(`Could not find a free port on ${LOOPBACK}.`, "Free some ports, or set `platform.ports` in flip.yaml.");
  }

  /** The recorded port when it is still free, so the replica comes back where it was. */
  private async reusablePort(recordedPort: number, run: SlotRun): Promise<number> {
    const takenHere = this.allReplicas().some((replica) => replica.spec.port === recordedPort);
    if (!takenHere && (await portBindProblem(recordedPort)) === undefined) return recordedPort;
    return this.freshPort(run.replicas);
  }

  private allReplicas(): Replica[] {
    return [...this.slots.values()].flatMap((run) => run.replicas);
  }

  private persist(slot: Slot): void {
    const run = this.slots.get(slot);
    if (!run) return;
    const record: SlotRecord = {
      version: run.version,
      replicas: run.replicas.map((replica) => ({
        replica: replica.spec.index,
        port: replica.spec.port,
        pid: replica.pid,
        startedAt: replica.startedAt,
        processStart: replica.processStart,
      })),
    };
    writeSlotRecord(this.context.state, slot, record);
  }

  private emit(event: PlatformEvent): void {
    emitPlatformEvent(this.context, event);
  }


  private assertOpen(what: string): void {
    if (this.closed) throw new PlatformError(`Cannot ${what}: the process platform has been closed.`);
  }
}

/** The `count` smallest replica numbers not in use in the slot. */
function freeIndexes(run: SlotRun, count: number): number[] {
  const used = new Set(run.replicas.map((replica) => replica.spec.index));
  const indexes: number[] = [];
  for (let index = 0; indexes.length < count; index++) if (!used.has(index)) indexes.push(index);
  return indexes;
}

function throwIfCancelled(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new PlatformError(`${what} was cancelled.`, undefined, { cause: signal.reason });
}
