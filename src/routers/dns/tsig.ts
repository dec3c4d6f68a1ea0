// TSIG (RFC 8945): how a DNS server knows an UPDATE comes from someone holding the shared key. The
// sender appends one last additional record carrying an HMAC over the message and a few "TSIG
// variables"; the server signs its answer the same way, chained to the request's MAC. Everything
// here works on wire-format bytes, so it signs and checks messages built by anyone (dns-packet,
// BIND's nsupdate) without re-encoding them.
import { createHmac, timingSafeEqual } from "node:crypto";

/** Algorithm names as written in named.conf, and as they go on the wire. */
export const TSIG_ALGORITHMS = {
  "hmac-sha256": { wireName: "hmac-sha256", hash: "sha256" },
  "hmac-sha512": { wireName: "hmac-sha512", hash: "sha512" },
  "hmac-sha384": { wireName: "hmac-sha384", hash: "sha384" },
  "hmac-sha224": { wireName: "hmac-sha224", hash: "sha224" },
  "hmac-sha1": { wireName: "hmac-sha1", hash: "sha1" },
  "hmac-md5": { wireName: "hmac-md5.sig-alg.reg.int", hash: "md5" },
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  /** The key's name, as in named.conf's `key "flip-key" { ... }`. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** The TSIG record's fields (RDATA), plus the key name it is owned by. */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch. */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  /** 0, or BADSIG (16), BADKEY (17), BADTIME (18), BADTRUNC (22). */
  error: number;
  other: Buffer;
}

/** How far apart the two clocks may be, in seconds; BIND and nsupdate use the RFC's 300. */
export const FUDGE_SECONDS = 300;
const TYPE_TSIG = 250;
const CLASS_ANY = 255;

export const TSIG_ERRORS: Record<number, string> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };

/**
 * Signs `message` (wire format, no TSIG yet): returns it with the TSIG record appended (ARCOUNT
 * counts it) and the MAC, which the server's signed answer covers. `timeSigned` is wall-clock
 * seconds: the server rejects a time more than the fudge away from its own.
 */
export function signMessage(message: Buffer, key: TsigKey, timeSigned: number): { signed: Buffer; mac: Buffer } {
  const fields = { keyName: key.name, algorithm: TSIG_ALGORITHMS[key.algorithm].wireName, timeSigned, fudge: FUDGE_SECONDS, originalId: message.readUInt16BE(0), error: 0, other: Buffer.alloc(0) };
  const mac = computeMac(key, message, fields);
  const signed = Buffer.concat([message, encodeTsigRecord({ ...fields, mac })]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** Splits a message into its TSIG record and the message as it was before signing; undefined when it has none. */
export function splitTsig(message: Buffer): { unsigned: Buffer; tsig: TsigRecord } | undefined {
  const additionals = message.readUInt16BE(10);
  if (additionals === 0) return undefined;
  let offset = 12;
  for (let i = 0; i < message.readUInt16BE(4); i++) offset = skipName(message, offset) + 4;
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + additionals;
  let lastStart = offset;
  for (let i = 0; i < records; i++) {
    lastStart = offset;
    offset = recordEnd(message, offset);
  }
  const rdataStart = skipName(message, lastStart) + 10;
  if (message.readUInt16BE(rdataStart - 10) !== TYPE_TSIG) return undefined;
  const tsig = decodeTsigRdata(message, rdataStart, readName(message, lastStart));
  const unsigned = Buffer.from(message.subarray(0, lastStart));
  unsigned.writeUInt16BE(additionals - 1, 10);
  unsigned.writeUInt16BE(tsig.originalId, 0);
  return { unsigned, tsig };
}

/**
 * Checks a signed message: a request (no `requestMac`), or an answer to a request whose MAC was
 * `requestMac`. A description of what is wrong, or undefined when the MAC is right.
 */
export function verifyMessage(message: Buffer, key: TsigKey, requestMac?: Buffer): string | undefined {
  const split = splitTsig(message);
  if (!split) return "the message carries no TSIG signature";
  const { tsig, unsigned } = split;
  if (canonicalName(tsig.keyName) !== canonicalName(key.name)) return `the message is signed with key "${tsig.keyName}", not "${key.name}"`;
  const algorithm = TSIG_ALGORITHMS[key.algorithm].wireName;
  if (canonicalName(tsig.algorithm) !== algorithm) return `the message is signed with ${tsig.algorithm}, not ${key.algorithm}`;
  if (tsig.error !== 0) return `the server reports TSIG error ${TSIG_ERRORS[tsig.error] ?? tsig.error}`;
  const expected = computeMac(key, unsigned, tsig, requestMac);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return "the TSIG MAC does not match (another secret, or the message was changed)";
  return undefined;
}

/** RFC 8945 §4.3.3: HMAC over [request MAC], the unsigned message and the TSIG variables. */
function computeMac(key: TsigKey, unsigned: Buffer, fields: Omit<TsigRecord, "mac">, requestMac?: Buffer): Buffer {
  const hmac = createHmac(TSIG_ALGORITHMS[key.algorithm].hash, key.secret);
  if (requestMac) hmac.update(Buffer.concat([uint16(requestMac.length), requestMac]));
  hmac.update(unsigned);
  hmac.update(
    Buffer.concat([
      nameToWire(fields.keyName),
      uint16(CLASS_ANY),
      Buffer.alloc(4), // TTL 0
      nameToWire(fields.algorithm),
      uint48(fields.timeSigned),
      uint16(fields.fudge),
      uint16(fields.error),
      uint16(fields.other.length),
      fields.other,
    ]),
  );
  return hmac.digest();
}

function encodeTsigRecord(record: TsigRecord): Buffer {
  const rdata = Buffer.concat([
    nameToWire(record.algorithm),
    uint48(record.timeSigned),
    uint16(record.fudge),
    uint16(record.mac.length),
    record.mac,
    uint16(record.originalId),
    uint16(record.error),
    uint16(record.other.length),
    record.other,
  ]);
  return Buffer.concat([nameToWire(record.keyName), uint16(TYPE_TSIG), uint16(CLASS_ANY), Buffer.alloc(4), uint16(rdata.length), rdata]);
}

function decodeTsigRdata(message: Buffer, start: number, keyName: string): TsigRecord {
  const algorithm = readName(message, start);
  let offset = skipName(message, start);
  const timeSigned = message.readUInt16BE(offset) * 2 ** 32 + message.readUInt32BE(offset + 2);
  const fudge = message.readUInt16BE(offset + 6);
  const macSize = message.readUInt16BE(offset + 8);
  offset += 10;
  const mac = Buffer.from(message.subarray(offset, offset + macSize));
  offset += macSize;
  const otherLength = message.readUInt16BE(offset + 4);
  return {
    keyName,
    algorithm,
    timeSigned,
    fudge,
    mac,
    originalId: message.readUInt16BE(offset),
    error: message.readUInt16BE(offset + 2),
    other: Buffer.from(message.subarray(offset + 6, offset + 6 + otherLength)),
  };
}

/** Canonical wire form (RFC 4034 §6.2): lowercase labels, no compression. */
export function nameToWire(name: string): Buffer {
  const labels = canonicalName(name).split(".").filter((label) => label.length > 0);
  return Buffer.concat([...labels.flatMap((label) => [Buffer.from([label.length]), Buffer.from(label, "ascii")]), Buffer.from([0])]);
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** The offset just past a (possibly compressed) name. */
function skipName(message: Buffer, offset: number): number {
  for (;;) {
    const length = message.readUInt8(offset);
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) return offset + 2;
    offset += length + 1;
  }
}

/** A name read through compression pointers, without the final dot. */
function readName(message: Buffer, offset: number): string {
  const labels: string[] = [];
  for (let jumps = 0; jumps < 64; jumps++) {
    const length = message.readUInt8(offset);
    if (length === 0) return labels.join(".");
    if ((length & 0xc0) === 0xc0) {
      offset = message.readUInt16BE(offset) & 0x3fff;
      continue;
    }
    labels.push(message.toString("ascii", offset + 1, offset + 1 + length));
    offset += length + 1;
  }
  throw new Error("malformed DNS name (too many compression pointers)");
}

function recordEnd(message: Buffer, offset: number): number {
  const afterName = skipName(message, offset);
  return afterName + 10 + message.readUInt16BE(afterName + 8);
}

function uint16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function uint48(value: number): Buffer {
  const buffer = Buffer.alloc(6);
  buffer.writeUInt16BE(Math.floor(value / 2 ** 32));
  buffer.writeUInt32BE(value % 2 ** 32, 2);
  return buffer;
}
