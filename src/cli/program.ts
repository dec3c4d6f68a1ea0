// The `flip` command line: commander wiring only. Each command lives in its own file and returns
// its exit code; every error ends here and is printed by reportError (never as a stack trace).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { abortCommand } from "./abort.js";
import { contractCommand } from "./contract.js";
import { deployCommand } from "./deploy.js";
import { historyCommand } from "./history.js";
import { initCommand } from "./init.js";
import type { CliIo } from "./io.js";
import { promoteCommand } from "./promote.js";
import { retireCommand } from "./retire.js";
import { reportError } from "./report.js";
import { rollbackCommand } from "./rollback.js";
import { serveCommand } from "./serve.js";
import { statusCommand } from "./status.js";
import { switchCommand } from "./switch.js";
import { validateCommand } from "./validate.js";

/** Runs `flip <argv>` and resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    // Usage errors and --help/--version: commander has already printed what to say.
    if (error instanceof CommanderError) return error.exitCode;
    return reportError(error, io);
  }
}

function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command("flip")
    .description("Blue-green deployments with a safety net: deploy to the idle slot, test it, flip traffic in one step, watch it, flip back.")
    .version(packageVersion(), "-V, --version")
    .showHelpAfterError("(run `flip --help` for the commands)")
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  program.addHelpText(
    "after",
    "\nExit codes: 0 success, 1 error, 2 aborted before the switch (traffic untouched), 3 rolled back, 130 stopped watching (Ctrl-C, then d).\nEnvironment: FLIP_CONFIG, FLIP_SERVER, FLIP_TOKEN, NO_COLOR.",
  );
  const run = async (command: Promise<number>): Promise<void> => setExitCode(await command);

  withConfig(program.command("init").description("write a commented starter flip.yaml"))
    .option("--app <name>", "the app's name (default: the folder's name)")
    .option("-f, --force", "replace an existing file")
    .action((options: { config?: string; app?: string; force?: boolean }) => run(initCommand(options, io)));

  withConfig(program.command("validate").description("check flip.yaml and say what it describes")).action((options: { config?: string }) =>
    run(validateCommand(options, io)),
  );

  withConfig(program.command("serve").description("run the controller: proxy, deploy engine and control API")).action((options: { config?: string }) =>
    run(serveCommand(options, io)),
  );

  withConnection(program.command("deploy").argument("<version>", "what to deploy: an image tag, a release name, a git sha").description("deploy a version to the idle slot, check it, switch traffic, watch it"))
    .option("--force", "switch even without checks configured")
    .option("--dry-run", "print the changes the deployment would make, and make none")
    .option("--now", "switch without waiting for a switch window or a quieter live slot (recorded in the audit log)")
    .option("--json", JSON_PROGRESS)
    .action((version: string, options: { config?: string; server?: string; force?: boolean; dryRun?: boolean; now?: boolean; json?: boolean }) => run(deployCommand(version, options, io)));

  withConnection(program.command("switch").argument("<slot>", "blue or green").description("send traffic to a slot that already runs a version"))
    .option("--force", "switch without running the checks first")
    .option("--json", JSON_PROGRESS)
    .action((slot: string, options: { config?: string; server?: string; force?: boolean; json?: boolean }) => run(switchCommand(slot, options, io)));

  withConnection(program.command("rollback").description("flip traffic back to the standby slot"))
    .option("--force", "roll back even to a standby whose last deployment failed, or past a contracted database schema (risky: see the refusal)")
    .option("--json", JSON_PROGRESS)
    .action((options: { config?: string; server?: string; force?: boolean; json?: boolean }) => run(rollbackCommand(options, io)),
  );

  withConnection(program.command("contract").description("run the database contract (migrations.contract) once no rollback target runs the previous version"))
    .option("--json", JSON_PROGRESS)
    .action((options: { config?: string; server?: string; json?: boolean }) => run(contractCommand(options, io)));

  withConnection(program.command("abort").description("stop the running deployment (traffic untouched before the switch, flipped back after)")).action(
    (options: { config?: string; server?: string }) => run(abortCommand(options, io)),
  );

  withConnection(program.command("promote").description("end the running deployment's monitor window now, as a success")).action((options: { config?: string; server?: string }) =>
    run(promoteCommand(options, io)),
  );

  withConnection(program.command("retire").description("stop the standby now instead of at retire.retireAfter (a rollback then redeploys it, not instantly)"))
    .option("--json", "print what was stopped as JSON")
    .action((options: { config?: string; server?: string; json?: boolean }) => run(retireCommand(options, io)));

  withConnection(program.command("status").description("show the live slot, both slots and the running deployment"))
    .option("--json", "print the status as JSON")
    .action((options: { config?: string; server?: string; json?: boolean }) => run(statusCommand(options, io)));

  withConnection(program.command("history").description("list past deployments, newest first"))
    .option("--json", "print the deployments as JSON")
    .option("-n, --limit <n>", "how many (1 to 1000, default 50)", parseLimit)
    .action((options: { config?: string; server?: string; json?: boolean; limit?: number }) => run(historyCommand(options, io)));

  return program;
}

const JSON_PROGRESS = "print the progress as JSON, one object per line: each event, then the summary";

function withConfig(command: Command): Command {
  return command.option("-c, --config <file>", "the Flip config (env FLIP_CONFIG, default ./flip.yaml)");
}

function withConnection(command: Command): Command {
  return withConfig(command).option("--server <url>", "the flip serve to talk to (env FLIP_SERVER, default: control.listen in the config)");
}

function parseLimit(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new InvalidArgumentError("expected a whole number from 1 to 1000.");
  return value;
}

/** The version in package.json, found by walking up (the CLI runs from src/ in tests, dist/src/ installed). */
function packageVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(folder, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "flip-deploy" && pkg.version) return pkg.version;
    }
    const parent = dirname(folder);
    if (parent === folder) return "unknown";
    folder = parent;
  }
}
