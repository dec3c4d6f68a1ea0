// `flip deploy <version>`: asks flip serve to deploy, then follows the deployment to its end.
// The exit code is the outcome's: 0 succeeded, 2 aborted (traffic untouched), 3 rolled back, 1 failed.
import type { CliIo } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";
import type { WatchOptions } from "./watch.js";
import { planText } from "./progress.js";
import { watchDeployment } from "./watch.js";

export interface DeployOptions extends ConnectionOptions {
  force?: boolean;
  dryRun?: boolean;
}

export async function deployCommand(version: string, options: DeployOptions, io: CliIo, watch?: WatchOptions): Promise<number> {
  const client = await connect(options, io);
  try {
    if (options.dryRun) {
      io.stdout.write(planText(await client.planDeploy(version, options.force ?? false)));
      return 0;
    }
    const started = await client.deploy(version, options.force ?? false);
    return await watchDeployment(client, started, io, watch);
  } finally {
    await client.close();
  }
}
