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
  /** Switch without waiting for a switch window or a quieter live slot (audited by the server). */
  now?: boolean;
  /** One JSON object per line: each event, then the summary (with --dry-run: the plan). */
  json?: boolean;
}

export async function deployCommand(version: string, options: DeployOptions, io: CliIo, watch?: WatchOptions): Promise<number> {
  const client = await connect(options, io);
  try {
    if (options.dryRun) {
      const plan = await client.planDeploy(version, options.force ?? false);
      io.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : planText(plan));
      return 0;
    }
    const started = await client.deploy(version, options.force ?? false, options.now ?? false);
    return await watchDeployment(client, started, io, { ...watch, json: options.json });
  } finally {
    await client.close();
  }
}
