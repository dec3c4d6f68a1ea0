// A platform whose slots are always there and ready, as with servers or load balancers deployed by
// something else: for engine tests of routers whose data plane is not a local process.
import type { Slot } from "../../src/core/slots.js";
import type { Platform } from "../../src/platforms/platform.js";

export function standInPlatform(): Platform {
  const versions: Partial<Record<Slot, string>> = {};
  return {
    kind: "stand-in",
    recover: () => Promise.resolve(),
    planDeploy: (slot, version) => Promise.resolve([`record ${version} as running in ${slot}`]),
    deploy: (slot, version) => {
      versions[slot] = version;
      return Promise.resolve();
    },
    waitReady: () => Promise.resolve(),
    scale: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    endpoints: (slot) => Promise.resolve([{ slot, replica: 0, host: "127.0.0.1", port: 9, url: "http://127.0.0.1:9" }]),
    describe: (slot) => Promise.resolve({ version: versions[slot], replicas: 1, runningReplicas: 1 }),
    close: () => Promise.resolve(),
  };
}
