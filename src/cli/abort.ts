// `flip abort`: stops the running deployment. Before the switch it ends as aborted with traffic
// untouched; after it, traffic flips back. Returns as soon as the engine has the request — the
// deployment's own watcher (`flip deploy`) shows the end.
import { isBeforeSwitch } from "../core/phases.js";
import type { DeploymentSummary } from "../engine/views.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import type { Colors } from "./output.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";

export async function abortCommand(options: ConnectionOptions, io: CliIo): Promise<number> {
  const client = await connect(options, io);
  try {
    const deployment = await client.abort();
    for (const line of describeAbort(deployment, colorsFor(io))) println(io.stdout, line);
    return 0;
  } finally {
    await client.close();
  }
}

export function describeAbort(deployment: DeploymentSummary, colors: Colors): string[] {
  const what = `${deployment.kind} ${deployment.version} to ${deployment.slot}`;
  const next = isBeforeSwitch(deployment.phase)
    ? "It stops before traffic moves and ends as aborted."
    : `Traffic flips back${deployment.fromSlot ? ` to ${deployment.fromSlot}` : ""}; it ends as rolled back.`;
  return [`${colors.yellow("■")} abort requested for deployment ${deployment.id} (${what}, during ${deployment.phase}).`, `  ${next} \`flip status\` shows where it is.`];
}
