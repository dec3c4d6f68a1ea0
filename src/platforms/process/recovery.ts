// After `flip serve` restarts (say after kill -9), each recorded replica is either adopted or
// started again. The decision is a pure function of what the OS says about the recorded pid; the
// facts are gathered here too, and the platform acts on the verdict.
import { isProcessAlive, groupHasLiveMembers, processStartTime } from "./process-group.js";
import { LOOPBACK, probeTcp } from "./ports.js";
import type { ReplicaRecord } from "./slot-record.js";

export interface RecordedProcessFacts {
  /** A pid was recorded (it is absent when the controller died between persisting and spawning). */
  recorded: boolean;
  /** A non-zombie process with that pid exists. */
  alive: boolean;
  /** Start time now vs. recorded: "same", "different" (the pid was reused), or "unknown". */
  startTime: "same" | "different" | "unknown";
  /** Something accepts TCP connections on the recorded port. */
  portAnswers: boolean;
  /** The recorded leader is dead but processes of its group are left (a wrapper's children). */
  leftoverGroup: boolean;
}

export type RecoveryVerdict =
  /** Ours and serving: watch it. */
  | "adopt"
  /** Nothing of ours runs: start the replica again. */
  | "start"
  /** Ours, but dead or not serving: stop what is left of its group, then start again. */
  | "clean-up-and-start"
  /** The pid now belongs to someone else, or cannot be proven ours: leave it alone, start ours. */
  | "leave-foreign-and-start";

export function decideRecovery(facts: RecordedProcessFacts): RecoveryVerdict {
  if (!facts.recorded) return "start";
  if (!facts.alive) return facts.leftoverGroup ? "clean-up-and-start" : "start";
  if (facts.startTime === "different") return "leave-foreign-and-start";
  if (facts.portAnswers) return "adopt";
  // Alive and not serving: only kill it when its start time proves it is the process we started.
  return facts.startTime === "same" ? "clean-up-and-start" : "leave-foreign-and-start";
}

const PORT_CHECK_TIMEOUT_MS = 1_000;

export async function gatherFacts(record: ReplicaRecord, signal?: AbortSignal): Promise<RecordedProcessFacts> {
  const pid = record.pid;
  if (pid === undefined) return { recorded: false, alive: false, startTime: "unknown", portAnswers: false, leftoverGroup: false };
  const alive = isProcessAlive(pid);
  const nowStart = alive ? processStartTime(pid) : undefined;
  const startTime = record.processStart === undefined || nowStart === undefined ? "unknown" : nowStart === record.processStart ? "same" : "different";
  const portAnswers = alive && (await probeTcp(LOOPBACK, record.port, PORT_CHECK_TIMEOUT_MS, signal)).ok;
  // While any member of a group lives, Linux does not hand its number out again as a pid, so a
  // group still alive under a dead leader's pid is what our replica left behind.
  const leftoverGroup = !alive && groupHasLiveMembers(pid);
  return { recorded: true, alive, startTime, portAnswers, leftoverGroup };
}
