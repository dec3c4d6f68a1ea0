// `router: { kind: dns }`: traffic goes wherever one DNS record answers, and one TSIG-signed RFC 2136
// UPDATE moves it. The server is the source of truth for live(): Flip asks it for the record. What
// Flip keeps in context.state (so a restarted controller finds it) is the switch whose TTL
// resolvers may still be waiting out; verify() waits for the server's new answer, then that TTL.
import { formatDuration } from "../../core/duration.js";
import { describeError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import { sameAnswer, valuesOf, type DnsRouterConfig } from "./config.js";
import { DnsClient } from "./client.js";
import { recordInAnswer, type RecordAnswer } from "./messages.js";

/** The key in context.state under which the last switch survives a restart. */
export const SWITCH_STATE_KEY = "switch";

/** The last switch Flip made, until verify() has waited out the TTL. */
export interface PendingSwitch {
  slot: Slot;
  from: Slot | undefined;
  submittedAt: number;
  /** When the server first answered with the new value. */
  seenAt?: number;
  /** How long resolvers may keep the old answer: the longer of `ttl` and the old record's TTL. */
  resolverWaitMs: number;
}

export class DnsRouter implements Router {
  readonly kind = "dns";
  /** verify: the server itself answers with the new value (resolvers' caches are waited out). */
  readonly capabilities: RouterCapabilities = { weights: false, mirror: false, verify: true, traffic: false };
  private readonly dns: DnsClient;

  constructor(
    private readonly config: DnsRouterConfig,
    private readonly context: RouterContext,
  ) {
    this.dns = new DnsClient({ server: config.server, zone: config.zone, tsig: config.tsig, timeoutMs: config.timeout, configPath: "router" });
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** A no-op: each slot's answer is in flip.yaml, not in the platform's endpoints. */
  setTargets(_slot: Slot, _endpoints: Endpoint[]): Promise<void> {
    return Promise.resolve();
  }

  async live(): Promise<Slot | undefined> {
    return this.slotOf(await this.readRecord());
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const update = `dns: UPDATE zone ${this.config.zone} at ${this.serverLabel()}: delete ${this.recordLabel()}, add ${this.describeValues(slot)} with TTL ${this.config.ttl / 1000}s (${this.dns.describeSigning()})`;
    const after = `then ask ${this.serverLabel()} every ${formatDuration(this.config.pollInterval)} until it answers ${slot}'s value, and wait at least ${formatDuration(this.config.ttl)} for resolvers to drop the old answer (TTL)`;
    let current: RecordAnswer | undefined;
    try {
      current = await this.readRecord();
    } catch (error) {
      return [update, `(could not read the record to compare: ${describeError(error)})`, after];
    }
    if (this.slotOf(current) === slot) return [`${this.recordLabel()} already answers for ${slot}: no change`];
    return [`${update} (now: ${describeAnswer(current)})`, after];
  }

  /** Always possible: config validation requires both slots' answers, so EmptySlotError never applies. */
  async switchTo(slot: Slot): Promise<void> {
    const current = await this.readRecord();
    const from = this.slotOf(current);
    if (from === slot) {
      this.context.logger.debug({ slot, record: describeAnswer(current) }, "switch skipped: the record already answers for this slot");
      return;
    }
    await this.sendUpdate(slot);
    const pending: PendingSwitch = {
      slot,
      from,
      submittedAt: this.context.clock.now(),
      resolverWaitMs: Math.max(this.config.ttl, (current?.ttlSeconds ?? 0) * 1000),
    };
    this.context.state.set(SWITCH_STATE_KEY, pending);
    this.context.logger.info({ from, to: slot, record: this.recordLabel(), server: this.serverLabel() }, "traffic switched: the DNS server accepted the update");
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /**
   * The server must answer with `slot`'s value within `timeoutMs`; then resolvers get the TTL to
   * drop the old answer (not counted in `timeoutMs`: it is a known wait, not a failure to converge).
   */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    await this.waitForAnswer(slot, timeoutMs);
    const pending = this.context.state.get<PendingSwitch>(SWITCH_STATE_KEY);
    if (!pending || pending.slot !== slot) return; // nothing Flip changed is still in resolvers' caches
    if (pending.seenAt === undefined) {
      pending.seenAt = this.context.clock.now();
      this.context.state.set(SWITCH_STATE_KEY, pending);
    }
    const remainingMs = pending.seenAt + pending.resolverWaitMs - this.context.clock.now();
    if (remainingMs <= 0) return;
    // In seconds, like the TTL itself.
    this.context.logger.info({ record: this.recordLabel(), slot }, `waiting ${Math.ceil(remainingMs / 1000)}s for resolvers to drop the old answer (TTL)`);
    await this.context.clock.sleep(remainingMs);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async waitForAnswer(slot: Slot, timeoutMs: number): Promise<void> {
    const clock = this.context.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const answer = await this.readRecord();
      if (this.slotOf(answer) === slot) return;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) {
        throw new TimeoutError(
          `After ${formatDuration(timeoutMs)}, ${this.serverLabel()} still answers ${describeAnswer(answer)} for ${this.recordLabel()}, not ${slot}'s ${this.describeValues(slot)}.`,
          `Something other than this deployment changed the record, or the update did not reach the server that answers; \`flip switch ${slot}\` sends it again.`,
        );
      }
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  private slotOf(answer: RecordAnswer | undefined): Slot | undefined {
    if (!answer) return undefined;
    return SLOTS.find((slot) => sameAnswer(this.config.recordType, answer.values, valuesOf(this.config.slots[slot])));
  }

  private recordLabel(): string {
    return `record ${this.config.recordName} ${this.config.recordType}`;
  }

  private serverLabel(): string {
    return this.dns.serverLabel;
  }

  private describeValues(slot: Slot): string {
    return valuesOf(this.config.slots[slot]).join(", ");
  }

  /** The record as the server answers it now. */
  private async readRecord(): Promise<RecordAnswer | undefined> {
    const { recordName, recordType } = this.config;
    return recordInAnswer(await this.dns.query(recordName, recordType), recordName, recordType);
  }

  private async sendUpdate(slot: Slot): Promise<void> {
    const { recordName, recordType, ttl } = this.config;
    const rrset = { name: recordName, type: recordType, ttlSeconds: ttl / 1000, values: valuesOf(this.config.slots[slot]) };
    await this.dns.update([rrset], `the update of ${this.recordLabel()} to ${slot}'s ${this.describeValues(slot)}`);
  }
}

/** "192.0.2.10, 192.0.2.11 (TTL 60s)" or "no record". */
export function describeAnswer(answer: RecordAnswer | undefined): string {
  if (!answer) return "no record";
  return `${answer.values.join(", ")} (TTL ${answer.ttlSeconds}s)`;
}
