// `flip history`: past deployments, newest first, as a table (outcomes coloured on a terminal) or
// as JSON for scripts.
import type { DeploymentSummary } from "../engine/views.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import { colorOutcome, formatElapsed, formatTable, formatTimestamp, jsonWithNulls, truncate } from "./output.js";
import type { Colors } from "./output.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";

export interface HistoryOptions extends ConnectionOptions {
  json?: boolean;
  limit?: number;
}

export async function historyCommand(options: HistoryOptions, io: CliIo): Promise<number> {
  const client = await connect(options, io);
  try {
    const deployments = await client.history(options.limit);
    if (options.json) println(io.stdout, JSON.stringify(deployments.map((d) => jsonWithNulls(d, ["fromSlot", "reason", "finishedAt", "durationMs"])), null, 2));
    else for (const line of formatHistory(deployments, colorsFor(io))) println(io.stdout, line);
    return 0;
  } finally {
    await client.close();
  }
}

const REASON_WIDTH = 60;

export function formatHistory(deployments: readonly DeploymentSummary[], colors: Colors): string[] {
  if (deployments.length === 0) return [colors.dim("no deployments yet — `flip deploy <version>` starts one")];
  const rows = deployments.map((d) => [
    d.id,
    d.kind,
    d.version,
    d.slot,
    colorOutcome(d.outcome, colors),
    truncate(d.reason ?? "", REASON_WIDTH),
    formatTimestamp(d.startedAt),
    formatElapsed(d.durationMs),
  ]);
  return formatTable(["ID", "KIND", "VERSION", "SLOT", "OUTCOME", "REASON", "STARTED", "DURATION"], rows, colors);
}
