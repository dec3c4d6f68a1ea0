// `flip serve`: runs the controller (proxy, engine, control API) in the foreground until SIGINT or
// SIGTERM, then closes it — draining traffic and stopping the replicas — and exits 0. A second
// Ctrl-C while closing quits at once.
import { loadConfig } from "../config/load.js";
import type { FlipConfig } from "../config/schema.js";
import type { Controller } from "../controller.js";
import { startController } from "../controller.js";
import { createLogger } from "../logging.js";
import type { Logger } from "../logging.js";
import type { CliIo, StopSignal } from "./io.js";
import { colorsFor, println } from "./io.js";
import type { Colors } from "./output.js";
import { reportError } from "./report.js";
import { configFileOf } from "./target.js";
import { EXIT_INTERRUPTED } from "./watch.js";

export interface ServeDeps {
  startController: (config: FlipConfig, options: { logger: Logger }) => Promise<Pick<Controller, "apiAddress" | "proxyAddresses" | "close">>;
  createLogger: () => Logger;
}

const defaultDeps: ServeDeps = { startController, createLogger: () => createLogger() };

export async function serveCommand(options: { config?: string }, io: CliIo, deps: ServeDeps = defaultDeps): Promise<number> {
  const file = configFileOf(options, io.env);
  const config = await loadConfig(file, { env: io.env });
  const controller = await deps.startController(config, { logger: deps.createLogger() });
  const colors = colorsFor(io);
  for (const line of describeServing(config, controller, colors)) println(io.stdout, line);

  return new Promise<number>((resolve) => {
    let closing = false;
    const onStop = (signal: StopSignal) => {
      if (closing) {
        if (signal === "SIGINT") {
          println(io.stderr, "second Ctrl-C: quitting now; replicas may be left running (the next `flip serve` adopts them)");
          io.exit(EXIT_INTERRUPTED);
        }
        return;
      }
      closing = true;
      println(io.stdout, `${signal}: draining traffic and stopping the replicas… ${colors.dim("(Ctrl-C again quits at once)")}`);
      controller.close().then(
        () => {
          removeHandlers();
          println(io.stdout, "flip serve stopped.");
          resolve(0);
        },
        (error: unknown) => {
          removeHandlers();
          resolve(reportError(error, io));
        },
      );
    };
    const handlers = [io.onSignal("SIGINT", () => onStop("SIGINT")), io.onSignal("SIGTERM", () => onStop("SIGTERM"))];
    const removeHandlers = () => handlers.forEach((remove) => remove());
  });
}

export function describeServing(config: FlipConfig, controller: Pick<Controller, "apiAddress" | "proxyAddresses">, colors: Colors): string[] {
  const lines = [`${colors.green("●")} flip serve: ${colors.bold(config.app)} ${colors.dim(`(platform ${config.platform.kind}, router ${config.router.kind})`)}`];
  const { listen, preview } = controller.proxyAddresses;
  if (listen) lines.push(`  traffic  http://${listen}`);
  if (preview) lines.push(`  preview  http://${preview}  ${colors.dim("(the idle slot)")}`);
  lines.push(`  API      http://${controller.apiAddress}`);
  lines.push(colors.dim("Ctrl-C stops it: drains traffic and stops the replicas."));
  return lines;
}
