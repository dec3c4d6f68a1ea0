// TSIG against BIND's own bytes: an UPDATE signed by nsupdate and named's signed answer to it,
// captured on the wire (relayed over UDP on 127.0.0.1) with the key below; then signing round trips.
import { describe, expect, it } from "vitest";
import { nameToWire, signMessage, splitTsig, verifyMessage, type TsigKey } from "./tsig.js";

const KEY: TsigKey = { name: "flip-key", algorithm: "hmac-sha256", secret: Buffer.from("c2VjcmV0LWtleS1mb3ItZmxpcC10ZXN0cy0zMmJ5dGVz", "base64") };

// `nsupdate -y hmac-sha256:flip-key:<secret>` sending: zone example.test / update delete
// shop.example.test A / update add shop.example.test 60 A 192.0.2.10 (names compressed, as BIND does).
const NSUPDATE_REQUEST = Buffer.from(
  "7c9b28000001000000020001076578616d706c65047465737400000600010473686f70c00c000100ff000000000000c01e000100010000003c0004c000020a" +
    "08666c69702d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b09efd1012c0020b8a620b8266276df8f64edbc6f6a08e228161c08" +
    "7139fbe46676ae46dba12d3e7c9b00000000",
  "hex",
);
// named 9.18's NOERROR answer, signed with the same key and chained to the request's MAC.
const NAMED_RESPONSE = Buffer.from(
  "7c9ba8000001000000000001076578616d706c650474657374000006000108666c69702d6b65790000fa00ff00000000003d0b686d61632d736861323536" +
    "0000006b09efd1012c0020d23c91df67471768a329c321a706d4317b41b1742a77cb4768e40e4c92fcafcb7c9b00000000",
  "hex",
);

describe("TSIG", () => {
  it("reads the TSIG record nsupdate wrote", () => {
    const split = splitTsig(NSUPDATE_REQUEST);
    expect(split?.tsig).toMatchObject({ keyName: "flip-key", algorithm: "hmac-sha256", timeSigned: 0x6b09efd1, fudge: 300, originalId: 0x7c9b, error: 0 });
    expect(split?.tsig.mac).toHaveLength(32);
    expect(split?.unsigned.readUInt16BE(10)).toBe(0);
    expect(split?.unsigned.length).toBe(NSUPDATE_REQUEST.indexOf(Buffer.from("08666c69702d6b6579", "hex")));
  });

  it("computes the same MAC as BIND for a request, and for named's answer chained to it", () => {
    expect(verifyMessage(NSUPDATE_REQUEST, KEY)).toBeUndefined();
    const requestMac = splitTsig(NSUPDATE_REQUEST)?.tsig.mac;
    expect(verifyMessage(NAMED_RESPONSE, KEY, requestMac)).toBeUndefined();
  });

  it("rejects another secret, a changed byte, an answer to another request, and an unsigned message", () => {
    expect(verifyMessage(NSUPDATE_REQUEST, { ...KEY, secret: Buffer.from("another secret") })).toMatch(/MAC does not match/);
    const changed = Buffer.from(NSUPDATE_REQUEST);
    changed[60] = 11; // 192.0.2.10 → 192.0.2.11
    expect(verifyMessage(changed, KEY)).toMatch(/MAC does not match/);
    expect(verifyMessage(NAMED_RESPONSE, KEY, Buffer.alloc(32))).toMatch(/MAC does not match/);
    const unsigned = splitTsig(NSUPDATE_REQUEST)?.unsigned as Buffer;
    expect(verifyMessage(unsigned, KEY)).toBe("the message carries no TSIG signature");
    expect(verifyMessage(NSUPDATE_REQUEST, { ...KEY, name: "other-key" })).toBe('the message is signed with key "flip-key", not "other-key"');
  });

  it("signs so that the signature reproduces BIND's, byte for byte, given the same message and time", () => {
    const split = splitTsig(NSUPDATE_REQUEST);
    if (!split) throw new Error("expected a TSIG record");
    const { signed, mac } = signMessage(split.unsigned, KEY, split.tsig.timeSigned);
    expect(mac).toEqual(split.tsig.mac);
    expect(signed.toString("hex")).toBe(NSUPDATE_REQUEST.toString("hex"));
  });

  it("signs with each algorithm in a way its own verification accepts", () => {
    const unsigned = splitTsig(NSUPDATE_REQUEST)?.unsigned as Buffer;
    for (const algorithm of ["hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5"] as const) {
      const key = { ...KEY, algorithm };
      const { signed } = signMessage(unsigned, key, 1_700_000_000);
      expect(verifyMessage(signed, key)).toBeUndefined();
      const other = algorithm === "hmac-sha1" ? "hmac-sha256" : "hmac-sha1";
      expect(verifyMessage(signed, { ...key, algorithm: other })).toMatch(new RegExp(`signed with ${algorithm}.*not ${other}`));
    }
  });

  it("writes names in canonical form: lowercase, no final dot, no compression", () => {
    expect(nameToWire("Flip-Key.").toString("hex")).toBe("08666c69702d6b657900");
    expect(nameToWire("hmac-md5.sig-alg.reg.int").toString("ascii", 1, 9)).toBe("hmac-md5");
  });
});
