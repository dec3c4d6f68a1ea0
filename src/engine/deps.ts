// What the engine is built from. It knows drivers only through these interfaces.
import type { Clock } from "../core/clock.js";
import type { FlipConfig } from "../config/schema.js";
import type { Logger } from "../logging.js";
import type { MetricsSource } from "../metrics/source.js";
import type { Platform } from "../platforms/platform.js";
import type { Router } from "../routers/router.js";
import type { Store } from "../store/store.js";

export interface EngineDeps {
  config: FlipConfig;
  store: Store;
  platform: Platform;
  router: Router;
  /** Where the monitor reads traffic; undefined → monitoring is skipped with a logged reason. */
  metrics: MetricsSource | undefined;
  clock: Clock;
  logger: Logger;
}
