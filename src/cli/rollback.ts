// `flip rollback`: flips traffic back to the standby slot (no version needed), then follows it.
import type { CliIo } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";
import type { WatchOptions } from "./watch.js";
import { watchDeployment } from "./watch.js";

export async function rollbackCommand(options: ConnectionOptions & { force?: boolean; json?: boolean }, io: CliIo, watch?: WatchOptions): Promise<number> {
  const client = await connect(options, io);
  try {
    const started = await client.rollback(options.force ?? false);
    return await watchDeployment(client, started, io, { ...watch, json: options.json });
  } finally {
    await client.close();
  }
}
