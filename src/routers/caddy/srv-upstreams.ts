// `router.srv`: Caddy's handler takes its upstreams from an SRV record (its `dynamic_upstreams`
// module, source "srv"), and a switch is one signed RFC 2136 UPDATE of that record. Caddy's config
// never changes, so nothing reloads and no kept-alive connection is closed; Caddy asks the DNS
// server again every `refresh` of the handler, which bounds how long the old slot still gets
// requests after the update.
//
// An SRV record names a host, not an address (and Go refuses all-numeric names), so a replica at
// an IP address gets a name Flip owns next to the record: `<slot>-<n>.<name without its _labels>`
// (blue-0.shop.example.com), with an A or AAAA record written in the same UPDATE. A replica at a
// host name is the SRV target itself.
import { isIP } from "node:net";
import { formatDuration, parseDuration } from "../../core/duration.js";
import { RouterError } from "../../core/errors.js";
import type { Slot } from "../../core/slots.js";
import { DnsClient } from "../dns/client.js";
import { recordInAnswer, srvInAnswer, type RrsetReplacement, type SrvValue } from "../dns/messages.js";
import type { CaddyAdminApi, ProxyHandler } from "./admin-api.js";
import type { CaddyRouterConfig } from "./config.js";
import type { CaddyUpstreams } from "./upstreams.js";

type SrvConfig = NonNullable<CaddyRouterConfig["srv"]>;

/** Caddy 2.6's refresh for SRV upstreams when the handler sets none. */
const CADDY_DEFAULT_REFRESH_MS = 60_000;

export class SrvUpstreams implements CaddyUpstreams {
  private readonly dns: DnsClient;
  /** Where Flip's target names live: the record's name without its leading _service._proto labels. */
  private readonly targetDomain: string;

  constructor(
    private readonly config: SrvConfig,
    private readonly admin: CaddyAdminApi,
  ) {
    this.dns = new DnsClient({ server: config.server, zone: config.zone, tsig: config.tsig, timeoutMs: config.timeout, configPath: "router.srv" });
    const labels = config.name.split(".");
    const first = labels.findIndex((label) => !label.startsWith("_"));
    this.targetDomain = first < 0 ? config.zone : labels.slice(first).join(".");
  }

  /** The record as the DNS server answers it now: what Caddy reads at its next refresh. */
  async read(): Promise<string[]> {
    const records = srvInAnswer(await this.dns.query(this.config.name, "SRV"), this.config.name);
    const dials: string[] = [];
    for (const record of records) dials.push(...(await this.dialsOfTarget(record)));
    return dials;
  }

  async write(slot: Slot, dials: readonly string[]): Promise<void> {
    await this.checkHandler();
    await this.dns.update(this.rrsets(slot, dials), `the update of SRV record ${this.config.name} to ${slot}'s ${dials.join(", ")}`);
  }

  async describeWrite(slot: Slot, dials: readonly string[]): Promise<string[]> {
    const rrsets = this.rrsets(slot, dials).map((rrset) => `${rrset.type} ${rrset.name} → ${rrset.values.length === 0 ? "(deleted)" : rrset.values.map(describeValue).join(", ")}`);
    const lines = [`dns: UPDATE zone ${this.config.zone} at ${this.dns.serverLabel} (${this.dns.describeSigning()}, TTL ${this.config.ttl / 1000}s): ${rrsets.join("; ")}`];
    try {
      const refreshMs = refreshOf(await this.checkHandler());
      lines.push(`note: Caddy's handler "${this.admin.handlerId}" reads the record every ${formatDuration(refreshMs)}: no config reload, kept-alive connections stay open`);
    } catch (error) {
      lines.push(`(refused as things are: ${error instanceof Error ? error.message : String(error)})`);
    }
    return lines;
  }

  /** Caddy may keep the old answer for one refresh of the handler. */
  async settleMs(): Promise<number> {
    return refreshOf(await this.checkHandler());
  }

  /** Caddy names an upstream by its SRV target: blue-0.shop.example.com:8080. */
  aliases(slot: Slot, dials: readonly string[]): string[] {
    const [srv] = this.rrsets(slot, dials);
    return (srv?.values ?? []).map((value) => (typeof value === "string" ? value : `${value.target}:${value.port}`));
  }

  /** The handler must read this very record, or updating it would move nothing. */
  private async checkHandler(): Promise<ProxyHandler> {
    const handler = await this.admin.readHandler();
    const source = handler.dynamic_upstreams;
    const wanted = this.config.name;
    if (source?.source !== "srv" || lookedUpName(source) !== wanted) {
      const has = source === undefined ? "has no dynamic_upstreams" : source.source !== "srv" ? `reads dynamic upstreams from "${source.source ?? "?"}"` : `looks up ${lookedUpName(source)}`;
      throw new RouterError(
        `Caddy's reverse_proxy handler "${this.admin.handlerId}" ${has}, so updating SRV record ${wanted} (router.srv.name) would not move its traffic.`,
        `Give the handler "dynamic_upstreams": {"source": "srv", "name": "${wanted}", "refresh": "1s", "resolver": {"addresses": ["${this.dns.serverLabel}"]}} (the README's Caddy section has the whole handler), or fix router.srv.name.`,
      );
    }
    return handler;
  }

  private rrsets(slot: Slot, dials: readonly string[]): RrsetReplacement[] {
    const ttlSeconds = this.config.ttl / 1000;
    const targets: SrvValue[] = [];
    const addresses: RrsetReplacement[] = [];
    dials.forEach((dial, index) => {
      const { host, port } = splitDial(dial);
      const family = isIP(host);
      if (family === 0) {
        targets.push({ priority: 0, weight: 1, port, target: host });
        return;
      }
      const target = `${slot}-${index}.${this.targetDomain}`;
      targets.push({ priority: 0, weight: 1, port, target });
      // Both families written, one empty: a replica that moved from IPv4 to IPv6 leaves no stale address.
      addresses.push({ name: target, type: "A", ttlSeconds, values: family === 4 ? [host] : [] });
      addresses.push({ name: target, type: "AAAA", ttlSeconds, values: family === 6 ? [host] : [] });
    });
    return [{ name: this.config.name, type: "SRV", ttlSeconds, values: targets }, ...addresses];
  }

  /** host:port for each address of an SRV target (the target itself when the server has none for it). */
  private async dialsOfTarget(record: SrvValue): Promise<string[]> {
    const inZone = record.target === this.config.zone || record.target.endsWith(`.${this.config.zone}`);
    if (!inZone) return [`${record.target}:${record.port}`];
    const v4 = recordInAnswer(await this.dns.query(record.target, "A"), record.target, "A")?.values ?? [];
    const v6 = recordInAnswer(await this.dns.query(record.target, "AAAA"), record.target, "AAAA")?.values ?? [];
    if (v4.length + v6.length === 0) return [`${record.target}:${record.port}`];
    return [...v4.map((ip) => `${ip}:${record.port}`), ...v6.map((ip) => `[${ip}]:${record.port}`)];
  }
}

/** The name Caddy asks for: `_service._proto.name`, or `name` alone when service and proto are unset. */
function lookedUpName(source: NonNullable<ProxyHandler["dynamic_upstreams"]>): string {
  const name = (source.name ?? "").toLowerCase().replace(/\.$/, "");
  if (!source.service && !source.proto) return name;
  return `_${source.service ?? ""}._${source.proto ?? ""}.${name}`.toLowerCase();
}

/** The handler's refresh: Caddy writes a duration as a Go duration string or as nanoseconds. */
function refreshOf(handler: ProxyHandler): number {
  const refresh = handler.dynamic_upstreams?.refresh;
  if (typeof refresh === "number") return refresh > 0 ? refresh / 1e6 : CADDY_DEFAULT_REFRESH_MS;
  if (typeof refresh === "string") return parseDuration(refresh) ?? CADDY_DEFAULT_REFRESH_MS;
  return CADDY_DEFAULT_REFRESH_MS;
}

function splitDial(dial: string): { host: string; port: number } {
  const match = /^(?:[a-z0-9]+\/)?(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d+)$/.exec(dial);
  if (!match) throw new RouterError(`"${dial}" is not a host:port address Caddy could dial.`, "Check the slot's replicas (or router.slots) in flip.yaml.");
  return { host: (match[1] ?? match[2]) as string, port: Number(match[3]) };
}

function describeValue(value: string | SrvValue): string {
  return typeof value === "string" ? value : `${value.priority} ${value.weight} ${value.port} ${value.target}.`;
}
