// `router: { kind: caddy }`: traffic goes wherever one reverse_proxy handler of a Caddy you run
// points — its `upstreams`, replaced through the admin API (`PATCH /id/<@id>/upstreams`), or with
// `srv`, the SRV record its dynamic upstreams read (upstreams.ts has both). Where Flip writes is
// the truth for live(); with `probeUrl`, verify() also asks through Caddy which slot answers.
// Debian's Caddy 2.6 has no weighted load balancing: no weights here.
import { formatDuration } from "../../core/duration.js";
import { describeError, EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import { resolve } from "node:path";
import { AccessLogCounters, parseCaddyLine, type CaddyLine } from "../access-log.js";
import { describeFileError } from "../file-common/atomic-file.js";
import type { Router, RouterCapabilities, RouterContext, TrafficSnapshot } from "../router.js";
import { describeProbeAnswer, probeSlot, slotOfHeader } from "../slot-probe.js";
import { CaddyAdminApi } from "./admin-api.js";
import { sameSet, type CaddyRouterConfig } from "./config.js";
import { SrvUpstreams } from "./srv-upstreams.js";
import { AdminUpstreams, type CaddyUpstreams } from "./upstreams.js";

/** Keys in context.state: each slot's dial addresses from setTargets, and what Flip last wrote. */
export const TARGETS_STATE_KEY = "targets";
export const WRITTEN_STATE_KEY = "written";

export interface WrittenUpstreams {
  slot: Slot;
  dials: string[];
}

export class CaddyRouter implements Router {
  readonly kind = "caddy";
  /** verify observes the data plane only through a probe; Caddy 2.6 cannot split traffic by weight. */
  readonly capabilities: RouterCapabilities;
  readonly handlerId: string;
  private readonly upstreams: CaddyUpstreams;
  /** When this router last moved Caddy's upstreams: verify() without a probe waits one refresh from then. */
  private lastWriteAt: number | undefined;
  private readonly accessLog: AccessLogCounters<CaddyLine> | undefined;
  /** Present with `accessLog`: each slot's traffic as Caddy logged it (see ../access-log.ts). */
  readonly readTraffic?: (slot: Slot) => Promise<TrafficSnapshot>;

  constructor(
    private readonly config: CaddyRouterConfig,
    private readonly context: RouterContext,
    options: { configDir: string } = { configDir: process.cwd() },
  ) {
    this.handlerId = config.handlerId ?? context.app;
    const admin = new CaddyAdminApi(config.adminUrl, this.handlerId, config.timeout, context.clock);
    this.upstreams = config.srv ? new SrvUpstreams(config.srv, admin) : new AdminUpstreams(admin);
    this.capabilities = { weights: false, mirror: false, verify: config.probeUrl !== undefined, traffic: false };
    if (config.accessLog !== undefined) {
      const counters = new AccessLogCounters(resolve(options.configDir, config.accessLog), (text) => parseCaddyLine(text, config.slotHeader), (line) => this.slotOfLogged(line));
      this.accessLog = counters;
      this.readTraffic = (slot) => counters.snapshot(slot, this.context.clock.now()).catch((error: unknown) => Promise.reject(this.accessLogError(error)));
    }
  }

  async start(): Promise<void> {
    const found = await this.accessLog?.start().catch((error: unknown) => Promise.reject(this.accessLogError(error)));
    if (found === false) {
      this.context.logger.warn({ accessLog: this.accessLog?.path }, `${this.accessLog?.path} (router.accessLog) does not exist yet: Caddy creates it with its first access log line; until it does, the monitor counts no requests`);
    }
  }

  /**
   * The slot an answer's header names (a slot, or the upstream Caddy used); an answer without it
   * (Caddy's own 502 when no upstream answered) counts for the slot Flip last pointed Caddy at.
   */
  private slotOfLogged(line: CaddyLine): Slot | undefined {
    if (line.header !== undefined) return slotOfHeader(line.header, this.probeNames());
    return this.context.state.get<WrittenUpstreams>(WRITTEN_STATE_KEY)?.slot;
  }

  private accessLogError(error: unknown): RouterError {
    return new RouterError(
      `Cannot read Caddy's access log ${this.accessLog?.path} (router.accessLog): ${describeFileError(error)}.`,
      'Caddy writes it with, in the server, "logs": {"default_logger_name": "flip"} and, in "logging", "logs": {"flip": {"writer": {"output": "file", "filename": "<the file>"}, "encoder": {"format": "json"}, "include": ["http.log.access.flip"]}} (the README\'s Caddy section); flip serve must be able to read it.',
      { cause: error },
    );
  }

  /** Remembers a slot's replicas; when Flip pointed Caddy at that slot and they changed, Caddy follows them. */
  async setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void> {
    if (this.config.slots) return; // the dial addresses are fixed in flip.yaml
    const dials = endpoints.map(dialOf);
    this.context.state.set(TARGETS_STATE_KEY, { ...this.targets(), [slot]: dials });
    const written = this.context.state.get<WrittenUpstreams>(WRITTEN_STATE_KEY);
    if (written?.slot !== slot || sameSet(written.dials, dials)) return;
    if (!sameSet(await this.upstreams.read(), written.dials)) return; // someone else repointed Caddy since: not ours to follow
    if (dials.length === 0) {
      this.context.logger.warn({ slot, handler: this.handlerId }, "the live slot has no replica left; Caddy keeps the upstreams it has");
      return;
    }
    await this.write(slot, dials);
    this.context.logger.info({ slot, upstreams: dials }, "the live slot's replicas changed: Caddy follows them");
  }

  async live(): Promise<Slot | undefined> {
    return this.slotOfDials(await this.upstreams.read());
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const dials = this.dialsFor(slot);
    let current: string[];
    try {
      current = await this.upstreams.read();
    } catch (error) {
      return [`caddy: point handler "${this.handlerId}" at ${describeDials(dials)}`, `(could not read its upstreams to compare: ${describeError(error)})`];
    }
    if (dials.length > 0 && sameSet(current, dials)) return [`Caddy's handler "${this.handlerId}" already sends to ${slot} (${current.join(", ")}): no change`];
    if (dials.length === 0) {
      // A dry run before the deploy: the slot's replicas are not known until the platform starts them.
      const how = this.config.srv ? `one signed DNS UPDATE of SRV record ${this.config.srv.name} (no reload)` : `PATCH /id/${this.handlerId}/upstreams (a Caddy config reload)`;
      return [`caddy: point handler "${this.handlerId}" at ${slot}'s replicas once the platform reports them ready, by ${how} (now: ${describeDials(current)}); an empty slot is refused`];
    }
    const [write = "", ...notes] = await this.upstreams.describeWrite(slot, dials);
    return [
      `${write} (now: ${describeDials(current)})`,
      ...notes,
      this.config.probeUrl === undefined
        ? "no probeUrl: verify reads the upstreams back and waits for Caddy to use them"
        : `then GET ${this.config.probeUrl} (a new connection each time) every ${formatDuration(this.config.pollInterval)} until ${this.config.slotHeader} names ${slot}`,
    ];
  }

  async switchTo(slot: Slot): Promise<void> {
    const dials = this.dialsFor(slot);
    if (dials.length === 0) throw new EmptySlotError(slot, "the platform reports no replica there, so Caddy would have no upstream to send it to");
    const current = await this.upstreams.read();
    const from = this.slotOfDials(current);
    if (sameSet(current, dials)) {
      this.context.logger.debug({ slot, upstreams: current }, "switch skipped: Caddy's handler already sends to this slot");
      return;
    }
    await this.write(slot, dials);
    this.context.logger.info({ from, to: slot, handler: this.handlerId, upstreams: dials }, "traffic switched: Caddy runs the new upstreams");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /** Caddy's handler must send to `slot`; with a probe, a request through Caddy must then be answered by it. */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const current = await this.upstreams.read();
    if (this.slotOfDials(current) !== slot) {
      throw new TimeoutError(
        `Caddy's handler "${this.handlerId}" sends to ${describeDials(current)}, not to ${slot}.`,
        `Something other than this deployment changed ${this.config.srv ? `SRV record ${this.config.srv.name}` : "Caddy's config (a `caddy reload` of the original file?)"}, or the switch did not happen; \`flip switch ${slot}\` points it again.`,
      );
    }
    const probeUrl = this.config.probeUrl;
    const clock = this.context.clock;
    if (probeUrl === undefined) {
      // Nothing to ask through Caddy: wait out the time it may still use the old upstreams.
      const remainingMs = (this.lastWriteAt ?? -Infinity) + (await this.upstreams.settleMs()) - clock.now();
      if (remainingMs > 0) await clock.sleep(remainingMs);
      return;
    }
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const answer = await probeSlot(probeUrl, this.config.slotHeader, this.config.timeout);
      if (answer.reached && slotOfHeader(answer.header, this.probeNames()) === slot) return;
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

  private async write(slot: Slot, dials: string[]): Promise<void> {
    await this.upstreams.write(slot, dials);
    this.lastWriteAt = this.context.clock.now();
    this.context.state.set(WRITTEN_STATE_KEY, { slot, dials } satisfies WrittenUpstreams);
  }

  private targets(): Partial<Record<Slot, string[]>> {
    return this.context.state.get<Partial<Record<Slot, string[]>>>(TARGETS_STATE_KEY) ?? {};
  }

  private dialsBySlot(): Partial<Record<Slot, readonly string[]>> {
    return this.config.slots ?? this.targets();
  }

  /** What the probe header may name a slot's replicas by: their dial addresses, and Caddy's names for them. */
  private probeNames(): Partial<Record<Slot, readonly string[]>> {
    const bySlot = this.dialsBySlot();
    return Object.fromEntries(SLOTS.map((slot) => [slot, [...(bySlot[slot] ?? []), ...this.upstreams.aliases(slot, bySlot[slot] ?? [])]]));
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

function describeDials(dials: readonly string[]): string {
  return dials.length === 0 ? "no upstream" : dials.join(", ");
}
