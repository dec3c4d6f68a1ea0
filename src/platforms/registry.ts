// Maps `platform.kind` to its driver. Adding a platform = a folder + one line here + one in schemas.ts.
import type { FlipConfig } from "../config/schema.js";
import type { Platform, PlatformContext } from "./platform.js";
import { ProcessPlatform } from "./process/process-platform.js";
import { CommandPlatform } from "./command/command-platform.js";
import { StaticPlatform } from "./static/static-platform.js";
import type { PlatformConfig } from "./schemas.js";
import { KubernetesPlatform } from "./kubernetes/kubernetes-platform.js";

type Factories = {
  [K in PlatformConfig["kind"]]: (section: Extract<PlatformConfig, { kind: K }>, config: FlipConfig, context: PlatformContext) => Platform;
};

const factories: Factories = {
  process: (section, config, context) => new ProcessPlatform(section, context, { readinessPath: firstHttpCheckPath(config) }),
  command: (section, _config, context) => new CommandPlatform(section, context),
  static: (section, _config, context) => new StaticPlatform(section, context),
  kubernetes: (section, _config, context) => new KubernetesPlatform(section, context),
};

export function createPlatform(config: FlipConfig, context: PlatformContext): Platform {
  const section = config.platform;
  const create = factories[section.kind] as (section: PlatformConfig, config: FlipConfig, context: PlatformContext) => Platform;
  return create(section, config, context);
}

/** Readiness defaults to the first http check: "ready" means the smoke test could start. */
function firstHttpCheckPath(config: FlipConfig): string | undefined {
  return config.checks.find((check) => check.http)?.http?.path;
}
