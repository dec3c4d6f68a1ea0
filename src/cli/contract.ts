// `flip contract`: runs the database contract (migrations.contract in flip.yaml) for the live
// version, then follows it like a deployment. flip serve refuses it, saying why, while a rollback
// target still runs the previous version. Exit code 0 when it ran, 1 when it failed or was refused.
import type { CliIo } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";
import type { WatchOptions } from "./watch.js";
import { watchDeployment } from "./watch.js";

export async function contractCommand(options: ConnectionOptions & { json?: boolean }, io: CliIo, watch?: WatchOptions): Promise<number> {
  const client = await connect(options, io);
  try {
    const started = await client.contract();
    return await watchDeployment(client, started, io, { ...watch, json: options.json });
  } finally {
    await client.close();
  }
}
