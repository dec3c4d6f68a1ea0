// `flip retire`: stops the standby now instead of at retire.retireAfter — before `flip contract`,
// or to stop paying for it. A rollback afterwards redeploys its version through the full flow.
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";

export async function retireCommand(options: ConnectionOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const client = await connect(options, io);
  try {
    const retired = await client.retire();
    if (options.json) {
      println(io.stdout, JSON.stringify(retired));
      return 0;
    }
    println(io.stdout, `${colorsFor(io).green("✓")} retired standby ${retired.slot} (${retired.version}): stopped.`);
    println(io.stdout, `  A rollback to ${retired.version} now redeploys it through the full flow, which is not instant.`);
    return 0;
  } finally {
    await client.close();
  }
}
