// `flip validate`: loads flip.yaml exactly as `flip serve` would and says what it describes, or
// lists every problem with its line (through the ConfigError the loader throws).
import { loadConfig } from "../config/load.js";
import type { FlipConfig } from "../config/schema.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import { configFileOf } from "./target.js";

export async function validateCommand(options: { config?: string }, io: CliIo): Promise<number> {
  const file = configFileOf(options, io.env);
  const config = await loadConfig(file, { env: io.env });
  println(io.stdout, `${colorsFor(io).green("✓")} ${describeConfig(file, config)}`);
  return 0;
}

/** "flip.yaml is valid: app hello, platform process, router builtin, 3 checks" */
export function describeConfig(file: string, config: FlipConfig): string {
  const checks = config.checks.length;
  return `${file} is valid: app ${config.app}, platform ${config.platform.kind}, router ${config.router.kind}, ${checks} check${checks === 1 ? "" : "s"}`;
}
