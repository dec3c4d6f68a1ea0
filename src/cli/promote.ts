// `flip promote`: ends the running deployment's monitor window early, as a success.
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";

export async function promoteCommand(options: ConnectionOptions, io: CliIo): Promise<number> {
  const client = await connect(options, io);
  try {
    const deployment = await client.promote();
    println(io.stdout, `${colorsFor(io).green("✓")} promoted deployment ${deployment.id} (${deployment.version} on ${deployment.slot}): monitoring ends now, as a success.`);
    return 0;
  } finally {
    await client.close();
  }
}
