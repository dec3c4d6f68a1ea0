// `router: { kind: haproxy }`: traffic goes to the backend one map entry names. haproxy.cfg routes
// with `use_backend %[str(<key>),map(<map>)]`, one backend per slot; a switch is one `set map` on
// the runtime API — no reload, so no connection is dropped, and HAProxy evaluates use_backend per
// request, so the next request goes to the new slot. The map on disk is rewritten too, so a
// reload of HAProxy keeps the slot. The running map is the truth for live(), after a restart too.
import { formatDuration } from "../../core/duration.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import { describeFileError, readTextIfExists, restoreFile, writeFileAtomically } from "../file-common/atomic-file.js";
import type { Router, RouterCapabilities, RouterContext, TrafficSnapshot } from "../router.js";
import type { HaproxyRouterConfig } from "./config.js";
import { describeServers, isUnknownMap, isUsable, parseBackendCounters, parseServerStats, parseShowMap, withMapEntry, type ServerStatus } from "./runtime-answers.js";
import { describeAddress, parseRuntimeApiAddress, runtimeCommand, type RuntimeApiAddress } from "./runtime-api.js";

export class HaproxyRouter implements Router {
  readonly kind = "haproxy";
  /** verify reads what HAProxy itself routes by (the running map) and its health checks' view of the backend. */
  readonly capabilities: RouterCapabilities = { weights: false, mirror: false, verify: true, traffic: false };
  readonly backends: Record<Slot, string>;
  private readonly address: RuntimeApiAddress;
  private readonly key: string;

  constructor(
    private readonly config: HaproxyRouterConfig,
    private readonly context: RouterContext,
  ) {
    this.address = parseRuntimeApiAddress(config.runtimeApi) as RuntimeApiAddress; // validated by the schema
    this.key = config.key ?? context.app;
    this.backends = { blue: config.backends.blue ?? `${context.app}-blue`, green: config.backends.green ?? `${context.app}-green` };
  }

  /** Reads the map once, so a wrong socket or map shows when flip serve starts. */
  async start(): Promise<void> {
    const backend = await this.liveBackend();
    this.context.logger.info({ map: this.config.map, key: this.key, backend, live: this.slotOf(backend) }, `HAProxy map ${this.config.map}: ${this.key} → ${backend ?? "(no entry)"}`);
  }

  /** The backends list their servers in haproxy.cfg: the platform's endpoints are not needed to route. */
  async setTargets(_slot: Slot, _endpoints: Endpoint[]): Promise<void> {}

  async live(): Promise<Slot | undefined> {
    return this.slotOf(await this.liveBackend());
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const backend = this.backends[slot];
    const current = await this.liveBackend();
    if (current === backend) return [`HAProxy map ${this.config.map} already sends ${this.key} to ${backend}: no change`];
    const servers = await this.servers(slot);
    return [
      ...(this.config.persistMap ? [`write ${this.config.map} (a temporary file in the same folder, then rename) with "${this.key} ${backend}", so a reload of HAProxy keeps ${slot}`] : []),
      `${current === undefined ? "add" : "set"} map ${this.config.map} ${this.key} ${backend} on the runtime API at ${describeAddress(this.address)} (now: ${current ?? "no entry"}) — no reload; the next request goes to ${backend}`,
      `needs a server of backend ${backend} up (now: ${describeServers(servers)})`,
    ];
  }

  async switchTo(slot: Slot): Promise<void> {
    const backend = this.backends[slot];
    const current = await this.liveBackend();
    const from = this.slotOf(current);
    if (current === backend) {
      this.context.logger.debug({ slot, backend }, "switch skipped: the map already sends traffic to this backend");
      return;
    }
    const servers = await this.servers(slot);
    if (!servers.some(isUsable)) throw new EmptySlotError(slot, `no server of HAProxy backend ${backend} is up (${describeServers(servers)})`);
    const written = this.config.persistMap ? await this.persist(backend) : undefined;
    try {
      await this.setEntry(current === undefined ? "add" : "set", backend);
    } catch (error) {
      if (written) await restoreFile(this.config.map, written.previous).catch(() => undefined);
      throw error;
    }
    this.context.logger.info({ from, to: slot, backend }, `traffic switched: HAProxy map ${this.key} → ${backend}`);
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /**
   * The running map must send the key to the slot's backend (else fail at once: nothing will
   * change it back by itself), and HAProxy must see a server of it up, within timeoutMs.
   */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const { clock } = this.context;
    const backend = this.backends[slot];
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const current = await this.liveBackend();
      if (current !== backend) {
        throw new TimeoutError(
          `HAProxy map ${this.config.map} sends ${this.key} to ${current ?? "no backend (no entry)"}, not to ${slot}'s ${backend}.`,
          `Something other than this deployment changed the map, or the switch did not happen; \`flip switch ${slot}\` sets it again.`,
        );
      }
      const servers = await this.servers(slot);
      if (servers.some(isUsable)) return;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) {
        throw new TimeoutError(`HAProxy sends ${slot}'s traffic to backend ${backend}, but none of its servers was up within ${formatDuration(timeoutMs)}: ${describeServers(servers)}.`, "HAProxy's health checks say why (`show stat` on the runtime API).");
      }
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  /**
   * The slot's backend counters from `show stat`: requests and 5xx answers (HAProxy's own 503s
   * too), cumulative since HAProxy started; a reload resets them, which the monitor's windows
   * detect. HAProxy keeps only averages of response times, so no latency histogram.
   */
  async readTraffic(slot: Slot): Promise<TrafficSnapshot> {
    const backend = this.backends[slot];
    const answer = await this.command(`show stat ${backend} 2 -1`);
    const counters = parseBackendCounters(answer);
    if (counters === undefined) {
      throw new RouterError(
        `HAProxy has no backend ${backend} for ${slot} to count its traffic (${answer.trim() || "no answer"}).`,
        `Add \`backend ${backend}\` with ${slot}'s servers to haproxy.cfg, or name the existing one in router.backends.${slot}.`,
      );
    }
    return { at: this.context.clock.now(), ...counters, latencyCounts: [] };
  }

  async close(): Promise<void> {
    // Nothing is kept open: each runtime API command uses its own connection.
  }

  // ---- runtime API ---------------------------------------------------------------------------

  private slotOf(backend: string | undefined): Slot | undefined {
    return SLOTS.find((slot) => this.backends[slot] === backend);
  }

  private command(line: string): Promise<string> {
    return runtimeCommand(this.address, line, this.config.timeout);
  }

  private async liveBackend(): Promise<string | undefined> {
    const answer = await this.command(`show map ${this.config.map}`);
    if (isUnknownMap(answer)) {
      throw new RouterError(
        `HAProxy has no map ${this.config.map} (router.map): ${answer}`,
        `router.map must be the path haproxy.cfg loads, e.g. \`use_backend %[str(${this.key}),map(${this.config.map})]\`; \`show map\` on the runtime API lists the maps HAProxy has.`,
      );
    }
    return parseShowMap(answer).find((entry) => entry.key === this.key)?.value;
  }

  private async servers(slot: Slot): Promise<ServerStatus[]> {
    const backend = this.backends[slot];
    const answer = await this.command(`show stat ${backend} 4 -1`);
    const servers = parseServerStats(answer);
    if (servers === undefined) {
      throw new RouterError(
        `HAProxy has no backend ${backend} for ${slot} (${answer.trim() || "no answer"}).`,
        `Add \`backend ${backend}\` with ${slot}'s servers to haproxy.cfg, or name the existing one in router.backends.${slot}.`,
      );
    }
    return servers;
  }

  private async setEntry(verb: "set" | "add", backend: string): Promise<void> {
    const line = `${verb} map ${this.config.map} ${this.key} ${backend}`;
    const answer = (await this.command(line)).trim();
    if (answer === "") return;
    const denied = /permission denied/i.test(answer);
    throw new RouterError(
      `HAProxy refused \`${line}\`: ${answer}; traffic is as before.`,
      denied ? `The runtime API needs the admin level: \`stats socket ${describeAddress(this.address)} level admin\` in haproxy.cfg.` : "See the runtime API's answer above.",
    );
  }

  /** Writes the new entry into the map file; returns what to put back if the runtime change fails. */
  private async persist(backend: string): Promise<{ previous: string | undefined }> {
    const map = this.config.map;
    try {
      const previous = await readTextIfExists(map);
      await writeFileAtomically(map, withMapEntry(previous, this.key, backend));
      return { previous };
    } catch (error) {
      throw new RouterError(
        `Cannot write the map file ${map} (router.map): ${describeFileError(error)}; traffic is as before.`,
        "Flip writes a temporary file next to it and renames it, so a reload of HAProxy keeps the live slot: it needs write access to the folder. If HAProxy runs on another machine, set router.persistMap to false.",
        { cause: error },
      );
    }
  }
}
