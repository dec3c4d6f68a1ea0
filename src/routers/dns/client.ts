// Talks to one DNS server about one zone: asks it for records, and sends it TSIG-signed RFC 2136
// UPDATEs. Shared by the dns router (one A/AAAA/CNAME record) and the caddy router's SRV mode
// (Caddy's dynamic upstreams). Every failure becomes a RouterError that names the flip.yaml keys
// (under `configPath`) to check; a refused update changes nothing on the server.
import { formatDuration } from "../../core/duration.js";
import { RouterError } from "../../core/errors.js";
import { buildQuery, buildUpdate, isTruncated, newMessageId, RCODES, rcodeOf, type RrsetReplacement, type WrittenType } from "./messages.js";
import { DnsTransportError, exchangeTcp, exchangeUdp, type DnsServer } from "./transport.js";
import { signMessage, splitTsig, TSIG_ERRORS, verifyMessage, type TsigKey } from "./tsig.js";

export interface DnsClientOptions {
  server: DnsServer;
  zone: string;
  tsig?: { name: string; algorithm: TsigKey["algorithm"]; secret: string } | undefined;
  /** How long one message may take to be answered. */
  timeoutMs: number;
  /** Where these settings live in flip.yaml, for error messages: "router" or "router.srv". */
  configPath: string;
}

export class DnsClient {
  readonly key: TsigKey | undefined;

  constructor(private readonly options: DnsClientOptions) {
    const tsig = options.tsig;
    this.key = tsig && { name: tsig.name, algorithm: tsig.algorithm, secret: Buffer.from(tsig.secret, "base64") };
  }

  /** "127.0.0.1:53", "[::1]:5353". */
  get serverLabel(): string {
    const { host, port } = this.options.server;
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /** "signed with TSIG key flip-key, hmac-sha256" or why it is not. */
  describeSigning(): string {
    return this.key ? `signed with TSIG key ${this.key.name}, ${this.key.algorithm}` : `unsigned: no ${this.options.configPath}.tsig`;
  }

  /** The server's whole answer to a question for `name`/`type` (UDP, then TCP when it did not fit). */
  async query(name: string, type: WrittenType): Promise<Buffer> {
    const label = `record ${name} ${type}`;
    const query = buildQuery(newMessageId(), name, type);
    let answer = await this.exchange(`a query for ${label}`, query, "udp");
    if (isTruncated(answer)) answer = await this.exchange(`a query for ${label}`, query, "tcp");
    const rcode = rcodeOf(answer);
    if (rcode !== 0 && rcode !== 3) {
      throw new RouterError(
        `${this.serverLabel} answered ${RCODES[rcode] ?? `RCODE ${rcode}`} to a query for ${label}.`,
        `${this.options.configPath}.server must be a server that answers for zone ${this.options.zone} (its primary); REFUSED means it does not serve that zone or does not allow queries from this machine.`,
      );
    }
    return answer;
  }

  /**
   * One UPDATE replacing `rrsets`, all or nothing. `subject` says what it does, for errors
   * ("the update of record shop.example.com A to green's 198.51.100.20").
   */
  async update(rrsets: readonly RrsetReplacement[], subject: string): Promise<void> {
    const update = buildUpdate(newMessageId(), this.options.zone, rrsets);
    // TSIG's time is wall-clock time the server compares with its own, not a wait: Date.now(), not the Clock.
    const signed = this.key ? signMessage(update, this.key, Math.floor(Date.now() / 1000)) : undefined;
    // TCP: an UPDATE must not be lost or half-heard, and every server that takes updates speaks it.
    const answer = await this.exchange(subject, signed?.signed ?? update, "tcp");
    const rcode = rcodeOf(answer);
    if (rcode !== 0) throw this.refusal(subject, rcode, splitTsig(answer)?.tsig.error ?? 0);
    if (this.key && signed) {
      const problem = verifyMessage(answer, this.key, signed.mac);
      if (problem) {
        throw new RouterError(
          `${this.serverLabel} accepted ${subject}, but its answer does not prove it came from a server holding key ${this.key.name}: ${problem}.`,
          `Something between Flip and the DNS server may be answering in its place; check ${this.options.configPath}.server. The records may have changed: \`flip status\` shows what the server answers now.`,
        );
      }
    }
  }

  private refusal(subject: string, rcode: number, tsigError: number): RouterError {
    const { configPath, zone } = this.options;
    const name = RCODES[rcode] ?? `RCODE ${rcode}`;
    const detail = tsigError === 0 ? name : `${name}, TSIG ${TSIG_ERRORS[tsigError] ?? tsigError}`;
    const what = `${this.serverLabel} refused ${subject} (${detail})`;
    if (tsigError === 18) {
      return new RouterError(`${what}: the server's clock and this machine's differ by more than 5 minutes.`, "Sync both clocks (NTP); TSIG signatures carry the time they were made.");
    }
    if (rcode === 5 || rcode === 9) {
      const keyName = this.key?.name ?? "flip-key";
      return new RouterError(
        `The DNS server refused the update: check the TSIG key name/secret and allow-update. ${what}.`,
        `${configPath}.tsig in flip.yaml must name a key the server knows (BIND: \`key "${keyName}" { algorithm ${this.key?.algorithm ?? "hmac-sha256"}; secret "..."; };\`) with the same secret, and zone ${zone} must allow updates with it (\`allow-update { key "${keyName}"; };\` or an update-policy).`,
      );
    }
    if (rcode === 10) {
      return new RouterError(`${what}: the name is not in a zone that server is primary for.`, `Check ${configPath}.zone and ${configPath}.server in flip.yaml: the update goes to the zone's primary.`);
    }
    return new RouterError(`${what}.`, "See the DNS server's log for why it refused; nothing was changed.");
  }

  private async exchange(subject: string, message: Buffer, transport: "udp" | "tcp"): Promise<Buffer> {
    const { server, timeoutMs, configPath } = this.options;
    try {
      return transport === "udp" ? await exchangeUdp(server, message, timeoutMs) : await exchangeTcp(server, message, timeoutMs);
    } catch (error) {
      if (!(error instanceof DnsTransportError)) throw error;
      const reason = error.reason === "timeout" ? `no answer within ${formatDuration(timeoutMs)}` : error.message;
      throw new RouterError(
        `Cannot reach the DNS server ${this.serverLabel} (${transport.toUpperCase()}) for ${subject}: ${reason}.`,
        `Is the server running and listening on that address, for UDP and TCP? ${configPath}.server in flip.yaml says where it is.`,
        { cause: error },
      );
    }
  }
}
