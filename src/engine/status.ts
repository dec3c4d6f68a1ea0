// `flip status` / GET /api/status: which slot is live (the router's word), what each slot runs
// (the store's record and the platform's replicas), what is scheduled for a standby, and the
// running deployment.
import { SLOTS, type Slot } from "../core/slots.js";
import type { EngineDeps } from "./deps.js";
import { summarize, type SlotView, type StatusView } from "./views.js";

export async function readStatus(deps: EngineDeps): Promise<StatusView> {
  const { store, platform, router, config } = deps;
  const live = await router.live();
  const slots = {} as Record<Slot, SlotView>;
  for (const slot of SLOTS) {
    const record = store.slot(slot);
    const runtime = await platform.describe(slot);
    const scheduled = store.standby.pending().filter((action) => action.slot === slot);
    slots[slot] = {
      slot,
      version: record.version,
      state: live === slot ? "live" : record.state,
      replicas: runtime.replicas,
      runningReplicas: runtime.runningReplicas,
      ...(scheduled.length > 0 ? { scheduled: scheduled.map((action) => ({ action: action.action, at: new Date(action.dueAt).toISOString() })) } : {}),
    };
  }
  const running = store.runningDeployment();
  return {
    app: config.app,
    live,
    slots,
    deployment: running ? summarize(running) : undefined,
    router: { kind: router.kind, ...router.listenAddresses?.() },
    platform: { kind: platform.kind },
  };
}
