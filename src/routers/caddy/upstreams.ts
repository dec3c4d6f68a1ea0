// Where the caddy router reads and writes the upstreams of Caddy's handler. Two ways, one shape:
// AdminUpstreams replaces the handler's static list through the admin API (Caddy reloads its
// config); SrvUpstreams (srv-upstreams.ts) rewrites the SRV record the handler's dynamic upstreams
// read (Caddy's config never changes).
import { RouterError } from "../../core/errors.js";
import type { Slot } from "../../core/slots.js";
import type { CaddyAdminApi, ProxyHandler } from "./admin-api.js";

export interface CaddyUpstreams {
  /** The dial addresses (host:port) Caddy's handler sends to now, or reads at its next refresh. */
  read(): Promise<string[]>;
  /** Points the handler at `dials` (the replicas of `slot`); resolves once Caddy has them or will at its next refresh. */
  write(slot: Slot, dials: readonly string[]): Promise<void>;
  /** What write() would do, for `flip deploy --dry-run`: the calls first, then notes. */
  describeWrite(slot: Slot, dials: readonly string[]): Promise<string[]>;
  /** After a write, how long Caddy may still send to the old upstreams (0: none once write() returned). */
  settleMs(): Promise<number>;
  /** Other names Caddy gives `slot`'s replicas in {http.reverse_proxy.upstream.hostport}, for the probe. */
  aliases(slot: Slot, dials: readonly string[]): string[];
}

/** What every switch costs with Caddy 2.6 through the admin API, said where a user sees it before switching. */
export const RELOAD_NOTE =
  "Caddy reloads its whole config for any admin API change: connections kept alive by clients are closed, and a request sent on one at that moment fails unless the client retries it (router.srv switches without a reload)";

export class AdminUpstreams implements CaddyUpstreams {
  constructor(private readonly admin: CaddyAdminApi) {}

  async read(): Promise<string[]> {
    return dialsOf(await this.readStatic());
  }

  async write(_slot: Slot, dials: readonly string[]): Promise<void> {
    const handler = await this.readStatic();
    await this.admin.writeUpstreams(dials, handler.upstreams !== undefined);
  }

  async describeWrite(_slot: Slot, dials: readonly string[]): Promise<string[]> {
    const handler = await this.admin.readHandler();
    return [`caddy: ${this.admin.describeWrite(dials, handler.upstreams !== undefined)}`, `note: ${RELOAD_NOTE}`];
  }

  /** Caddy loads the changed config before the PATCH is answered. */
  settleMs(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Caddy dials exactly what Flip wrote. */
  aliases(): string[] {
    return [];
  }

  private async readStatic(): Promise<ProxyHandler> {
    const handler = await this.admin.readHandler();
    if (handler.upstreams === undefined && handler.dynamic_upstreams !== undefined) {
      throw new RouterError(
        `Caddy's reverse_proxy handler "${this.admin.handlerId}" takes its upstreams from dynamic_upstreams (${handler.dynamic_upstreams.source ?? "unknown source"}), which the admin API cannot switch.`,
        "For an SRV source, set router.srv in flip.yaml (Flip then switches the SRV record, without a reload); otherwise give the handler a static `upstreams` list (any address: Flip replaces it on the first switch).",
      );
    }
    return handler;
  }
}

export function dialsOf(handler: ProxyHandler): string[] {
  return (handler.upstreams ?? []).map((upstream) => upstream.dial ?? "").filter((dial) => dial !== "");
}
