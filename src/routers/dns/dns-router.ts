// `router: { kind: dns }`: traffic goes wherever one DNS record answers, and one TSIG-signed RFC 2136
// UPDATE moves it. The server is the source of truth for live(): Flip asks it for the record. What
// Flip keeps in context.state (so a restarted controller finds it) is the switch whose TTL
// resolvers may still be waiting out; verify() waits for the server's new answer, then that TTL.
import { formatDuration } from "../../core/duration.js";
import { describeError, RouterError, TimeoutError } from "../../core/errors.js";
import { SLOTS, type Endpoint, type Slot } from "../../core/slots.js";
import type { Router, RouterCapabilities, RouterContext } from "../router.js";
import { sameAnswer, valuesOf, type DnsRouterConfig } from "./config.js";
import { buildQuery, buildUpdate, isTruncated, newMessageId, RCODES, rcodeOf, recordInAnswer, type RecordAnswer } from "./messages.js";
import { DnsTransportError, exchangeTcp, exchangeUdp } from "./transport.js";
import { signMessage, splitTsig, TSIG_ERRORS, verifyMessage, type TsigKey } from "./tsig.js";

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
  private readonly key: TsigKey | undefined;

  constructor(
    private readonly config: DnsRouterConfig,
    private readonly context: RouterContext,
  ) {
    const tsig = config.tsig;
    this.key = tsig && { name: tsig.name, algorithm: tsig.algorithm, secret: Buffer.from(tsig.secret, "base64") };
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
    const update = `dns: UPDATE zone ${this.config.zone} at ${this.serverLabel()}: delete ${this.recordLabel()}, add ${this.describeValues(slot)} with TTL ${this.config.ttl / 1000}s (${this.key ? `signed with TSIG key ${this.key.name}, ${this.key.algorithm}` : "unsigned: no router.tsig"})`;
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
    const { host, port } = this.config.server;
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  }

  private describeValues(slot: Slot): string {
    return valuesOf(this.config.slots[slot]).join(", ");
  }

  // ---- DNS messages ------------------------------------------------------------------------

  /** The record as the server answers it now (UDP, then TCP when the answer did not fit). */
  private async readRecord(): Promise<RecordAnswer | undefined> {
    const { recordName, recordType } = this.config;
    const query = buildQuery(newMessageId(), recordName, recordType);
    let answer = await this.exchange("query", query, "udp");
    if (isTruncated(answer)) answer = await this.exchange("query", query, "tcp");
    const rcode = rcodeOf(answer);
    if (rcode !== 0 && rcode !== 3) {
      throw new RouterError(
        `${this.serverLabel()} answered ${RCODES[rcode] ?? `RCODE ${rcode}`} to a query for ${this.recordLabel()}.`,
        `router.server must be a server that answers for zone ${this.config.zone} (its primary); REFUSED means it does not serve that zone or does not allow queries from this machine.`,
      );
    }
    return recordInAnswer(answer, recordName, recordType);
  }

  private async sendUpdate(slot: Slot): Promise<void> {
    const { zone, recordName, recordType, ttl } = this.config;
    const update = buildUpdate(newMessageId(), { zone, name: recordName, type: recordType, ttlSeconds: ttl / 1000, values: valuesOf(this.config.slots[slot]) });
    // TSIG's time is wall-clock time the server compares with its own, not a wait: Date.now(), not the Clock.
    const signed = this.key ? signMessage(update, this.key, Math.floor(Date.now() / 1000)) : undefined;
    // TCP: an UPDATE must not be lost or half-heard, and every server that takes updates speaks it.
    const answer = await this.exchange("update", signed?.signed ?? update, "tcp");
    const rcode = rcodeOf(answer);
    if (rcode !== 0) throw this.refusal(slot, rcode, splitTsig(answer)?.tsig.error ?? 0);
    if (this.key && signed) {
      const problem = verifyMessage(answer, this.key, signed.mac);
      if (problem) {
        throw new RouterError(
          `${this.serverLabel()} accepted the update of ${this.recordLabel()}, but its answer does not prove it came from a server holding key ${this.key.name}: ${problem}.`,
          "Something between Flip and the DNS server may be answering in its place; check router.server. The record may have changed: `flip status` shows what the server answers now.",
        );
      }
    }
  }

  private refusal(slot: Slot, rcode: number, tsigError: number): RouterError {
    const name = RCODES[rcode] ?? `RCODE ${rcode}`;
    const detail = tsigError === 0 ? name : `${name}, TSIG ${TSIG_ERRORS[tsigError] ?? tsigError}`;
    const what = `${this.serverLabel()} refused the update of ${this.recordLabel()} to ${slot}'s ${this.describeValues(slot)} (${detail})`;
    if (tsigError === 18) {
      return new RouterError(`${what}: the server's clock and this machine's differ by more than 5 minutes.`, "Sync both clocks (NTP); TSIG signatures carry the time they were made.");
    }
    if (rcode === 5 || rcode === 9) {
      return new RouterError(
        `The DNS server refused the update: check the TSIG key name/secret and allow-update. ${what}.`,
        `router.tsig in flip.yaml must name a key the server knows (BIND: \`key "${this.key?.name ?? "flip-key"}" { algorithm ${this.key?.algorithm ?? "hmac-sha256"}; secret "..."; };\`) with the same secret, and zone ${this.config.zone} must allow updates with it (\`allow-update { key "${this.key?.name ?? "flip-key"}"; };\` or an update-policy).`,
      );
    }
    if (rcode === 10) {
      return new RouterError(`${what}: ${this.config.recordName} is not in a zone that server is primary for.`, "Check router.zone and router.server in flip.yaml: the update goes to the zone's primary.");
    }
    return new RouterError(`${what}.`, `See the DNS server's log for why it refused; the record was not changed.`);
  }

  private async exchange(what: "query" | "update", message: Buffer, transport: "udp" | "tcp"): Promise<Buffer> {
    const server = this.config.server;
    try {
      return transport === "udp" ? await exchangeUdp(server, message, this.config.timeout) : await exchangeTcp(server, message, this.config.timeout);
    } catch (error) {
      if (!(error instanceof DnsTransportError)) throw error;
      const subject = what === "query" ? `a query for ${this.recordLabel()}` : `the update of ${this.recordLabel()}`;
      const reason = error.reason === "timeout" ? `no answer within ${formatDuration(this.config.timeout)}` : error.message;
      throw new RouterError(
        `Cannot reach the DNS server ${this.serverLabel()} (${transport.toUpperCase()}) for ${subject}: ${reason}.`,
        "Is the server running and listening on that address, for UDP and TCP? router.server in flip.yaml says where it is.",
        { cause: error },
      );
    }
  }
}

/** "192.0.2.10, 192.0.2.11 (TTL 60s)" or "no record". */
export function describeAnswer(answer: RecordAnswer | undefined): string {
  if (!answer) return "no record";
  return `${answer.values.join(", ")} (TTL ${answer.ttlSeconds}s)`;
}
