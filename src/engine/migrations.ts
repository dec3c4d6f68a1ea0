// Expand/contract for a database both slots share (`migrations:`). Expand runs before the new
// version is deployed, so old and new both work with the schema; contract runs only once no slot
// running the previous version can get traffic, and after it a rollback to an older version is
// refused. The commands run through the command platform's shell runner (own process group, output
// line by line into the deployment log, stopped at the timeout); each run is recorded in the store.
import { systemClock } from "../core/clock.js";
import { formatDuration } from "../core/duration.js";
import { renderTemplate } from "../core/template.js";
import type { Slot, SlotState } from "../core/slots.js";
import { quoteTail, runShell, shellQuote } from "../platforms/command/shell.js";
import type { DatabaseMigration, MigrationKind } from "../store/database-migrations.js";
import type { Store } from "../store/store.js";
import type { EngineDeps } from "./deps.js";
import type { Run } from "./run.js";
import type { Steps } from "./steps.js";

/** Between SIGTERM and SIGKILL for a migration past its timeout. */
const KILL_GRACE_MS = 10_000;

export type MigrationOutcome = { ok: true } | { ok: false; message: string };

/**
 * Runs migrations.expand or migrations.contract for `version`, recording it before it starts and
 * how it ended. A `flip abort` stops it and rejects with the abort's reason.
 */
export async function runDatabaseMigration(deps: EngineDeps, run: Run, steps: Steps, kind: MigrationKind, version: string, previousVersion: string | undefined): Promise<MigrationOutcome> {
  const { config, store } = deps;
  const template = config.migrations?.[kind];
  if (template === undefined) return { ok: true };
  const command = renderTemplate(template, { version: shellQuote(version), previousVersion: shellQuote(previousVersion ?? ""), app: shellQuote(config.app) });
  const record = store.databaseMigrations.begin({ deploymentId: run.id, kind, version, previousVersion, command });
  steps.log(`${kind}: ${command}`);
  const timeoutMs = config.migrations?.timeout ?? 600_000;
  const outcome = await runShell({
    command,
    cwd: config.dir,
    env: { ...process.env, FLIP_APP: config.app, FLIP_VERSION: version, FLIP_PREVIOUS_VERSION: previousVersion ?? "", FLIP_MIGRATION: kind },
    timeoutMs,
    killGraceMs: KILL_GRACE_MS,
    // Real time: the timeout bounds a real process, as a check's does, whatever clock the engine runs on.
    clock: systemClock,
    signal: run.signal,
    onLine: (line) => steps.log(`${kind}: ${line}`),
  });
  const output = outcome.tail.join("\n");
  if (outcome.kind === "cancelled") {
    store.databaseMigrations.finish(record.id, { ok: false, message: "stopped (the deployment was aborted)", output });
    throw run.signal.reason;
  }
  if (outcome.kind === "exited" && outcome.code === 0) {
    store.databaseMigrations.finish(record.id, { ok: true, message: "exited 0", output });
    return { ok: true };
  }
  const why =
    outcome.kind === "exited"
      ? `exited with code ${outcome.code}`
      : outcome.kind === "timed-out"
        ? `timed out after ${formatDuration(timeoutMs)} and was stopped`
        : outcome.kind === "killed"
          ? `was killed by ${outcome.signal}`
          : `could not start: ${outcome.message}`;
  store.databaseMigrations.finish(record.id, { ok: false, message: why, output });
  return { ok: false, message: `${kind} \`${command}\` ${why}\n${quoteTail(outcome.tail, 5)}` };
}

/** A reason `flip contract` must not run now, with what to do, or undefined when it may. Pure. */
export function contractBlocker(input: {
  liveVersion: string | undefined;
  standby: { slot: Slot; version: string | undefined; state: SlotState };
  /** When the standby is due to be retired, if that is scheduled. */
  retireAt: string | undefined;
}): { message: string; hint: string } | undefined {
  const { liveVersion, standby, retireAt } = input;
  if (liveVersion === undefined) return { message: "Nothing is live, so there is no version to contract the schema for.", hint: "Deploy a version first." };
  // A rollback target: `flip rollback` would send traffic to it (after scaling it back up, if scaled down).
  const target = standby.state === "standby" || standby.state === "scaled-down";
  if (!target || standby.version === undefined || standby.version === liveVersion) return undefined;
  return {
    message:
      `Contract refused: standby ${standby.slot} still runs ${standby.version}${standby.state === "scaled-down" ? " (scaled down)" : ""}, and \`flip rollback\` would send traffic to it. ` +
      `The contract for ${liveVersion} removes what ${standby.version} needs, so after it every request ${standby.version} served could fail.`,
    hint:
      `Retire the standby first with \`flip retire\`${retireAt ? ` (or wait until it is retired at ${retireAt})` : ""}, then run \`flip contract\`` +
      `, or deploy ${liveVersion} to ${standby.slot} too, so that no slot runs ${standby.version}.`,
  };
}

/**
 * Whether `version` passed its checks on its way to traffic after `contract` ran: a deployment newer
 * than the contract's installed it (a deploy, or a rollback that redeployed and checked it) and
 * reached the switch. Deployments are compared by their order in the history, not their clocks.
 */
export function checkedAfter(store: Store, version: string, contract: DatabaseMigration): boolean {
  for (const record of store.listDeployments({ limit: 1000 })) {
    if (record.id === contract.deploymentId) return false; // reached the contract: nothing newer checked it
    if (record.version !== version || (record.kind !== "deploy" && record.kind !== "rollback")) continue;
    const phases = store.phasesOf(record.id).map((phase) => phase.phase);
    if (phases.includes("switching") && phases.includes("checking")) return true;
  }
  return false;
}

/**
 * Why a rollback to `version` is refused because of a contract, or undefined. A contract for another
 * version, run after `version` last passed its checks, may have removed what it needs. Pure.
 */
export function contractedSchemaRefusal(version: string, contract: DatabaseMigration | undefined, checkedSince: boolean): string | undefined {
  if (!contract || contract.version === version || contract.finishedAt === undefined || checkedSince) return undefined;
  return (
    `Rolling back to ${version} is refused: the database schema was contracted for ${contract.version} at ${new Date(contract.finishedAt).toISOString()} ` +
    `(${contract.deploymentId}: \`${contract.command}\`), after ${version} last passed its checks. ` +
    `${version} may need what the contract removed (a dropped column, say), and every request it served could fail.`
  );
}
