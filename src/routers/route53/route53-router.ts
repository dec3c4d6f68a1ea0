// `router: { kind: route53 }`: traffic goes wherever one DNS record answers — one UPSERT of
// ChangeResourceRecordSets moves it. Route 53 is the source of truth for live(); what Flip keeps
// (in context.state, so a restarted controller finds it) is the change still propagating, which
// verify() waits on with GetChange before it waits out the TTL that resolvers cache answers for.
import type * as Route53Sdk from "@aws-sdk/client-route-53";
import type { ResourceRecordSet, Route53Client, Route53ClientConfig } from "@aws-sdk/client-route-53";
import { formatDuration } from "../../core/duration.js";
import { describeError, RouterError, TimeoutError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import { AWS_MAX_ATTEMPTS, quietSdkNodeVersionWarning } from "../aws-common/client.js";
import { callAws } from "../aws-common/errors.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import type { Route53RouterConfig } from "./config.js";
import { describeRecordSet, desiredRecordSet, isTheRecord, shortChangeId, slotOfRecord } from "./record.js";

type Sdk = typeof Route53Sdk;
let sdkModule: Promise<Sdk> | undefined;
/** Loaded on first use: most flip commands never talk to AWS and should not pay for the SDK. */
function loadSdk(): Promise<Sdk> {
  quietSdkNodeVersionWarning();
  return (sdkModule ??= import("@aws-sdk/client-route-53"));
}

/** The key in context.state under which the last change survives a restart. */
export const CHANGE_STATE_KEY = "change";

/** The last change Flip made, until verify() has seen it through. */
export interface PendingChange {
  id: string;
  slot: Slot;
  from: Slot | undefined;
  submittedAt: number;
  /** When GetChange first said INSYNC. */
  insyncAt?: number;
  /** How long resolvers may keep the old answer: the longer of `ttl` and the old record's TTL. */
  resolverWaitMs: number;
}

/** Knobs that are not in flip.yaml (tests: a request handler). */
export interface Route53RouterTuning {
  clientConfig?: Route53ClientConfig;
}

export class Route53Router implements Router {
  readonly kind = "route53";
  /** verify: GetChange INSYNC means every Route 53 name server gives the new answer (resolvers' caches are waited out). */
  readonly capabilities: RouterCapabilities = { weights: false, mirror: false, verify: true, traffic: false };
  readonly region: string;
  private connection: Promise<{ sdk: Sdk; client: Route53Client }> | undefined;

  constructor(
    private readonly config: Route53RouterConfig,
    private readonly context: RouterContext,
    private readonly tuning: Route53RouterTuning = {},
  ) {
    // Route 53 is global: any region of the partition reaches it; us-east-1 is where it signs.
    this.region = config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** A no-op: each slot's answer (alias target or values) is in flip.yaml, not in the platform's endpoints. */
  setTargets(_slot: Slot, _endpoints: Endpoint[]): Promise<void> {
    return Promise.resolve();
  }

  async live(): Promise<Slot | undefined> {
    const record = await this.readRecord();
    if (record?.SetIdentifier !== undefined) this.context.logger.warn({ record: describeRecordSet(record) }, "the record has a routing policy: no single slot is live");
    return slotOfRecord(record, this.config);
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const change = { HostedZoneId: this.config.hostedZoneId, ChangeBatch: this.changeBatch(slot) };
    const after = [`then route53:GetChange every ${formatDuration(this.config.pollInterval)} until INSYNC, and a wait of at least ${formatDuration(this.config.ttl)} for resolvers to drop the old answer (TTL)`];
    let current: ResourceRecordSet | undefined;
    try {
      current = await this.readRecord();
    } catch (error) {
      return [`route53:ChangeResourceRecordSets ${JSON.stringify(change)}`, `(could not read the record to compare: ${describeError(error)})`, ...after];
    }
    if (slotOfRecord(current, this.config) === slot) return [`${this.recordLabel()} already answers for ${slot}: no change`];
    return [`route53:ChangeResourceRecordSets ${JSON.stringify(change)} (now: ${describeRecordSet(current)})`, ...after];
  }

  /** Always possible: config validation requires both slots' answers, so EmptySlotError never applies. */
  async switchTo(slot: Slot): Promise<void> {
    const current = await this.readRecord();
    if (current?.SetIdentifier !== undefined) {
      throw new RouterError(
        `${this.recordLabel()} has a routing policy (set identifier "${current.SetIdentifier}"); Flip switches a simple record only.`,
        "Point router.recordName at a record with simple routing, or delete the weighted/latency/failover records of that name first.",
      );
    }
    const from = slotOfRecord(current, this.config);
    if (from === slot) {
      this.context.logger.debug({ slot, record: describeRecordSet(current) }, "switch skipped: the record already answers for this slot");
      return;
    }
    const id = await this.upsert(slot);
    const pending: PendingChange = {
      id,
      slot,
      from,
      submittedAt: this.context.clock.now(),
      resolverWaitMs: Math.max(this.config.ttl, (current?.TTL ?? 0) * 1000),
    };
    this.context.state.set(CHANGE_STATE_KEY, pending);
    this.context.logger.info({ from, to: slot, change: shortChangeId(id), record: this.recordLabel() }, "traffic switched: Route 53 accepted the new answer");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /**
   * The record must answer for `slot`; the change that made it so must be INSYNC within
   * `timeoutMs`; then resolvers get the TTL to drop the old answer (not counted in `timeoutMs`:
   * it is a known wait, not a failure to converge).
   */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const record = await this.readRecord();
    if (slotOfRecord(record, this.config) !== slot) {
      throw new TimeoutError(
        `${this.recordLabel()} answers ${describeRecordSet(record)}, not ${slot}'s answer.`,
        `Something other than this deployment changed the record, or the switch did not happen; \`flip switch ${slot}\` points it again.`,
      );
    }
    const pending = this.context.state.get<PendingChange>(CHANGE_STATE_KEY);
    if (!pending || pending.slot !== slot) return; // nothing Flip changed is still propagating
    if (pending.insyncAt === undefined) {
      await this.waitUntilInsync(pending, timeoutMs);
      pending.insyncAt = this.context.clock.now();
      this.context.state.set(CHANGE_STATE_KEY, pending);
    }
    const remainingMs = pending.insyncAt + pending.resolverWaitMs - this.context.clock.now();
    if (remainingMs <= 0) return;
    // In seconds, like the TTL itself.
    this.context.logger.info({ record: this.recordLabel(), slot }, `waiting ${Math.ceil(remainingMs / 1000)}s for resolvers to drop the old answer (TTL)`);
    await this.context.clock.sleep(remainingMs);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) (await connection).client.destroy();
  }

  private async waitUntilInsync(pending: PendingChange, timeoutMs: number): Promise<void> {
    const clock = this.context.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const status = await this.changeStatus(pending.id);
      if (status === "INSYNC") return;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) {
        const id = shortChangeId(pending.id);
        throw new TimeoutError(
          `Route 53 change ${id} for ${this.recordLabel()} is still ${status} after ${formatDuration(timeoutMs)}; traffic may be split between ${pending.from ?? "the old answer"} and ${pending.slot} until it is INSYNC.`,
          `Route 53 usually applies a change within a minute: \`aws route53 get-change --id ${id}\` shows it. If it is slow today, raise verifyTimeout.`,
        );
      }
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  private recordLabel(): string {
    return `record ${this.config.recordName} ${this.config.recordType}`;
  }

  private changeBatch(slot: Slot) {
    return {
      Comment: `flip: ${this.context.app} → ${slot}`,
      Changes: [{ Action: "UPSERT" as const, ResourceRecordSet: desiredRecordSet(this.config, slot) }],
    };
  }

  // ---- AWS calls ---------------------------------------------------------------------------

  private connect(): Promise<{ sdk: Sdk; client: Route53Client }> {
    this.connection ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.Route53Client({ region: this.region, maxAttempts: AWS_MAX_ATTEMPTS, ...this.tuning.clientConfig }),
    }));
    return this.connection;
  }

  private zoneResource(): string {
    return `arn:aws:route53:::hostedzone/${this.config.hostedZoneId}`;
  }

  private noSuchZone = (name: string): RouterError | undefined =>
    name === "NoSuchHostedZone"
      ? new RouterError(
          `Hosted zone ${this.config.hostedZoneId} (router.hostedZoneId in flip.yaml) does not exist.`,
          `Check it with \`aws route53 get-hosted-zone --id ${this.config.hostedZoneId}\`; \`aws route53 list-hosted-zones-by-name --dns-name ${this.config.recordName}\` finds the right one.`,
        )
      : undefined;

  private async readRecord(): Promise<ResourceRecordSet | undefined> {
    const { sdk, client } = await this.connect();
    const { hostedZoneId, recordName, recordType } = this.config;
    const output = await callAws(
      { action: "route53:ListResourceRecordSets", resource: this.zoneResource(), router: this.kind },
      () => client.send(new sdk.ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, StartRecordName: recordName, StartRecordType: recordType, MaxItems: 1 })),
      this.noSuchZone,
    );
    const first = output.ResourceRecordSets?.[0];
    return first && isTheRecord(first, this.config) ? first : undefined;
  }

  /** The change's id, as Route 53 gave it. */
  private async upsert(slot: Slot): Promise<string> {
    const { sdk, client } = await this.connect();
    const output = await callAws(
      { action: "route53:ChangeResourceRecordSets", resource: this.zoneResource(), router: this.kind },
      () => client.send(new sdk.ChangeResourceRecordSetsCommand({ HostedZoneId: this.config.hostedZoneId, ChangeBatch: this.changeBatch(slot) })),
      (name, message) =>
        this.noSuchZone(name) ??
        (name === "InvalidChangeBatch" || name === "InvalidInput"
          ? new RouterError(
              `Route 53 refused to point ${this.recordLabel()} at ${slot}: ${message}`,
              `Check router.slots.${slot} in flip.yaml: an alias's hostedZoneId is the target's own zone (for an ALB, its CanonicalHostedZoneId), and its dnsName must exist.`,
            )
          : undefined),
    );
    return output.ChangeInfo?.Id ?? "";
  }

  private async changeStatus(id: string): Promise<string> {
    const { sdk, client } = await this.connect();
    const output = await callAws(
      { action: "route53:GetChange", resource: `arn:aws:route53:::change/${shortChangeId(id)}`, router: this.kind },
      () => client.send(new sdk.GetChangeCommand({ Id: id })),
    );
    return output.ChangeInfo?.Status ?? "PENDING";
  }
}
