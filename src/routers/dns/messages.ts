// The two DNS messages the dns router sends, built with dns-packet, and what it reads from the
// answers. Pure: bytes in, bytes or values out (transport.ts moves them, tsig.ts signs them).
import { randomInt } from "node:crypto";
import * as dnsPacket from "dns-packet";
import { normalizeValue, type DnsRecordType } from "./config.js";

const OPCODE_UPDATE = 5;
/** What a DNS message's RCODE means, for the ones a query or an update can get back. */
export const RCODES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
};

/** A fresh message id: answers are matched to questions by it, so a guessable one invites spoofing. */
export function newMessageId(): number {
  return randomInt(0, 0x10000);
}

/** The record types Flip writes: a slot's address or name, or (caddy router) its SRV records. */
export type WrittenType = DnsRecordType | "SRV";

/** One SRV record's data (RFC 2782). */
export interface SrvValue {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** A whole RRset an UPDATE puts in place of what the name held for that type. */
export interface RrsetReplacement {
  name: string;
  type: WrittenType;
  ttlSeconds: number;
  /** Addresses or a host name for A/AAAA/CNAME, SrvValue for SRV; empty: the RRset is only deleted. */
  values: readonly (string | SrvValue)[];
}

const TYPE_CODES: Record<WrittenType, number> = { A: 1, CNAME: 5, AAAA: 28, SRV: 33 };

/** A non-recursive question for one record, with EDNS so answers up to 1232 bytes come over UDP. */
export function buildQuery(id: number, name: string, type: WrittenType): Buffer {
  return dnsPacket.encode({
    id,
    type: "query",
    flags: 0,
    questions: [{ name, type, class: "IN" }],
    additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer],
  });
}

/**
 * RFC 2136 UPDATE: zone section = the zone's SOA; no prerequisites; update section = for each
 * RRset, "delete the RRset" (class ANY, TTL 0, no data) then one "add" per value. Deleting first
 * makes it the same message whatever the records hold now, so sending it twice is harmless, and
 * the server applies the whole message or none of it.
 */
export function buildUpdate(id: number, zone: string, rrsets: readonly RrsetReplacement[]): Buffer {
  const authorities = rrsets.flatMap(({ name, type, ttlSeconds, values }) => [
    // dns-packet writes empty RDATA only for types it does not know: "UNKNOWN_<code>" is the same type number.
    { name, type: `UNKNOWN_${TYPE_CODES[type]}`, class: "ANY", ttl: 0, data: Buffer.alloc(0) } as unknown as dnsPacket.Answer,
    ...values.map((data) => ({ name, type, class: "IN", ttl: ttlSeconds, data }) as dnsPacket.Answer),
  ]);
  return dnsPacket.encode({ id, type: "query", flags: OPCODE_UPDATE << 11, questions: [{ name: zone, type: "SOA", class: "IN" }], authorities });
}

/** The RCODE in a message's header (the low four bits of the flags). */
export function rcodeOf(message: Buffer): number {
  return message.readUInt16BE(2) & 0x0f;
}

export function isTruncated(message: Buffer): boolean {
  return (message.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
}

export interface RecordAnswer {
  /** Normalized (normalizeValue), in the order the server gave them. */
  values: string[];
  ttlSeconds: number;
}

/** The record's values in an answer to buildQuery, or undefined when it has none (NXDOMAIN, NODATA). */
export function recordInAnswer(response: Buffer, name: string, type: DnsRecordType): RecordAnswer | undefined {
  const decoded = dnsPacket.decode(response);
  const wanted = name.toLowerCase().replace(/\.$/, "");
  const records = (decoded.answers ?? []).filter(
    (answer) => answer.type === type && answer.name.toLowerCase().replace(/\.$/, "") === wanted,
  ) as { data: unknown; ttl?: number }[];
  if (records.length === 0) return undefined;
  return {
    values: records.map((record) => normalizeValue(type, String(record.data))),
    ttlSeconds: Math.min(...records.map((record) => record.ttl ?? 0)),
  };
}

/** The SRV records of `name` in an answer, targets lowercase without the final dot; [] when none. */
export function srvInAnswer(response: Buffer, name: string): SrvValue[] {
  const wanted = name.toLowerCase().replace(/\.$/, "");
  return (dnsPacket.decode(response).answers ?? [])
    .filter((answer) => answer.type === "SRV" && answer.name.toLowerCase().replace(/\.$/, "") === wanted)
    .map((answer) => {
      const data = (answer as dnsPacket.SrvAnswer).data;
      return { priority: data.priority ?? 0, weight: data.weight ?? 0, port: data.port, target: data.target.toLowerCase().replace(/\.$/, "") };
    });
}
