// `router: { kind: caddy }`: traffic goes wherever one reverse_proxy handler of a Caddy you run
// points — its `upstreams`, replaced through the admin API (`PATCH /id/<@id>/upstreams`). Caddy's
// running config is the truth for live(); with `probeUrl`, verify() also asks through Caddy which
// slot answers. Debian's Caddy 2.6 has no weighted load balancing: no weights here.
import { formatDuration } from "../../core/duration.js";
import { describeError, EmptySlotError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import { CaddyAdminApi, type ProxyHandler } from "./admin-api.js";
import { sameSet, type CaddyRouterConfig } from "./config.js";
import { describeProbeAnswer, probeSlot, slotOfHeader } from "../slot-probe.js";

/** Keys in context.state: each slot's dial addresses from setTargets, and what Flip last wrote. */
export const TARGETS_STATE_KEY = "targets";
export const WRITTEN_STATE_KEY = "written";

export interface WrittenUpstreams {
  slot: Slot;
  dials: string[];
}

/** What every switch costs with Caddy 2.6, said where a user sees it before switching. */
const RELOAD_NOTE = "Caddy reloads its whole config for any admin API change: connections kept alive by clients are closed, and a request sent on one at that moment fails unless the client retries it";

export class CaddyRouter implements Router {
  readonly kind = "caddy";
  /** verify observes the data plane only through a probe; Caddy 2.6 cannot split traffic by weight. */
  readonly capabilities: RouterCapabilities;
  readonly handlerId: string;
  private readonly admin: CaddyAdminApi;

  constructor(
    private readonly config: CaddyRouterConfig,
    private readonly context: RouterContext,
  ) {
    this.handlerId = config.handlerId ?? context.app;
    this.admin = new CaddyAdminApi(config.adminUrl, this.handlerId, config.timeout);
    this.capabilities = { weights: false, mirror: false, verify: config.probeUrl !== undefined, traffic: false };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Remembers a slot's replicas; when Flip pointed Caddy at that slot and they changed, Caddy follows them. */
  async setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void> {
    if (this.config.slots) return; // the dial addresses are fixed in flip.yaml
    const dials = endpoints.map(dialOf);
    this.context.state.set(TARGETS_STATE_KEY, { ...this.targets(), [slot]: dials });
    const written = this.context.state.get<WrittenUpstreams>(WRITTEN_STATE_KEY);
    if (written?.slot !== slot || sameSet(written.dials, dials)) return;
    const handler = await this.admin.readHandler();
    if (!sameSet(dialsOf(handler), written.dials)) return; // someone else repointed Caddy since: not ours to follow
    if (dials.length === 0) {
      this.context.logger.warn({ slot, handler: this.handlerId }, "the live slot has no replica left; Caddy keeps the upstreams it has");
      return;
    }
    await this.write(slot, dials, handler);
    this.context.logger.info({ slot, upstreams: dials }, "the live slot's replicas changed: Caddy follows them");
  }

  async live(): Promise<Slot | undefined> {
    return this.slotOfDials(dialsOf(await this.admin.readHandler()));
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const dials = this.dialsFor(slot);
    let handler: ProxyHandler;
    try {
      handler = await this.admin.readHandler();
    } catch (error) {
      return [`caddy: replace the upstreams of handler "${this.handlerId}" with ${describeDials(dials)}`, `(could not read the handler to compare: ${describeError(error)})`];
    }
    const current = dialsOf(handler);
    if (dials.length > 0 && sameSet(current, dials)) return [`Caddy's handler "${this.handlerId}" already sends to ${slot} (${current.join(", ")}): no change`];
    if (dials.length === 0) return [`refused: ${slot} has no replica, so Caddy would have no upstream to send it to (now: ${describeDials(current)})`];
    return [
      `caddy: ${this.admin.describeWrite(dials, handler.upstreams !== undefined)} (now: ${describeDials(current)})`,
      `note: ${RELOAD_NOTE}`,
      this.config.probeUrl === undefined
        ? "no probeUrl: verify reads the upstreams back from the admin API only"
        : `then GET ${this.config.probeUrl} (a new connection each time) every ${formatDuration(this.config.pollInterval)} until ${this.config.slotHeader} names ${slot}`,
    ];
  }

  async switchTo(slot: Slot): Promise<void> {
    const dials = this.dialsFor(slot);
    if (dials.length === 0) throw new EmptySlotError(slot, "the platform reports no replica there, so Caddy would have no upstream to send it to");
    const handler = await this.admin.readHandler();
    const current = dialsOf(handler);
    const from = this.slotOfDials(current);
    if (sameSet(current, dials)) {
      this.context.logger.debug({ slot, upstreams: current }, "switch skipped: Caddy's handler already sends to this slot");
      return;
    }
    await this.write(slot, dials, handler);
    this.context.logger.info({ from, to: slot, handler: this.handlerId, upstreams: dials }, "traffic switched: Caddy runs the new upstreams");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /** Caddy's handler must send to `slot`; with a probe, a request through Caddy must then be answered by it. */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const current = dialsOf(await this.admin.readHandler());
    if (this.slotOfDials(current) !== slot) {
      throw new TimeoutError(
        `Caddy's handler "${this.handlerId}" sends to ${describeDials(current)}, not to ${slot}.`,
        `Something other than this deployment changed Caddy's config (a \`caddy reload\` of the original file?), or the switch did not happen; \`flip switch ${slot}\` points it again.`,
      );
    }
    const probeUrl = this.config.probeUrl;
    if (probeUrl === undefined) return;
    const clock = this.context.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const answer = await probeSlot(probeUrl, this.config.slotHeader, this.config.timeout);
      if (answer.reached && slotOfHeader(answer.header, this.dialsBySlot()) === slot) return;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) {
        throw new TimeoutError(
          `Caddy did not answer from ${slot} within ${formatDuration(timeoutMs)}: ${probeUrl} last answered ${describeProbeAnswer(answer, this.config.slotHeader)}.`,
          `The probe needs ${this.config.slotHeader} on Caddy's answers: the app can set it to its slot, or the handler can, with "headers": {"response": {"set": {"${this.config.slotHeader}": ["{http.reverse_proxy.upstream.hostport}"]}}}.`,
        );
      }
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  async close(): Promise<void> {
    // Nothing is kept open: every admin call and probe uses its own connection.
  }

  private async write(slot: Slot, dials: string[], handler: ProxyHandler): Promise<void> {
    await this.admin.writeUpstreams(dials, handler.upstreams !== undefined);
    this.context.state.set(WRITTEN_STATE_KEY, { slot, dials } satisfies WrittenUpstreams);
  }

  private targets(): Partial<Record<Slot, string[]>> {
    return this.context.state.get<Partial<Record<Slot, string[]>>>(TARGETS_STATE_KEY) ?? {};
  }

  private dialsBySlot(): Partial<Record<Slot, readonly string[]>> {
    return this.config.slots ?? this.targets();
  }

  private dialsFor(slot: Slot): string[] {
    return [...(this.dialsBySlot()[slot] ?? [])];
  }

  /**
   * The slot whose addresses Caddy sends to. When a slot's replicas moved (setTargets) but Caddy
   * still runs what Flip last wrote for it, that is still the slot.
   */
  private slotOfDials(current: readonly string[]): Slot | undefined {
    if (current.length === 0) return undefined;
    const bySlot = this.dialsBySlot();
    const slot = SLOTS.find((candidate) => sameSet(bySlot[candidate] ?? [], current));
    if (slot) return slot;
    const written = this.context.state.get<WrittenUpstreams>(WRITTEN_STATE_KEY);
    return written && sameSet(written.dials, current) ? written.slot : undefined;
  }
}

/** Caddy's dial address for a replica: host:port, an IPv6 host in brackets. */
export function dialOf(endpoint: Endpoint): string {
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function dialsOf(handler: ProxyHandler): string[] {
  return (handler.upstreams ?? []).map((upstream) => upstream.dial ?? "").filter((dial) => dial !== "");
}

function describeDials(dials: readonly string[]): string {
  return dials.length === 0 ? "no upstream" : dials.join(", ");
}
