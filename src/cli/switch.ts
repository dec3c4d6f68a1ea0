// `flip switch <blue|green>`: points traffic at a slot that already runs a version (after its
// checks, unless --force), then follows it like a deploy.
import { BadRequestError } from "../core/errors.js";
import { isSlot } from "../core/slots.js";
import type { CliIo } from "./io.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";
import type { WatchOptions } from "./watch.js";
import { watchDeployment } from "./watch.js";

export interface SwitchOptions extends ConnectionOptions {
  force?: boolean;
  json?: boolean;
}

export async function switchCommand(slot: string, options: SwitchOptions, io: CliIo, watch?: WatchOptions): Promise<number> {
  if (!isSlot(slot)) throw new BadRequestError(`"${slot}" is not a slot.`, "Use `flip switch blue` or `flip switch green`.");
  const client = await connect(options, io);
  try {
    const started = await client.switchTo(slot, options.force ?? false);
    return await watchDeployment(client, started, io, { ...watch, json: options.json });
  } finally {
    await client.close();
  }
}
