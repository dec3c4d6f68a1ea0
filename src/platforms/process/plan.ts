// `flip deploy --dry-run` for the process platform: the exact processes a deploy would stop and
// start, with their commands, folders, environment and ports. Pure: it makes no change.
import path from "node:path";
import { formatDuration } from "../../core/duration.js";
import type { Slot } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";
import type { ProcessPlatformConfig } from "./config.js";

export interface RunningSlot {
  version: string | undefined;
  pids: number[];
}

export function describeProcessDeploy(config: ProcessPlatformConfig, configDir: string, slot: Slot, version: string, running: RunningSlot): string[] {
  const changes: string[] = [];
  if (running.pids.length > 0) {
    changes.push(
      `stop ${slot} (${running.version ?? "unknown version"}): SIGTERM to the process groups of pid ${running.pids.join(", ")}, SIGKILL after ${formatDuration(config.stopGrace)}`,
    );
  } else {
    changes.push(`nothing runs in ${slot}: nothing to stop`);
  }
  for (let replica = 0; replica < config.replicas; replica++) {
    const base = config.ports?.[slot];
    const port = base === undefined ? "{port}" : base + replica;
    const vars = { version, slot, replica, ...(typeof port === "number" ? { port } : {}) };
    const env = Object.entries(config.env).map(([name, value]) => `${name}=${renderTemplate(value, vars)}`);
    changes.push(
      `start replica ${replica}: /bin/sh -c ${JSON.stringify(renderTemplate(config.command, vars))} in ${path.resolve(configDir, renderTemplate(config.cwd ?? ".", vars))}` +
        `${env.length > 0 ? ` with ${env.join(" ")}` : ""} on ${typeof port === "number" ? `port ${port}` : "a free loopback port ({port})"}`,
    );
  }
  return changes;
}
