// `flip init`: writes a commented starter flip.yaml, named after the folder it lives in.
import { basename, dirname, resolve } from "node:path";
import { writeStarterConfig } from "../config/starter.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import { configFileOf, DEFAULT_CONFIG_FILE } from "./target.js";

export interface InitOptions {
  config?: string;
  app?: string;
  force?: boolean;
}

export async function initCommand(options: InitOptions, io: CliIo): Promise<number> {
  const file = configFileOf(options, io.env);
  // Like `npm init`: the folder's name is the best guess for the app's name.
  const app = options.app ?? basename(dirname(resolve(file)));
  await writeStarterConfig(file, { app, ...(options.force ? { force: true } : {}) });
  const colors = colorsFor(io);
  const flag = file === DEFAULT_CONFIG_FILE ? "" : ` -c ${file}`;
  println(io.stdout, `${colors.green("✓")} wrote ${file}`);
  println(io.stdout, `Next: edit it for your app, check it with \`flip validate${flag}\`, then start Flip with \`flip serve${flag}\`.`);
  return 0;
}
