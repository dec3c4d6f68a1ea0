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

/** A non-recursive question for one record, with EDNS so answers up to 1232 bytes come over UDP. */
export function buildQuery(id: number, name: string, type: DnsRecordType): Buffer {
  return dnsPacket.encode({
    id,
    type: "query",
    flags: 0,
    questions: [{ name, type, class: "IN" }],
    additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer],
  });
}

/**
 * RFC 2136 UPDATE: zone section = the zone's SOA; no prerequisites; update section = "delete the
 * RRset" (class ANY, TTL 0, no data) then one "add" per value. Deleting first makes it the same
 * message whatever the record holds now, so sending it twice is harmless.
 */
export function buildUpdate(id: number, options: { zone: string; name: string; type: DnsRecordType; ttlSeconds: number; values: readonly string[] }): Buffer {
  const { zone, name, type, ttlSeconds, values } = options;
  const typeCode = { A: 1, CNAME: 5, AAAA: 28 }[type];
  // dns-packet writes empty RDATA only for types it does not know: "UNKNOWN_<code>" is the same type number.
  const deleteRrset = { name, type: `UNKNOWN_${typeCode}`, class: "ANY", ttl: 0, data: Buffer.alloc(0) } as unknown as dnsPacket.Answer;
  const adds = values.map((value) => ({ name, type, class: "IN", ttl: ttlSeconds, data: value }) as dnsPacket.Answer);
  return dnsPacket.encode({
    id,
    type: "query",
    flags: OPCODE_UPDATE << 11,
    questions: [{ name: zone, type: "SOA", class: "IN" }],
    authorities: [deleteRrset, ...adds],
  });
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
